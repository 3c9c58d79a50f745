#pragma once
// Terse builders for policy objects in tests, so each test reads like the
// manifest it stands for.
#include <string>
#include <vector>

#include "policy/model/objects.h"

namespace palisade::policy::testing {

inline IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }
inline Cidr cidr(const std::string& text) { return *Cidr::parse(text); }

inline Namespace makeNamespace(const std::string& name, LabelMap labels = {}) {
  Namespace ns;
  ns.meta.name = name;
  ns.meta.labels = std::move(labels);
  ns.meta.labels["kubernetes.io/metadata.name"] = name;
  return ns;
}

inline Pod makePod(const std::string& ns, const std::string& name, LabelMap labels,
                   std::vector<std::string> ips, std::vector<ContainerPort> ports = {},
                   const std::string& node = "node-a") {
  Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  p.meta.labels = std::move(labels);
  for (const auto& s : ips) p.ips.push_back(ip(s));
  p.ports = std::move(ports);
  p.node_name = node;
  return p;
}

inline LabelSelector sel(LabelMap labels) {
  LabelSelector s;
  s.match_labels = std::move(labels);
  return s;
}

inline LabelSelector expr(const std::string& key, SelectorOperator op,
                          std::vector<std::string> values = {}) {
  LabelSelector s;
  s.match_expressions.push_back({key, op, std::move(values)});
  return s;
}

inline NetworkPolicyPeer podPeer(LabelSelector pods) {
  NetworkPolicyPeer p;
  p.pod_selector = std::move(pods);
  return p;
}
inline NetworkPolicyPeer nsPeer(LabelSelector namespaces) {
  NetworkPolicyPeer p;
  p.namespace_selector = std::move(namespaces);
  return p;
}
inline NetworkPolicyPeer bothPeer(LabelSelector namespaces, LabelSelector pods) {
  NetworkPolicyPeer p;
  p.namespace_selector = std::move(namespaces);
  p.pod_selector = std::move(pods);
  return p;
}
inline NetworkPolicyPeer blockPeer(const std::string& c, std::vector<std::string> except = {}) {
  NetworkPolicyPeer p;
  p.ip_block = IpBlock{cidr(c), {}};
  for (const auto& e : except) p.ip_block->except.push_back(cidr(e));
  return p;
}

inline NetworkPolicyPort port(int32_t n, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{n}, std::nullopt};
}
inline NetworkPolicyPort portRange(int32_t first, int32_t last, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{first}, last};
}
inline NetworkPolicyPort namedPort(const std::string& name, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{name}, std::nullopt};
}
inline NetworkPolicyPort anyPort(Protocol proto) {
  return NetworkPolicyPort{proto, std::nullopt, std::nullopt};
}

inline NetworkPolicyRule rule(std::vector<NetworkPolicyPeer> peers,
                              std::vector<NetworkPolicyPort> ports = {}) {
  return NetworkPolicyRule{std::move(peers), std::move(ports)};
}

/// A policy; `ingress`/`egress` nullopt = that type not listed in policyTypes.
inline NetworkPolicy makePolicy(const std::string& ns, const std::string& name, LabelSelector pods,
                                std::optional<std::vector<NetworkPolicyRule>> ingress,
                                std::optional<std::vector<NetworkPolicyRule>> egress) {
  NetworkPolicy p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  p.pod_selector = std::move(pods);
  p.affects_ingress = ingress.has_value();
  p.affects_egress = egress.has_value();
  if (ingress) p.ingress = std::move(*ingress);
  if (egress) p.egress = std::move(*egress);
  return p;
}

}  // namespace palisade::policy::testing
