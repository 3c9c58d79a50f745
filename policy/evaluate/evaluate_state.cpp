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
  if (peer.node)
    return other.address && state.nodeSelectorMatchesAddress(*peer.node, *other.address);
  if (peer.block) {
    if (!other.address) return false;
    return std::any_of(peer.block_cidrs.begin(), peer.block_cidrs.end(),
                       [&](const Cidr& c) { return c.contains(*other.address); });
  }
  return other.pod && state.peerSelectsPod(peer, policy_ns, *other.pod);
}

bool ruleMatches(const ClusterState& state, const CompiledRule& rule, Symbol policy_ns,
                 const ResolvedEnd& other, const std::optional<PodId>& destination,
                 Protocol protocol, int32_t port) {
  const bool peer_ok =
      rule.peers.empty() ||
      std::any_of(rule.peers.begin(), rule.peers.end(), [&](const CompiledPeer& peer) {
        return peerMatches(state, peer, policy_ns, other);
      });
  if (!peer_ok) return false;
  return rule.ports.empty() ||
         std::any_of(rule.ports.begin(), rule.ports.end(), [&](const NetworkPolicyPort& e) {
           return portMatches(state, e, destination, protocol, port);
         });
}

/// The NetworkPolicy stage of one direction judged on `subject` (a pod), the
/// flow's other end `other`, the destination pod (for named ports) `destination`.
DirectionVerdict judgeNetworkPolicy(const ClusterState& state, PodId subject,
                                    const ResolvedEnd& other,
                                    const std::optional<PodId>& destination, bool ingress,
                                    Protocol protocol, int32_t port) {
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
      if (ruleMatches(state, rules[i], pol.namespace_, other, destination, protocol, port))
        v.allowed_by.push_back(RuleRef{name, i});
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

/// One tier for one direction: the first matching rule of the policies whose
/// subject is `subject`, in evaluation order. Accept and Deny decide (true);
/// Pass is recorded and ends the tier; no match ends it too.
bool judgeTier(const ClusterState& state, Tier tier, PodId subject, const ResolvedEnd& other,
               const std::optional<PodId>& destination, bool ingress, Protocol protocol,
               int32_t port, DirectionVerdict& v) {
  for (ClusterPolicyId id : state.clusterPoliciesIn(tier)) {
    const ClusterPolicyRecord& pol = state.clusterPolicy(id);
    if (!state.clusterPolicySelectsPod(pol, subject)) continue;
    for (const ClusterRuleRecord& rule : ingress ? pol.ingress : pol.egress) {
      if (rule.matches_nothing) continue;
      if (!rule.deny_all && !ruleMatches(state, rule.match, 0, other, destination, protocol, port))
        continue;
      const ClusterRuleAction action = rule.effectiveAction();
      ClusterRuleRef ref{tier,       pol.kind,  std::string(state.str(pol.name)),
                         rule.index, rule.name, action};
      if (action == ClusterRuleAction::Pass) {
        v.passed.push_back(std::move(ref));
        return false;
      }
      v.outcome = action == ClusterRuleAction::Accept ? DirectionVerdict::Outcome::Allowed
                                                      : DirectionVerdict::Outcome::Denied;
      v.decided_by = std::move(ref);
      return true;
    }
  }
  return false;
}

DirectionVerdict notEnforced(std::string note) {
  DirectionVerdict v;
  v.outcome = DirectionVerdict::Outcome::NotEnforced;
  v.note = std::move(note);
  return v;
}

/// One direction: Admin tier → NetworkPolicy → Baseline tier → allow
/// (DESIGN.md §8). A pod reaching its own address (`hairpin`) is judged by
/// NetworkPolicy alone.
DirectionVerdict judge(const ClusterState& state, PodId subject, const ResolvedEnd& other,
                       const std::optional<PodId>& destination, bool ingress, Protocol protocol,
                       int32_t port, bool hairpin) {
  DirectionVerdict tiers;
  if (!hairpin &&
      judgeTier(state, Tier::Admin, subject, other, destination, ingress, protocol, port, tiers))
    return tiers;
  DirectionVerdict v =
      judgeNetworkPolicy(state, subject, other, destination, ingress, protocol, port);
  v.passed = std::move(tiers.passed);
  if (v.outcome != DirectionVerdict::Outcome::NotIsolated || hairpin) return v;
  judgeTier(state, Tier::Baseline, subject, other, destination, ingress, protocol, port, v);
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
  // The cluster tiers do not govern a pod reaching its own address.
  const bool hairpin = src.pod && dst.pod && *src.pod == *dst.pod;

  if (!src.pod) {
    v.egress = notEnforced("source is not a pod");
  } else if (state.pod(*src.pod).host_network) {
    v.egress = notEnforced("hostNetwork pods are not policy subjects");
  } else {
    v.egress = judge(state, *src.pod, dst, dst.pod, /*ingress=*/false, protocol, port, hairpin);
  }

  if (!dst.pod) {
    v.ingress = notEnforced("destination is not a pod");
  } else if (state.pod(*dst.pod).host_network) {
    v.ingress = notEnforced("hostNetwork pods are not policy subjects");
  } else if (fromOwnNode(state, src, *dst.pod)) {
    v.ingress = notEnforced("traffic from the pod's own node is always allowed");
  } else {
    v.ingress = judge(state, *dst.pod, src, dst.pod, /*ingress=*/true, protocol, port, hairpin);
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
