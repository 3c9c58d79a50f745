#pragma once
// The cluster tiers (DESIGN.md §8) as plain values: ClusterNetworkPolicy
// (policy.networking.k8s.io/v1alpha2) and the v1alpha1 AdminNetworkPolicy and
// BaselineAdminNetworkPolicy mapped onto the same model: ANP → Admin tier,
// BANP → the last policy of the Baseline tier, Allow → Accept, `ports` →
// `protocols`. What the decoder produces after the CRDs' validation.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/model/objects.h"

namespace palisade::policy {

enum class Tier : uint8_t { Admin, Baseline };
const char* tierName(Tier t);

enum class ClusterRuleAction : uint8_t { Accept, Deny, Pass };
const char* actionName(ClusterRuleAction a);

/// Which object a ClusterPolicy was read from. Ties of priority are broken by
/// name, then by this order (a CNP before an ANP of the same name).
enum class ClusterPolicyKind : uint8_t {
  ClusterNetworkPolicy,        // v1alpha2, either tier
  AdminNetworkPolicy,          // v1alpha1, Admin tier
  BaselineAdminNetworkPolicy,  // v1alpha1, the singleton "default", after every Baseline CNP
};
const char* clusterPolicyKindName(ClusterPolicyKind k);

/// `pods`: a namespace selector AND a pod selector.
struct NamespacedPodSelector {
  LabelSelector namespace_selector;
  LabelSelector pod_selector;
};

/// Exactly one of the two is set.
struct ClusterPolicySubject {
  std::optional<LabelSelector> namespaces;
  std::optional<NamespacedPodSelector> pods;
};

/// One entry of `protocols` (v1alpha1 `ports`): a protocol with every port, a
/// port or an inclusive range of it, or a named port of the destination pod.
struct ClusterPolicyPort {
  Protocol protocol = Protocol::TCP;  // unused for a named port
  std::optional<int32_t> first;       // absent: every port of the protocol
  std::optional<int32_t> last;        // inclusive; == first for a single port
  std::string named_port;             // set: destinationNamedPort (any protocol)
};

/// One peer: exactly one kind is set, or none when the peer holds only a field
/// this API version does not define (a newer CRD than this build knows):
/// `unknown` then, and the rule fails closed (DESIGN.md §8).
struct ClusterPolicyPeer {
  std::optional<LabelSelector> namespaces;
  std::optional<NamespacedPodSelector> pods;
  std::optional<LabelSelector> nodes;     // egress only
  std::vector<Cidr> networks;             // egress only
  std::vector<std::string> domain_names;  // egress only; "*." prefix = wildcard
  bool unknown = false;
};

struct ClusterPolicyRule {
  std::string name;  // may be empty
  ClusterRuleAction action = ClusterRuleAction::Deny;
  std::vector<ClusterPolicyPeer> peers;  // `from` or `to`; never empty
  std::vector<ClusterPolicyPort> ports;  // empty: all traffic
  /// Fail closed: some peer is `unknown`. An Accept rule then matches nothing;
  /// a Deny or Pass rule denies all traffic of its direction for its subjects.
  bool failClosed() const {
    for (const auto& p : peers)
      if (p.unknown) return true;
    return false;
  }
};

struct ClusterPolicy {
  ObjectMeta meta;  // cluster-scoped: no namespace
  ClusterPolicyKind kind = ClusterPolicyKind::ClusterNetworkPolicy;
  Tier tier = Tier::Admin;
  int32_t priority = 0;  // 0..1000; a BANP sorts after every Baseline CNP whatever this says
  ClusterPolicySubject subject;
  std::vector<ClusterPolicyRule> ingress;
  std::vector<ClusterPolicyRule> egress;
};

/// Precedence within a tier: true when `a` is evaluated before `b`.
bool evaluatedBefore(const ClusterPolicy& a, const ClusterPolicy& b);

/// One type per API kind, so each is its own entry of the table of kinds
/// (policy/kinds/kinds.h) and its own API resource to watch; all three are the
/// same model.
template <ClusterPolicyKind K>
struct ClusterPolicyOf : ClusterPolicy {
  static constexpr ClusterPolicyKind kKind = K;
};
using ClusterNetworkPolicy = ClusterPolicyOf<ClusterPolicyKind::ClusterNetworkPolicy>;
using AdminNetworkPolicy = ClusterPolicyOf<ClusterPolicyKind::AdminNetworkPolicy>;
using BaselineAdminNetworkPolicy = ClusterPolicyOf<ClusterPolicyKind::BaselineAdminNetworkPolicy>;

}  // namespace palisade::policy
