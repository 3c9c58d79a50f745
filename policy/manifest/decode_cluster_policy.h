#pragma once
// The cluster tiers: policy.networking.k8s.io/v1alpha2 ClusterNetworkPolicy
// and the v1alpha1 AdminNetworkPolicy / BaselineAdminNetworkPolicy, decoded
// and validated as their CRDs do (OpenAPI bounds and the CEL rules of
// kubernetes-sigs/network-policy-api config/crd/{standard,experimental}),
// mapped onto one model (policy/model/cluster_policy.h).
#include <algorithm>
#include <string_view>

#include "policy/manifest/decode_common.h"
#include "policy/model/cluster_policy.h"

namespace palisade::policy::manifest {

/// The CRDs' list bounds: v1alpha2 allows 25 rules per direction, peers per
/// rule and protocols per rule; v1alpha1 100. networks and domainNames: 25.
struct ClusterPolicyLimits {
  size_t rules;
  size_t peers;
  size_t ports;
};
constexpr ClusterPolicyLimits kClusterPolicyLimits{25, 25, 25};
constexpr ClusterPolicyLimits kAdminPolicyLimits{100, 100, 100};
constexpr size_t kMaxNetworks = 25;
constexpr size_t kMaxDomainNames = 25;
constexpr size_t kMaxRuleName = 100;

/// The CRD's DomainName pattern: an optional "*." then two or more labels.
bool validDomainName(std::string_view name);

/// How one of the three kinds differs.
struct ClusterPolicyDialect {
  ClusterPolicyKind kind;
  ClusterPolicyLimits limits;
  bool has_tier;                   // v1alpha2: spec.tier
  bool namespace_selector_needed;  // v1alpha1 `pods` needs both selectors
  bool has_pass;                   // BANP has no Pass
  bool has_priority;               // BANP has none
};

template <DocumentNode N>
size_t countedList(const N& obj, const FieldPath& path, std::string_view key, size_t max,
                   DecodeContext& ctx) {
  auto v = obj.get(key);
  if (!v || v->kind() != NodeKind::Seq) return 0;
  size_t n = 0;
  v->forEachElement([&](size_t, const N&) { ++n; });
  if (n > max)
    ctx.error(v->line(), path.child(key),
              "too many: " + std::to_string(n) + ", at most " + std::to_string(max));
  return n;
}

template <DocumentNode N>
void decodeNamespacedPods(const N& n, const FieldPath& path, const ClusterPolicyDialect& d,
                          DecodeContext& ctx, NamespacedPodSelector& out) {
  if (auto ns = n.get("namespaceSelector"))
    decodeSelector(*ns, path.child("namespaceSelector"), ctx, out.namespace_selector);
  else if (d.namespace_selector_needed)
    ctx.error(n.line(), path.child("namespaceSelector"), "required value");
  if (auto pod = n.get("podSelector"))
    decodeSelector(*pod, path.child("podSelector"), ctx, out.pod_selector);
  else
    ctx.error(n.line(), path.child("podSelector"), "required value");
}

template <DocumentNode N>
void decodeSubject(const N& spec, const FieldPath& sp, const ClusterPolicyDialect& d,
                   DecodeContext& ctx, ClusterPolicySubject& out) {
  const FieldPath p = sp.child("subject");
  auto subject = spec.get("subject");
  if (!subject) {
    ctx.error(spec.line(), p, "required value");
    return;
  }
  if (!expectKind(*subject, NodeKind::Map, p, ctx)) return;
  auto ns = subject->get("namespaces");
  auto pods = subject->get("pods");
  if (ns && pods) {
    ctx.error(subject->line(), p, "exactly one of namespaces or pods must be set, not both");
    return;
  }
  if (ns) {
    decodeSelector(*ns, p.child("namespaces"), ctx, out.namespaces.emplace());
  } else if (pods) {
    if (expectKind(*pods, NodeKind::Map, p.child("pods"), ctx))
      decodeNamespacedPods(*pods, p.child("pods"), d, ctx, out.pods.emplace());
  } else {
    ctx.error(subject->line(), p, "exactly one of namespaces or pods must be set");
  }
}

/// One peer of `from` (ingress) or `to` (egress). Exactly one field, one this
/// build knows; a peer of only unknown fields is kept as `unknown` (fail closed).
template <DocumentNode N>
void decodeClusterPeer(const N& n, const FieldPath& path, bool egress,
                       const ClusterPolicyDialect& d, DecodeContext& ctx,
                       std::vector<ClusterPolicyPeer>& out) {
  ClusterPolicyPeer peer;
  size_t known = 0, unknown = 0;
  n.forEachMember([&](std::string_view key, const N&) {
    const bool ours =
        key == "namespaces" || key == "pods" ||
        (egress &&
         (key == "nodes" || key == "networks" ||
          (key == "domainNames" && d.kind != ClusterPolicyKind::BaselineAdminNetworkPolicy)));
    ++(ours ? known : unknown);
  });
  if (known == 0 && unknown == 0) {
    ctx.error(n.line(), path, "exactly one peer kind must be set");
    return;
  }
  if (known > 1) {
    ctx.error(n.line(), path, "exactly one peer kind must be set, got " + std::to_string(known));
    return;
  }
  if (known == 0) {
    peer.unknown = true;  // a field of a newer API version: fail closed
    out.push_back(std::move(peer));
    return;
  }
  if (auto v = n.get("namespaces")) {
    decodeSelector(*v, path.child("namespaces"), ctx, peer.namespaces.emplace());
  } else if (auto v = n.get("pods")) {
    if (expectKind(*v, NodeKind::Map, path.child("pods"), ctx))
      decodeNamespacedPods(*v, path.child("pods"), d, ctx, peer.pods.emplace());
  } else if (auto v = n.get("nodes")) {
    decodeSelector(*v, path.child("nodes"), ctx, peer.nodes.emplace());
  } else if (n.get("networks")) {
    if (countedList(n, path, "networks", kMaxNetworks, ctx) == 0 && n.get("networks"))
      ctx.error(n.line(), path.child("networks"), "must have at least one CIDR");
    stringList(n, path, "networks", ctx, [&](std::string_view text, int line, const FieldPath& p) {
      // isCIDR(): an address and a prefix length; host bits are not refused.
      auto cidr = text.find('/') == std::string_view::npos ? std::nullopt : Cidr::parse(text, true);
      if (!cidr)
        ctx.error(line, p, "invalid CIDR " + quote(text));
      else
        peer.networks.push_back(*cidr);
    });
  } else if (n.get("domainNames")) {
    if (countedList(n, path, "domainNames", kMaxDomainNames, ctx) == 0)
      ctx.error(n.line(), path.child("domainNames"), "must have at least one domain name");
    stringList(n, path, "domainNames", ctx,
               [&](std::string_view text, int line, const FieldPath& p) {
                 if (!validDomainName(text))
                   ctx.error(line, p,
                             "invalid domain name " + quote(text) +
                                 ": two or more DNS labels, optionally after a \"*.\" prefix");
                 else
                   peer.domain_names.emplace_back(text);
               });
  }
  out.push_back(std::move(peer));
}

template <DocumentNode N>
std::optional<int32_t> boundedPort(const N& obj, const FieldPath& path, std::string_view key,
                                   DecodeContext& ctx) {
  auto v = intField(obj, path, key, ctx, Need::Required);
  if (!v || !checkPortNumber(v->value, v->line, path.child(key), ctx)) return std::nullopt;
  return static_cast<int32_t>(v->value);
}

/// A port range {start, end}, both 1..65535. v1alpha2's CRD also requires
/// start < end (a CEL rule); v1alpha1's has no such rule, and its range with
/// start > end is valid and matches nothing (`ordered` false).
template <DocumentNode N>
bool decodeRange(const N& r, const FieldPath& rp, DecodeContext& ctx, ClusterPolicyPort& port,
                 bool ordered = true) {
  auto start = boundedPort(r, rp, "start", ctx);
  auto end = boundedPort(r, rp, "end", ctx);
  if (!start || !end) return false;
  if (ordered && *start >= *end) {
    ctx.error(r.line(), rp,
              "start port " + std::to_string(*start) + " must be less than end port " +
                  std::to_string(*end));
    return false;
  }
  port.first = start;
  port.last = end;
  return true;
}

/// v1alpha2 `protocols[]`: exactly one of tcp, udp, sctp, destinationNamedPort.
template <DocumentNode N>
void decodeProtocol(const N& n, const FieldPath& path, DecodeContext& ctx,
                    std::vector<ClusterPolicyPort>& out) {
  size_t set = 0;
  for (auto key : {"tcp", "udp", "sctp", "destinationNamedPort"}) set += n.get(key) ? 1 : 0;
  if (set != 1) {
    ctx.error(n.line(), path, "exactly one of tcp, udp, sctp or destinationNamedPort must be set");
    return;
  }
  ClusterPolicyPort port;
  if (auto named = stringField(n, path, "destinationNamedPort", ctx)) {
    if (named->value.empty()) {
      ctx.error(named->line, path.child("destinationNamedPort"), "required value");
      return;
    }
    port.named_port = named->value;
    out.push_back(std::move(port));
    return;
  }
  const std::pair<const char*, Protocol> kinds[] = {
      {"tcp", Protocol::TCP}, {"udp", Protocol::UDP}, {"sctp", Protocol::SCTP}};
  for (auto [key, protocol] : kinds) {
    auto v = n.get(key);
    if (!v) continue;
    const FieldPath pp = path.child(key);
    if (!expectKind(*v, NodeKind::Map, pp, ctx)) return;
    port.protocol = protocol;
    auto dp = v->get("destinationPort");
    if (!dp) {
      // minProperties 1: {} is refused; only destinationPort is defined.
      ctx.error(v->line(), pp, "destinationPort must be set");
      return;
    }
    const FieldPath dpp = pp.child("destinationPort");
    if (!expectKind(*dp, NodeKind::Map, dpp, ctx)) return;
    const bool number = dp->get("number").has_value(), range = dp->get("range").has_value();
    if (number == range) {
      ctx.error(dp->line(), dpp, "exactly one of number or range must be set");
      return;
    }
    if (number) {
      auto p = boundedPort(*dp, dpp, "number", ctx);
      if (!p) return;
      port.first = port.last = *p;
    } else {
      auto r = dp->get("range");
      if (!expectKind(*r, NodeKind::Map, dpp.child("range"), ctx) ||
          !decodeRange(*r, dpp.child("range"), ctx, port))
        return;
    }
  }
  out.push_back(std::move(port));
}

/// v1alpha1 `ports[]`: exactly one of portNumber, namedPort, portRange.
template <DocumentNode N>
void decodeAdminPort(const N& n, const FieldPath& path, DecodeContext& ctx,
                     std::vector<ClusterPolicyPort>& out) {
  size_t set = 0;
  for (auto key : {"portNumber", "namedPort", "portRange"}) set += n.get(key) ? 1 : 0;
  if (set != 1) {
    ctx.error(n.line(), path, "exactly one of portNumber, namedPort or portRange must be set");
    return;
  }
  ClusterPolicyPort port;
  if (auto named = stringField(n, path, "namedPort", ctx)) {
    port.named_port = named->value;
    if (port.named_port.empty()) {
      ctx.error(named->line, path.child("namedPort"), "required value");
      return;
    }
  } else if (auto v = n.get("portNumber")) {
    const FieldPath pp = path.child("portNumber");
    if (!expectKind(*v, NodeKind::Map, pp, ctx)) return;
    auto protocol = stringField(*v, pp, "protocol", ctx, Need::Required);
    if (!protocol) return;
    auto p = checkProtocol(protocol->value, protocol->line, pp.child("protocol"), ctx);
    auto number = boundedPort(*v, pp, "port", ctx);
    if (!p || !number) return;
    port.protocol = *p;
    port.first = port.last = *number;
  } else if (auto v = n.get("portRange")) {
    const FieldPath pp = path.child("portRange");
    if (!expectKind(*v, NodeKind::Map, pp, ctx)) return;
    if (auto protocol = stringField(*v, pp, "protocol", ctx)) {  // default TCP
      auto p = checkProtocol(protocol->value, protocol->line, pp.child("protocol"), ctx);
      if (!p) return;
      port.protocol = *p;
    }
    if (!decodeRange(*v, pp, ctx, port, /*ordered=*/false)) return;
  }
  out.push_back(std::move(port));
}

template <DocumentNode N>
void decodeClusterRule(const N& n, const FieldPath& path, bool egress,
                       const ClusterPolicyDialect& d, DecodeContext& ctx,
                       std::vector<ClusterPolicyRule>& out) {
  ClusterPolicyRule rule;
  if (auto name = stringField(n, path, "name", ctx)) {
    rule.name = name->value;
    if (rule.name.size() > kMaxRuleName)
      ctx.error(name->line, path.child("name"),
                "must be at most " + std::to_string(kMaxRuleName) + " characters");
  }
  if (auto action = stringField(n, path, "action", ctx, Need::Required)) {
    const std::string_view a = action->value;
    const bool v1alpha2 = d.kind == ClusterPolicyKind::ClusterNetworkPolicy;
    if (a == (v1alpha2 ? "Accept" : "Allow"))
      rule.action = ClusterRuleAction::Accept;
    else if (a == "Deny")
      rule.action = ClusterRuleAction::Deny;
    else if (a == "Pass" && d.has_pass)
      rule.action = ClusterRuleAction::Pass;
    else
      ctx.error(action->line, path.child("action"),
                "invalid action " + quote(a) + ": must be " +
                    (v1alpha2     ? "Accept, Deny or Pass"
                     : d.has_pass ? "Allow, Deny or Pass"
                                  : "Allow or Deny"));
  }
  const std::string_view peers_key = egress ? "to" : "from";
  if (!n.get(peers_key)) {
    ctx.error(n.line(), path.child(peers_key), "required value");
  } else if (countedList(n, path, peers_key, d.limits.peers, ctx) == 0 &&
             n.get(peers_key)->kind() == NodeKind::Seq) {
    ctx.error(n.line(), path.child(peers_key), "must have at least one peer");
  }
  listOfMaps(n, path, peers_key, ctx, [&](const N& e, const FieldPath& ep) {
    decodeClusterPeer(e, ep, egress, d, ctx, rule.peers);
  });
  const std::string_view ports_key =
      d.kind == ClusterPolicyKind::ClusterNetworkPolicy ? "protocols" : "ports";
  if (auto ports = n.get(ports_key); ports && ports->kind() == NodeKind::Seq &&
                                     countedList(n, path, ports_key, d.limits.ports, ctx) == 0)
    ctx.error(ports->line(), path.child(ports_key), "must have at least one entry");
  listOfMaps(n, path, ports_key, ctx, [&](const N& e, const FieldPath& ep) {
    if (d.kind == ClusterPolicyKind::ClusterNetworkPolicy)
      decodeProtocol(e, ep, ctx, rule.ports);
    else
      decodeAdminPort(e, ep, ctx, rule.ports);
  });
  // CEL: no named ports towards networks, nodes or domain names (they have none).
  const bool named = std::any_of(rule.ports.begin(), rule.ports.end(),
                                 [](const ClusterPolicyPort& p) { return !p.named_port.empty(); });
  const bool portless_peer = std::any_of(rule.peers.begin(), rule.peers.end(), [](const auto& p) {
    return p.nodes || !p.networks.empty() || !p.domain_names.empty();
  });
  if (named && portless_peer)
    ctx.error(n.line(), path,
              "networks, nodes and domainNames peers cannot be used with named ports");
  out.push_back(std::move(rule));
}

template <DocumentNode N>
std::optional<ClusterPolicy> decodeClusterPolicyT(const N& root, const ClusterPolicyDialect& d,
                                                  DecodeContext& ctx) {
  ClusterPolicy cp;
  cp.kind = d.kind;
  decodeMeta(root, Scope::Cluster, NameRule::Dns1123Subdomain, ctx, cp.meta);
  if (d.kind == ClusterPolicyKind::BaselineAdminNetworkPolicy && !cp.meta.name.empty() &&
      cp.meta.name != "default")
    ctx.error(root.line(), FieldPath::root("metadata").child("name"),
              "a BaselineAdminNetworkPolicy must be named \"default\" (it is a singleton), not " +
                  quote(cp.meta.name));
  cp.tier = d.kind == ClusterPolicyKind::AdminNetworkPolicy ? Tier::Admin : Tier::Baseline;
  const FieldPath sp = FieldPath::root("spec");
  auto spec = root.get("spec");
  if (!spec) {
    ctx.error(root.line(), sp, "required value");
    return std::nullopt;
  }
  if (!expectKind(*spec, NodeKind::Map, sp, ctx)) return std::nullopt;
  if (d.has_tier) {
    if (auto tier = stringField(*spec, sp, "tier", ctx, Need::Required)) {
      if (tier->value == "Admin")
        cp.tier = Tier::Admin;
      else if (tier->value == "Baseline")
        cp.tier = Tier::Baseline;
      else
        ctx.error(tier->line, sp.child("tier"),
                  "invalid tier " + quote(tier->value) + ": must be Admin or Baseline");
    }
  }
  if (d.has_priority) {
    if (auto priority = intField(*spec, sp, "priority", ctx, Need::Required)) {
      if (priority->value < 0 || priority->value > 1000)
        ctx.error(priority->line, sp.child("priority"),
                  "priority " + std::to_string(priority->value) + " is outside 0..1000");
      else
        cp.priority = static_cast<int32_t>(priority->value);
    }
  }
  decodeSubject(*spec, sp, d, ctx, cp.subject);
  // Not a structured binding: clang (and so clang-tidy) cannot capture one before C++20's fix.
  auto rules = [&](std::string_view key, bool egress, std::vector<ClusterPolicyRule>& out) {
    countedList(*spec, sp, key, d.limits.rules, ctx);
    listOfMaps(*spec, sp, key, ctx, [&](const N& e, const FieldPath& ep) {
      decodeClusterRule(e, ep, egress, d, ctx, out);
    });
  };
  rules("ingress", false, cp.ingress);
  rules("egress", true, cp.egress);
  if (ctx.failed()) return std::nullopt;
  return cp;
}

constexpr ClusterPolicyDialect kClusterNetworkPolicyV1alpha2{
    ClusterPolicyKind::ClusterNetworkPolicy, kClusterPolicyLimits, true, false, true, true};
constexpr ClusterPolicyDialect kAdminNetworkPolicyV1alpha1{
    ClusterPolicyKind::AdminNetworkPolicy, kAdminPolicyLimits, false, true, true, true};
constexpr ClusterPolicyDialect kBaselineAdminNetworkPolicyV1alpha1{
    ClusterPolicyKind::BaselineAdminNetworkPolicy, kAdminPolicyLimits, false, true, false, false};

/// The decoder for the kind whose objects are `T` (ClusterNetworkPolicy,
/// AdminNetworkPolicy or BaselineAdminNetworkPolicy).
template <class T, DocumentNode N>
std::optional<T> decodeClusterPolicyAs(const N& root, DecodeContext& ctx) {
  constexpr const ClusterPolicyDialect& kDialect =
      T::kKind == ClusterPolicyKind::ClusterNetworkPolicy ? kClusterNetworkPolicyV1alpha2
      : T::kKind == ClusterPolicyKind::AdminNetworkPolicy ? kAdminNetworkPolicyV1alpha1
                                                          : kBaselineAdminNetworkPolicyV1alpha1;
  std::optional<ClusterPolicy> decoded = decodeClusterPolicyT(root, kDialect, ctx);
  if (!decoded) return std::nullopt;
  T out;
  static_cast<ClusterPolicy&>(out) = std::move(*decoded);
  return out;
}

}  // namespace palisade::policy::manifest
