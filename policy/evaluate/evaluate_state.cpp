// The reference evaluator: DESIGN.md §3 read directly off the cluster state,
// by pod identity, so pods without an address still get verdicts.
#include <algorithm>

#include "policy/evaluate/evaluate.h"

namespace palisade::policy {

namespace {

struct ResolvedEnd {
  std::optional<PodId> pod;
  std::optional<IpAddress> address;
};

ResolvedEnd resolve(const ClusterState& state, const FlowEnd& end) {
  ResolvedEnd out{end.pod, end.address};
  if (out.pod && !out.address) {
    const auto& ips = state.pod(*out.pod).ips;
    if (!ips.empty()) out.address = ips.front();
  }
  if (!out.pod && out.address) out.pod = state.findPodByIp(*out.address);
  return out;
}

bool portMatches(const ClusterState& state, const NetworkPolicyPort& entry,
                 const std::optional<PodId>& target, Protocol protocol, int32_t port) {
  if (entry.protocol != protocol) return false;
  if (!entry.port) return true;
  if (!entry.port->isNamed()) {
    const int32_t first = entry.port->number();
    const int32_t last = entry.end_port.value_or(first);
    return port >= first && port <= last;
  }
  // A named port resolves against the destination pod; never a bare address.
  if (!target) return false;
  const Symbol name = state.symbols().find(entry.port->name());
  if (name == SymbolTable::kNone) return false;
  for (const PodPort& cp : state.pod(*target).ports) {
    if (cp.name == name && cp.protocol == protocol && cp.port == port) return true;
  }
  return false;
}

bool peerMatches(const ClusterState& state, const CompiledPeer& peer, Symbol policy_ns,
                 const ResolvedEnd& other) {
  if (peer.block) {
    if (!other.address) return false;
    return std::any_of(peer.block_cidrs.begin(), peer.block_cidrs.end(),
                       [&](const Cidr& c) { return c.contains(*other.address); });
  }
  return other.pod && state.peerSelectsPod(peer, policy_ns, *other.pod);
}

/// One direction judged on `subject` (a pod), the flow's other end `other`,
/// the destination pod (for named ports) `destination`.
DirectionVerdict judge(const ClusterState& state, PodId subject, const ResolvedEnd& other,
                       const std::optional<PodId>& destination, bool ingress, Protocol protocol,
                       int32_t port) {
  DirectionVerdict v;
  const PodRecord& p = state.pod(subject);
  for (PolicyId pid : state.policiesIn(p.namespace_)) {
    const PolicyRecord& pol = state.policy(pid);
    if (!(ingress ? pol.affects_ingress : pol.affects_egress)) continue;
    if (!state.policySelectsPod(pol, subject)) continue;
    const PolicyName name{std::string(state.str(pol.namespace_)), std::string(state.str(pol.name))};
    v.isolated_by.push_back(name);
    const auto& rules = ingress ? pol.ingress : pol.egress;
    for (uint32_t i = 0; i < rules.size(); ++i) {
      const CompiledRule& rule = rules[i];
      const bool peer_ok =
          rule.peers.empty() ||
          std::any_of(rule.peers.begin(), rule.peers.end(), [&](const CompiledPeer& peer) {
            return peerMatches(state, peer, pol.namespace_, other);
          });
      if (!peer_ok) continue;
      const bool port_ok =
          rule.ports.empty() ||
          std::any_of(rule.ports.begin(), rule.ports.end(), [&](const NetworkPolicyPort& e) {
            return portMatches(state, e, destination, protocol, port);
          });
      if (port_ok) v.allowed_by.push_back(RuleRef{name, i});
    }
  }
  auto by_name = [](const PolicyName& a, const PolicyName& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  };
  std::sort(v.isolated_by.begin(), v.isolated_by.end(), by_name);
  std::sort(v.allowed_by.begin(), v.allowed_by.end(), [&](const RuleRef& a, const RuleRef& b) {
    if (a.policy == b.policy) return a.rule_index < b.rule_index;
    return by_name(a.policy, b.policy);
  });
  if (v.isolated_by.empty()) {
    v.outcome = DirectionVerdict::Outcome::NotIsolated;
  } else if (!v.allowed_by.empty()) {
    v.outcome = DirectionVerdict::Outcome::Allowed;
  } else {
    v.outcome = DirectionVerdict::Outcome::Denied;
  }
  return v;
}

DirectionVerdict notEnforced(std::string note) {
  DirectionVerdict v;
  v.outcome = DirectionVerdict::Outcome::NotEnforced;
  v.note = std::move(note);
  return v;
}

/// Is `src` the node that `dst_pod` runs on (the node itself or a
/// hostNetwork pod on it)?
bool fromOwnNode(const ClusterState& state, const ResolvedEnd& src, PodId dst_pod) {
  const PodRecord& dst = state.pod(dst_pod);
  if (src.pod) {
    const PodRecord& s = state.pod(*src.pod);
    if (s.host_network && s.node == dst.node && dst.node != 0) return true;
  }
  if (!src.address || dst.node == 0) return false;
  const NodeRecord* node = state.findNode(state.str(dst.node));
  return node != nullptr && std::find(node->addresses.begin(), node->addresses.end(),
                                      *src.address) != node->addresses.end();
}

}  // namespace

Verdict evaluate(const ClusterState& state, const FlowEnd& src_end, const FlowEnd& dst_end,
                 Protocol protocol, int32_t port) {
  const ResolvedEnd src = resolve(state, src_end);
  const ResolvedEnd dst = resolve(state, dst_end);
  Verdict v;

  if (!src.pod) {
    v.egress = notEnforced("source is not a pod");
  } else if (state.pod(*src.pod).host_network) {
    v.egress = notEnforced("hostNetwork pods are not policy subjects");
  } else {
    v.egress = judge(state, *src.pod, dst, dst.pod, /*ingress=*/false, protocol, port);
  }

  if (!dst.pod) {
    v.ingress = notEnforced("destination is not a pod");
  } else if (state.pod(*dst.pod).host_network) {
    v.ingress = notEnforced("hostNetwork pods are not policy subjects");
  } else if (fromOwnNode(state, src, *dst.pod)) {
    v.ingress = notEnforced("traffic from the pod's own node is always allowed");
  } else {
    v.ingress = judge(state, *dst.pod, src, dst.pod, /*ingress=*/true, protocol, port);
  }

  v.allowed = v.egress.allows() && v.ingress.allows();
  if (src.pod && dst.pod && *src.pod == *dst.pod) {
    v.notes.emplace_back(
        "a pod reaching itself through its own Service (hairpin) is judged as shown; traffic to "
        "its own IP that never leaves the pod's network namespace is outside any enforcement "
        "point");
  }
  return v;
}

}  // namespace palisade::policy
