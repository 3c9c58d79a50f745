#pragma once
// policy::evaluate: the verdict for one flow, and why.
//
// Two evaluators, held equal by tests:
//  - over ClusterState, by pod identity (works for pods without an IP): the
//    reference semantics of DESIGN.md §3, used by reach/explain/test;
//  - over an ir::Ruleset, by address: exactly what the kernel ruleset
//    decides, used by the packet queue and to check the datapath.
#include <optional>
#include <string>
#include <vector>

#include "policy/model/cluster_policy.h"
#include "policy/model/objects.h"
#include "policy/net/ip.h"
#include "policy/state/cluster_state.h"
#include "proto/base/result.h"
#include "proto/ir.h"

namespace palisade::policy {

struct PolicyName {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  std::string str() const { return namespace_ + "/" + name; }
  bool operator==(const PolicyName&) const = default;
};

struct RuleRef {
  PolicyName policy;
  uint32_t rule_index = 0;
  bool operator==(const RuleRef&) const = default;
};

/// A rule of a cluster tier (DESIGN.md §8) that matched.
struct ClusterRuleRef {
  Tier tier = Tier::Admin;
  ClusterPolicyKind kind = ClusterPolicyKind::ClusterNetworkPolicy;
  std::string policy;
  uint32_t rule_index = 0;
  std::string rule_name;
  ClusterRuleAction action = ClusterRuleAction::Deny;
  bool operator==(const ClusterRuleRef&) const = default;
  /// `Admin ClusterNetworkPolicy deny-y rule 0 "deny-all" (Deny)`
  std::string str() const;
};

/// The outcome of one direction (the source's egress, or the destination's ingress).
struct DirectionVerdict {
  enum class Outcome {
    NotIsolated,  // nothing decided: no NetworkPolicy selects the pod, no tier rule matched
    Allowed,      // a NetworkPolicy rule or a tier's Accept rule allowed it
    Denied,       // isolated and no NetworkPolicy rule matched, or a tier's Deny rule
    NotEnforced,  // not a pod this direction is judged on (external address, host)
  };
  Outcome outcome = Outcome::NotIsolated;
  std::vector<PolicyName> isolated_by;  // sorted
  std::vector<RuleRef> allowed_by;      // every rule that matched, sorted
  std::string note;                     // why NotEnforced, etc.
  /// The Accept or Deny rule of the Admin or Baseline tier that decided
  /// (then no NetworkPolicy, or no NetworkPolicy selected the pod).
  std::optional<ClusterRuleRef> decided_by;
  std::vector<ClusterRuleRef> passed;  // Pass rules taken on the way, in order

  bool allows() const { return outcome != Outcome::Denied; }
  /// "not isolated" / "allowed by x/allow-db rule 0" / "denied: isolated by [x/deny-all], no rule
  /// matched"
  std::string describe() const;

 private:
  std::string describeNetworkPolicy() const;
};

struct Verdict {
  bool allowed = true;
  DirectionVerdict egress;   // judged on the source
  DirectionVerdict ingress;  // judged on the destination
  std::vector<std::string> notes;
};

/// One end of a flow: a pod (by id) or a bare address.
struct FlowEnd {
  std::optional<PodId> pod;
  std::optional<IpAddress> address;  // for a pod: which of its IPs (default: first)
  static FlowEnd ofPod(PodId id) { return FlowEnd{id, std::nullopt}; }
  static FlowEnd ofAddress(IpAddress a) { return FlowEnd{std::nullopt, a}; }
};

/// Reference semantics over the cluster state.
Verdict evaluate(const ClusterState& state, const FlowEnd& src, const FlowEnd& dst,
                 Protocol protocol, int32_t port);

/// What a ruleset decides for a packet src → dst. Egress is judged when src is
/// an endpoint of the ruleset, ingress when dst is; host-originated traffic
/// to a local endpoint is allowed. Fails on an invalid ruleset
/// (RulesetEvaluator::create); build a RulesetEvaluator to judge many packets.
Result<Verdict> evaluate(const ir::Ruleset& ruleset, const IpAddress& src, const IpAddress& dst,
                         Protocol protocol, int32_t port);

}  // namespace palisade::policy
