#pragma once
// Random pod churn on a generated cluster through the real incremental
// compiler: each step adds, removes or relabels one pod and returns the
// ir::RulesetDelta the compiler made of it. Shared by the delta-path unit test
// (fake transport) and the kernel test (real nftables in a netns); link
// palisade_synthetic_cluster.
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "policy/compile/incremental.h"
#include "tests/bench/synthetic_cluster.h"

namespace palisade::datapath::testing {

class DeltaChurn {
 public:
  /// `policy_events`: besides pod changes, NetworkPolicies and cluster
  /// policies added, replaced and removed, and namespaces relabelled.
  DeltaChurn(size_t pods, uint32_t seed, bool policy_events = false)
      : cluster_(bench::generateCluster(bench::ClusterShape::scaled(pods, seed))),
        rng_(seed),
        policy_events_(policy_events) {
    bench::loadInto(cluster_, state_);
    compiler_ = std::make_unique<policy::IncrementalCompiler>(
        state_, std::string(bench::SyntheticCluster::kBenchNode));
    for (const auto& p : cluster_.pods) {
      if (p.host_network) continue;
      templates_.push_back(&p);
      live_.emplace_back(p.meta.namespace_, p.meta.name);
    }
  }

  const ir::Ruleset& ruleset() { return compiler_->ruleset(); }
  /// What the last step did, for failure messages.
  const std::string& lastStep() const { return last_; }

  ir::RulesetDelta step() {
    switch (rng_() % (policy_events_ ? 7 : 3)) {
      case 0:
        return add();
      case 1:
        return remove();
      case 2:
        return relabel();
      case 3:
      case 4:
        return policyChange();
      case 5:
        return clusterPolicyChange();
      default:
        return namespaceRelabel();
    }
  }

 private:
  const policy::Pod& anyTemplate() { return *templates_[rng_() % templates_.size()]; }

  ir::RulesetDelta add() {
    policy::Pod p = anyTemplate();
    const uint64_t n = serial_++;
    p.meta.name = "churn-" + std::to_string(n);
    // Two in five on the node under test, so endpoints come and go too.
    if (rng_() % 5 < 2) p.node_name = std::string(bench::SyntheticCluster::kBenchNode);
    const bool dual = std::any_of(p.ips.begin(), p.ips.end(), [](auto& a) { return !a.isV4(); });
    p.ips.clear();  // fresh addresses: no two live pods share one
    p.ips.push_back(*policy::IpAddress::parse("10.200." + std::to_string(n / 250) + "." +
                                              std::to_string(n % 250 + 1)));
    if (dual) p.ips.push_back(*policy::IpAddress::parse("fd00:99::" + std::to_string(n + 1)));
    live_.emplace_back(p.meta.namespace_, p.meta.name);
    last_ = "add " + p.meta.namespace_ + "/" + p.meta.name + " on " + p.node_name;
    return compiler_->upsertPod(p);
  }

  ir::RulesetDelta remove() {
    size_t i = rng_() % live_.size();
    auto [ns, name] = live_[i];
    live_[i] = live_.back();
    live_.pop_back();
    last_ = "remove " + ns + "/" + name;
    return compiler_->removePod(ns, name);
  }

  ir::RulesetDelta relabel() {
    const auto& [ns, name] = live_[rng_() % live_.size()];
    const policy::Pod& from = anyTemplate();
    policy::LabelMap labels;
    for (const char* key : {"app", "tier"})
      if (auto it = from.meta.labels.find(key); it != from.meta.labels.end())
        labels[key] = it->second;
    last_ = "relabel " + ns + "/" + name + " like " + from.meta.namespace_ + "/" + from.meta.name;
    return compiler_->mergePodLabels(ns, name, labels);
  }

  /// One of the cluster's NetworkPolicies copied into the namespace of a pod
  /// on the node under test (so its endpoints change), or one such copy removed.
  ir::RulesetDelta policyChange() {
    if (!added_policies_.empty() && rng_() % 2 == 0) {
      auto [ns, name] = added_policies_.back();
      added_policies_.pop_back();
      last_ = "remove policy " + ns + "/" + name;
      return compiler_->removePolicy(ns, name);
    }
    const auto local = cluster_.podsOnBenchNode();
    const policy::Pod& pod = cluster_.pods[local[rng_() % local.size()]];
    policy::NetworkPolicy np = cluster_.policies[rng_() % cluster_.policies.size()];
    np.meta.namespace_ = pod.meta.namespace_;
    np.meta.name = "churn-policy-" + std::to_string(serial_++);
    added_policies_.emplace_back(np.meta.namespace_, np.meta.name);
    last_ = "add policy " + np.meta.namespace_ + "/" + np.meta.name;
    return compiler_->upsertPolicy(np);
  }

  /// One of the cluster's ClusterNetworkPolicies removed, or put back with
  /// another priority (rules reordered across policies).
  ir::RulesetDelta clusterPolicyChange() {
    const policy::ClusterNetworkPolicy& from =
        cluster_.cluster_policies[rng_() % cluster_.cluster_policies.size()];
    if (rng_() % 3 == 0) {
      last_ = "remove cluster policy " + from.meta.name;
      return compiler_->removeClusterPolicy(policy::ClusterPolicyKind::ClusterNetworkPolicy,
                                            from.meta.name);
    }
    policy::ClusterNetworkPolicy cnp = from;
    cnp.priority = static_cast<int32_t>(rng_() % 1000);
    last_ = "upsert cluster policy " + cnp.meta.name + " priority " + std::to_string(cnp.priority);
    return compiler_->upsertClusterPolicy(cnp);
  }

  /// A namespace given the labels of another (so it moves in and out of
  /// namespace selectors: peer sets and cluster-policy subjects).
  ir::RulesetDelta namespaceRelabel() {
    const policy::Namespace& target = cluster_.namespaces[rng_() % cluster_.namespaces.size()];
    const policy::Namespace& like = cluster_.namespaces[rng_() % cluster_.namespaces.size()];
    policy::LabelMap labels;
    for (const auto& [k, v] : like.meta.labels)
      if (k != "kubernetes.io/metadata.name") labels[k] = v;
    last_ = "relabel namespace " + target.meta.name + " like " + like.meta.name;
    return compiler_->mergeNamespaceLabels(target.meta.name, labels);
  }

  bench::SyntheticCluster cluster_;
  policy::ClusterState state_;
  std::unique_ptr<policy::IncrementalCompiler> compiler_;
  std::mt19937 rng_;
  std::vector<const policy::Pod*> templates_;
  std::vector<std::pair<std::string, std::string>> live_;  // ns, name
  uint64_t serial_ = 0;
  std::string last_;
  bool policy_events_ = false;
  std::vector<std::pair<std::string, std::string>> added_policies_;  // ns, name
};

}  // namespace palisade::datapath::testing
