#include "policy/model/cluster_policy.h"

#include <tuple>

namespace palisade::policy {

const char* tierName(Tier t) { return t == Tier::Admin ? "Admin" : "Baseline"; }

const char* actionName(ClusterRuleAction a) {
  switch (a) {
    case ClusterRuleAction::Accept:
      return "Accept";
    case ClusterRuleAction::Deny:
      return "Deny";
    case ClusterRuleAction::Pass:
      return "Pass";
  }
  return "?";
}

const char* clusterPolicyKindName(ClusterPolicyKind k) {
  switch (k) {
    case ClusterPolicyKind::ClusterNetworkPolicy:
      return "ClusterNetworkPolicy";
    case ClusterPolicyKind::AdminNetworkPolicy:
      return "AdminNetworkPolicy";
    case ClusterPolicyKind::BaselineAdminNetworkPolicy:
      return "BaselineAdminNetworkPolicy";
  }
  return "?";
}

bool evaluatedBefore(const ClusterPolicy& a, const ClusterPolicy& b) {
  // The BANP comes after every Baseline CNP; otherwise priority, then name
  // (the API leaves ties undefined; this is kube-network-policies' order),
  // then a CNP before an ANP of the same name.
  auto key = [](const ClusterPolicy& p) {
    return std::tuple(p.kind == ClusterPolicyKind::BaselineAdminNetworkPolicy, p.priority,
                      std::string_view(p.meta.name), p.kind);
  };
  return key(a) < key(b);
}

}  // namespace palisade::policy
