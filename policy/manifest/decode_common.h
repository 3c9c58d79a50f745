#pragma once
// Format-neutral decoding helpers shared by every kind. `N` is a document
// adapter (YamlNode or JsonNode) providing kind(), line(), str(), integer(),
// boolean(), get(key), forEachMember(f) and forEachElement(f).
#include <optional>
#include <string>
#include <string_view>

#include "policy/manifest/decode_context.h"
#include "policy/manifest/node_kind.h"
#include "policy/manifest/validate.h"
#include "policy/model/objects.h"

namespace palisade::policy::manifest {

template <class N>
concept DocumentNode = requires(const N& n, std::string_view key) {
  { n.kind() } -> std::same_as<NodeKind>;
  { n.line() } -> std::convertible_to<int>;
  { n.str() } -> std::convertible_to<std::string_view>;
  { n.integer() } -> std::convertible_to<int64_t>;
  { n.boolean() } -> std::convertible_to<bool>;
  { n.get(key) } -> std::same_as<std::optional<N>>;
};

/// A scalar read from a field, with the line to blame for later semantic errors.
template <class T>
struct Scalar {
  T value;
  int line;
};

enum class Need : uint8_t { Optional, Required };

template <DocumentNode N>
bool expectKind(const N& n, NodeKind want, const FieldPath& path, DecodeContext& ctx) {
  if (n.kind() == want) return true;
  ctx.error(n.line(), path,
            std::string("expected ") + describe(want) + ", got " + describe(n.kind()));
  return false;
}

/// The string at obj[key]; nullopt when absent (error if Required) or mistyped (error).
template <DocumentNode N>
std::optional<Scalar<std::string_view>> stringField(const N& obj, const FieldPath& path,
                                                    std::string_view key, DecodeContext& ctx,
                                                    Need need = Need::Optional) {
  auto v = obj.get(key);
  const FieldPath p = path.child(key);
  if (!v || (need == Need::Required && v->kind() == NodeKind::String && v->str().empty())) {
    if (need == Need::Required) ctx.error(v ? v->line() : obj.line(), p, "required value");
    return std::nullopt;
  }
  if (!expectKind(*v, NodeKind::String, p, ctx)) return std::nullopt;
  return Scalar<std::string_view>{v->str(), v->line()};
}

template <DocumentNode N>
std::optional<Scalar<int64_t>> intField(const N& obj, const FieldPath& path, std::string_view key,
                                        DecodeContext& ctx, Need need = Need::Optional) {
  auto v = obj.get(key);
  const FieldPath p = path.child(key);
  if (!v) {
    if (need == Need::Required) ctx.error(obj.line(), p, "required value");
    return std::nullopt;
  }
  if (!expectKind(*v, NodeKind::Int, p, ctx)) return std::nullopt;
  return Scalar<int64_t>{v->integer(), v->line()};
}

template <DocumentNode N>
std::optional<bool> boolField(const N& obj, const FieldPath& path, std::string_view key,
                              DecodeContext& ctx) {
  auto v = obj.get(key);
  if (!v) return std::nullopt;
  if (!expectKind(*v, NodeKind::Bool, path.child(key), ctx)) return std::nullopt;
  return v->boolean();
}

/// f(const N& value, const FieldPath& path) when obj[key] is present and a mapping.
template <DocumentNode N, class F>
void mapField(const N& obj, const FieldPath& path, std::string_view key, DecodeContext& ctx,
              F&& f) {
  auto v = obj.get(key);
  if (!v) return;
  const FieldPath p = path.child(key);
  if (expectKind(*v, NodeKind::Map, p, ctx)) f(*v, p);
}

/// f(const N& element, const FieldPath& path) for each element of list obj[key].
template <DocumentNode N, class F>
void listField(const N& obj, const FieldPath& path, std::string_view key, DecodeContext& ctx,
               F&& f) {
  auto v = obj.get(key);
  if (!v) return;
  const FieldPath p = path.child(key);
  if (!expectKind(*v, NodeKind::Seq, p, ctx)) return;
  v->forEachElement([&](size_t i, const N& e) {
    const FieldPath ep = p.at(i);
    f(e, ep);
  });
}

/// Same as listField, but only mapping elements reach f (others are errors).
template <DocumentNode N, class F>
void listOfMaps(const N& obj, const FieldPath& path, std::string_view key, DecodeContext& ctx,
                F&& f) {
  listField(obj, path, key, ctx, [&](const N& e, const FieldPath& ep) {
    if (expectKind(e, NodeKind::Map, ep, ctx)) f(e, ep);
  });
}

/// A list of strings; mistyped elements are errors and skipped.
template <DocumentNode N, class F>
void stringList(const N& obj, const FieldPath& path, std::string_view key, DecodeContext& ctx,
                F&& f) {
  listField(obj, path, key, ctx, [&](const N& e, const FieldPath& ep) {
    if (expectKind(e, NodeKind::String, ep, ctx)) f(e.str(), e.line(), ep);
  });
}

std::optional<Protocol> checkProtocol(std::string_view text, int line, const FieldPath& path,
                                      DecodeContext& ctx);
/// Range 1..65535, else an error at `path`.
bool checkPortNumber(int64_t port, int line, const FieldPath& path, DecodeContext& ctx);

/// `protocol` of obj, defaulted to TCP; nullopt only when invalid (error recorded).
template <DocumentNode N>
std::optional<Protocol> protocolField(const N& obj, const FieldPath& path, DecodeContext& ctx) {
  auto v = obj.get("protocol");
  if (!v) return Protocol::TCP;
  const FieldPath p = path.child("protocol");
  if (!expectKind(*v, NodeKind::String, p, ctx)) return std::nullopt;
  return checkProtocol(v->str(), v->line(), p, ctx);
}

/// intstr.IntOrString holding a port: a number in 1..65535 or an IANA_SVC_NAME.
template <DocumentNode N>
std::optional<PortRef> portRef(const N& v, const FieldPath& path, DecodeContext& ctx) {
  if (v.kind() == NodeKind::Int) {
    if (!checkPortNumber(v.integer(), v.line(), path, ctx)) return std::nullopt;
    return PortRef{static_cast<int32_t>(v.integer())};
  }
  if (v.kind() == NodeKind::String) {
    if (!isIanaSvcName(v.str())) {
      ctx.error(v.line(), path,
                "invalid named port " + quote(v.str()) +
                    ": must be an IANA_SVC_NAME (at most 15 lowercase letters, digits or '-', "
                    "with at least one letter, no leading, trailing or double '-')");
      return std::nullopt;
    }
    return PortRef{std::string(v.str())};
  }
  ctx.error(v.line(), path,
            std::string("expected a port number or name, got ") + describe(v.kind()));
  return std::nullopt;
}

/// map[string]string with label syntax (metadata.labels, matchLabels, Service selector).
template <DocumentNode N>
void decodeLabelMap(const N& m, const FieldPath& path, DecodeContext& ctx, LabelMap& out) {
  if (!expectKind(m, NodeKind::Map, path, ctx)) return;
  m.forEachMember([&](std::string_view key, const N& v) {
    std::string why = checkLabelKey(key);
    if (!why.empty()) ctx.error(v.line(), path, "invalid label key " + quote(key) + ": " + why);
    std::string_view value;
    if (v.kind() == NodeKind::String) {
      value = v.str();
    } else if (v.kind() != NodeKind::Null) {  // null reads as "" as in the API's JSON decoding
      ctx.error(v.line(), path,
                "label " + quote(key) + ": expected a string, got " + describe(v.kind()));
      return;
    }
    why = checkLabelValue(value);
    if (!why.empty()) {
      ctx.error(v.line(), path, "invalid label value " + quote(value) + ": " + why);
    }
    out.emplace(key, value);
  });
}

/// metav1.LabelSelector.
template <DocumentNode N>
void decodeSelector(const N& n, const FieldPath& path, DecodeContext& ctx, LabelSelector& out) {
  if (!expectKind(n, NodeKind::Map, path, ctx)) return;
  if (auto ml = n.get("matchLabels")) {
    decodeLabelMap(*ml, path.child("matchLabels"), ctx, out.match_labels);
  }
  listOfMaps(n, path, "matchExpressions", ctx, [&](const N& e, const FieldPath& ep) {
    LabelSelectorRequirement req;
    if (auto key = stringField(e, ep, "key", ctx, Need::Required)) {
      req.key = key->value;
      const std::string why = checkLabelKey(key->value);
      if (!why.empty()) {
        ctx.error(key->line, ep.child("key"),
                  "invalid label key " + quote(key->value) + ": " + why);
      }
    }
    bool op_ok = false;
    std::string_view op_text;
    if (auto op = stringField(e, ep, "operator", ctx, Need::Required)) {
      op_text = op->value;
      op_ok = true;
      if (op_text == "In")
        req.op = SelectorOperator::In;
      else if (op_text == "NotIn")
        req.op = SelectorOperator::NotIn;
      else if (op_text == "Exists")
        req.op = SelectorOperator::Exists;
      else if (op_text == "DoesNotExist")
        req.op = SelectorOperator::DoesNotExist;
      else {
        op_ok = false;
        ctx.error(
            op->line, ep.child("operator"),
            "invalid operator " + quote(op_text) + ": must be In, NotIn, Exists or DoesNotExist");
      }
    }
    stringList(e, ep, "values", ctx, [&](std::string_view v, int line, const FieldPath& vp) {
      const std::string why = checkLabelValue(v);
      if (!why.empty()) ctx.error(line, vp, "invalid label value " + quote(v) + ": " + why);
      req.values.emplace_back(v);
    });
    if (op_ok) {
      const bool needs_values = req.op == SelectorOperator::In || req.op == SelectorOperator::NotIn;
      const auto values = e.get("values");
      const int line = values ? values->line() : e.line();
      if (needs_values && req.values.empty()) {
        ctx.error(line, ep.child("values"),
                  "must be non-empty when operator is " + std::string(op_text));
      } else if (!needs_values && !req.values.empty()) {
        ctx.error(line, ep.child("values"),
                  "must be empty when operator is " + std::string(op_text));
      }
    }
    out.match_expressions.push_back(std::move(req));
  });
}

enum class Scope : uint8_t { Namespaced, Cluster };
enum class NameRule : uint8_t { Dns1123Label, Dns1123Subdomain, Dns1035Label };

bool checkName(std::string_view name, NameRule rule, int line, const FieldPath& path,
               DecodeContext& ctx);

/// ObjectMeta with the API server's defaulting (namespace "default" when namespaced).
/// Names the object in `ctx` as soon as namespace and name are known.
template <DocumentNode N>
void decodeMeta(const N& root, Scope scope, NameRule rule, DecodeContext& ctx, ObjectMeta& meta) {
  meta.location = ctx.location();
  const FieldPath mp = FieldPath::root("metadata");
  auto md = root.get("metadata");
  if (!md) {
    ctx.error(root.line(), mp.child("name"), "required value");
    return;
  }
  if (!expectKind(*md, NodeKind::Map, mp, ctx)) return;
  auto name = stringField(*md, mp, "name", ctx);
  auto ns = stringField(*md, mp, "namespace", ctx);
  if (name) meta.name = name->value;
  if (scope == Scope::Namespaced) {
    meta.namespace_ = ns && !ns->value.empty() ? ns->value : "default";
  }
  ctx.setObject(meta.namespace_, meta.name);
  if (meta.name.empty()) {
    if (!md->get("name") || name)
      ctx.error(name ? name->line : md->line(), mp.child("name"), "required value");
  } else {
    checkName(meta.name, rule, name->line, mp.child("name"), ctx);
  }
  if (scope == Scope::Namespaced && ns && !ns->value.empty()) {
    checkName(ns->value, NameRule::Dns1123Label, ns->line, mp.child("namespace"), ctx);
  }
  if (auto labels = md->get("labels"))
    decodeLabelMap(*labels, mp.child("labels"), ctx, meta.labels);
  if (auto rv = stringField(*md, mp, "resourceVersion", ctx)) meta.resource_version = rv->value;
  if (auto uid = stringField(*md, mp, "uid", ctx)) meta.uid = uid->value;
}

/// An IP address string; error at `path` when invalid.
std::optional<IpAddress> checkIp(std::string_view text, int line, const FieldPath& path,
                                 DecodeContext& ctx);

}  // namespace palisade::policy::manifest
