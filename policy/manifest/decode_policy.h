#pragma once
// networking.k8s.io/v1 NetworkPolicy: decode, default and validate as the API
// server does (pkg/apis/networking/validation).
#include "policy/manifest/decode_common.h"

namespace palisade::policy::manifest {

template <DocumentNode N>
std::optional<IpBlock> decodeIpBlock(const N& n, const FieldPath& path, DecodeContext& ctx) {
  IpBlock block;
  auto cidr_text = stringField(n, path, "cidr", ctx, Need::Required);
  if (!cidr_text) return std::nullopt;
  // The API server accepts host bits ("10.0.0.1/8"); they are masked off here.
  auto cidr = Cidr::parse(cidr_text->value, /*allow_host_bits=*/true);
  if (!cidr) {
    ctx.error(cidr_text->line, path.child("cidr"), "invalid CIDR " + quote(cidr_text->value));
    return std::nullopt;
  }
  block.cidr = *cidr;
  bool ok = true;
  stringList(n, path, "except", ctx, [&](std::string_view text, int line, const FieldPath& ep) {
    auto except = Cidr::parse(text, true);
    if (!except) {
      ctx.error(line, ep, "invalid CIDR " + quote(text));
      ok = false;
    } else if (!(block.cidr.contains(*except) && except->prefixLen() > block.cidr.prefixLen())) {
      ctx.error(line, ep, quote(text) + " is not strictly inside cidr " + quote(cidr_text->value));
      ok = false;
    } else {
      block.except.push_back(*except);
    }
  });
  if (!ok) return std::nullopt;
  return block;
}

template <DocumentNode N>
void decodePeer(const N& n, const FieldPath& path, DecodeContext& ctx,
                std::vector<NetworkPolicyPeer>& out) {
  NetworkPolicyPeer peer;
  if (auto v = n.get("podSelector")) {
    decodeSelector(*v, path.child("podSelector"), ctx, peer.pod_selector.emplace());
  }
  if (auto v = n.get("namespaceSelector")) {
    decodeSelector(*v, path.child("namespaceSelector"), ctx, peer.namespace_selector.emplace());
  }
  const bool has_selector = peer.pod_selector || peer.namespace_selector;
  if (auto v = n.get("ipBlock")) {
    const FieldPath bp = path.child("ipBlock");
    if (has_selector) {
      ctx.error(n.line(), path,
                "ipBlock may not be combined with podSelector or namespaceSelector");
    } else if (expectKind(*v, NodeKind::Map, bp, ctx)) {
      peer.ip_block = decodeIpBlock(*v, bp, ctx);
    }
    if (!peer.ip_block) return;  // the error is recorded; the object is dropped anyway
  } else if (!has_selector) {
    ctx.error(n.line(), path, "must specify podSelector, namespaceSelector or ipBlock");
    return;
  }
  out.push_back(std::move(peer));
}

template <DocumentNode N>
void decodePolicyPort(const N& n, const FieldPath& path, DecodeContext& ctx,
                      std::vector<NetworkPolicyPort>& out) {
  NetworkPolicyPort port;
  auto protocol = protocolField(n, path, ctx);
  if (protocol) port.protocol = *protocol;
  auto port_node = n.get("port");
  if (port_node) port.port = portRef(*port_node, path.child("port"), ctx);
  if (auto end = intField(n, path, "endPort", ctx)) {
    const FieldPath ep = path.child("endPort");
    if (!port_node) {
      ctx.error(end->line, ep, "endPort requires port");
    } else if (port.port && port.port->isNamed()) {
      ctx.error(end->line, ep,
                "endPort requires a numeric port, not the named port " + quote(port.port->name()));
    } else if (checkPortNumber(end->value, end->line, ep, ctx) && port.port &&
               end->value < port.port->number()) {
      ctx.error(end->line, ep,
                "endPort " + std::to_string(end->value) + " must not be less than port " +
                    std::to_string(port.port->number()));
    } else {
      port.end_port = static_cast<int32_t>(end->value);
    }
  }
  out.push_back(std::move(port));
}

/// One ingress (`peers_key` "from") or egress ("to") rule.
template <DocumentNode N>
void decodeRule(const N& n, const FieldPath& path, std::string_view peers_key, DecodeContext& ctx,
                std::vector<NetworkPolicyRule>& out) {
  NetworkPolicyRule rule;
  listOfMaps(n, path, peers_key, ctx,
             [&](const N& e, const FieldPath& ep) { decodePeer(e, ep, ctx, rule.peers); });
  listOfMaps(n, path, "ports", ctx,
             [&](const N& e, const FieldPath& ep) { decodePolicyPort(e, ep, ctx, rule.ports); });
  out.push_back(std::move(rule));
}

template <DocumentNode N>
std::optional<NetworkPolicy> decodeNetworkPolicyT(const N& root, DecodeContext& ctx) {
  NetworkPolicy np;
  decodeMeta(root, Scope::Namespaced, NameRule::Dns1123Subdomain, ctx, np.meta);
  const FieldPath sp = FieldPath::root("spec");
  bool has_types = false;
  bool ingress_type = false;
  bool egress_type = false;
  auto spec = root.get("spec");
  if (spec && expectKind(*spec, NodeKind::Map, sp, ctx)) {
    if (auto sel = spec->get("podSelector")) {
      decodeSelector(*sel, sp.child("podSelector"), ctx, np.pod_selector);
    }
    listOfMaps(*spec, sp, "ingress", ctx, [&](const N& e, const FieldPath& ep) {
      decodeRule(e, ep, "from", ctx, np.ingress);
    });
    listOfMaps(*spec, sp, "egress", ctx,
               [&](const N& e, const FieldPath& ep) { decodeRule(e, ep, "to", ctx, np.egress); });
    stringList(
        *spec, sp, "policyTypes", ctx, [&](std::string_view t, int line, const FieldPath& tp) {
          has_types = true;
          bool* seen = t == "Ingress" ? &ingress_type : t == "Egress" ? &egress_type : nullptr;
          if (!seen) {
            ctx.error(line, tp, "invalid policy type " + quote(t) + ": must be Ingress or Egress");
          } else if (*seen) {
            ctx.error(line, tp, "duplicate policy type " + quote(t));
          }
          if (seen) *seen = true;
        });
  }
  if (has_types) {
    np.affects_ingress = ingress_type;
    np.affects_egress = egress_type;
  } else {
    np.affects_ingress = true;
    np.affects_egress = !np.egress.empty();
  }
  if (ctx.failed()) return std::nullopt;
  return np;
}

}  // namespace palisade::policy::manifest
