#pragma once
// core/v1 Namespace, Pod and Node: decode, default, validate.
#include "policy/manifest/decode_common.h"

namespace palisade::policy::manifest {

template <DocumentNode N>
std::optional<Namespace> decodeNamespaceT(const N& root, DecodeContext& ctx) {
  Namespace ns;
  decodeMeta(root, Scope::Cluster, NameRule::Dns1123Label, ctx, ns.meta);
  // The API server stamps every namespace with its own name as a label, which
  // is what lets namespaceSelector pick namespaces by name.
  if (!ns.meta.name.empty()) ns.meta.labels["kubernetes.io/metadata.name"] = ns.meta.name;
  if (ctx.failed()) return std::nullopt;
  return ns;
}

template <DocumentNode N>
void decodeContainerPorts(const N& spec, const FieldPath& sp, std::string_view list_key,
                          DecodeContext& ctx, std::vector<ContainerPort>& out) {
  listOfMaps(spec, sp, list_key, ctx, [&](const N& c, const FieldPath& cp) {
    listOfMaps(c, cp, "ports", ctx, [&](const N& p, const FieldPath& pp) {
      ContainerPort port;
      if (auto name = stringField(p, pp, "name", ctx)) {
        port.name = name->value;
        if (!port.name.empty() && !isIanaSvcName(port.name)) {
          ctx.error(name->line, pp.child("name"),
                    "invalid named port " + quote(port.name) +
                        ": must be an IANA_SVC_NAME (at most 15 lowercase letters, digits or '-', "
                        "with at least one letter, no leading, trailing or double '-')");
        }
      }
      if (auto number = intField(p, pp, "containerPort", ctx, Need::Required)) {
        if (checkPortNumber(number->value, number->line, pp.child("containerPort"), ctx)) {
          port.port = static_cast<int32_t>(number->value);
        }
      }
      if (auto protocol = protocolField(p, pp, ctx)) port.protocol = *protocol;
      out.push_back(std::move(port));
    });
  });
}

template <DocumentNode N>
std::optional<Pod> decodePodT(const N& root, DecodeContext& ctx) {
  Pod pod;
  decodeMeta(root, Scope::Namespaced, NameRule::Dns1123Subdomain, ctx, pod.meta);
  mapField(root, FieldPath::root(""), "spec", ctx, [&](const N& spec, const FieldPath& sp) {
    if (auto node = stringField(spec, sp, "nodeName", ctx)) pod.node_name = node->value;
    if (auto host = boolField(spec, sp, "hostNetwork", ctx)) pod.host_network = *host;
    decodeContainerPorts(spec, sp, "initContainers", ctx, pod.ports);
    decodeContainerPorts(spec, sp, "containers", ctx, pod.ports);
  });
  mapField(root, FieldPath::root(""), "status", ctx, [&](const N& status, const FieldPath& st) {
    if (auto phase = stringField(status, st, "phase", ctx)) pod.phase = phase->value;
    listOfMaps(status, st, "podIPs", ctx, [&](const N& e, const FieldPath& ep) {
      if (auto ip = stringField(e, ep, "ip", ctx, Need::Required)) {
        if (auto addr = checkIp(ip->value, ip->line, ep.child("ip"), ctx)) pod.ips.push_back(*addr);
      }
    });
    // podIP is the legacy single-address field; podIPs[0] mirrors it when both are set.
    if (auto ip = stringField(status, st, "podIP", ctx); ip && !ip->value.empty()) {
      auto addr = checkIp(ip->value, ip->line, st.child("podIP"), ctx);
      if (addr && pod.ips.empty()) pod.ips.push_back(*addr);
    }
  });
  if (ctx.failed()) return std::nullopt;
  return pod;
}

template <DocumentNode N>
std::optional<Node> decodeNodeT(const N& root, DecodeContext& ctx) {
  Node node;
  decodeMeta(root, Scope::Cluster, NameRule::Dns1123Subdomain, ctx, node.meta);
  mapField(root, FieldPath::root(""), "spec", ctx, [&](const N& spec, const FieldPath& sp) {
    auto add = [&](std::string_view text, int line, const FieldPath& p) {
      auto cidr = Cidr::parse(text, true);
      if (!cidr)
        ctx.error(line, p, "invalid CIDR " + quote(text));
      else
        node.pod_cidrs.push_back(*cidr);
    };
    stringList(spec, sp, "podCIDRs", ctx, add);
    if (auto single = stringField(spec, sp, "podCIDR", ctx); single && !single->value.empty()) {
      if (node.pod_cidrs.empty()) add(single->value, single->line, sp.child("podCIDR"));
    }
  });
  mapField(root, FieldPath::root(""), "status", ctx, [&](const N& status, const FieldPath& st) {
    listOfMaps(status, st, "addresses", ctx, [&](const N& e, const FieldPath& ep) {
      auto type = stringField(e, ep, "type", ctx);
      auto address = stringField(e, ep, "address", ctx);
      if (!type || !address) return;
      if (type->value != "InternalIP" && type->value != "ExternalIP") return;
      // Kubelets report what they find; a non-IP value here is not the object's fault.
      if (auto ip = IpAddress::parse(address->value)) node.addresses.push_back(*ip);
    });
  });
  if (ctx.failed()) return std::nullopt;
  return node;
}

}  // namespace palisade::policy::manifest
