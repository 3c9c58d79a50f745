#pragma once
// The cluster tiers of a synthetic cluster: ClusterNetworkPolicies (Admin and
// Baseline, 1-25 rules each, every peer kind) of the kinds operators write —
// guardrails on a team's namespaces, egress denies to the metadata service and
// node ports, DNS and monitoring allowances, baseline defaults per environment.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "policy/model/cluster_policy.h"

namespace palisade::bench {

/// What the generator may name: the cluster's team names, app names and node count.
struct ClusterPolicyVocabulary {
  std::vector<std::string> teams;
  std::vector<std::string> apps;
  size_t nodes = 1;
};

/// `count` policies, deterministic for a seed; names are unique.
std::vector<policy::ClusterNetworkPolicy> generateClusterPolicies(
    size_t count, const ClusterPolicyVocabulary& vocabulary, uint64_t seed);

}  // namespace palisade::bench
