// The incremental compiler's policy, cluster-policy and namespace paths
// against the full compile: after every event of a long random sequence on a
// synthetic cluster (pods, NetworkPolicies, ClusterNetworkPolicies, namespace
// relabels), its ruleset must enforce exactly what a fresh compile of the
// same state enforces, and nearly every event must be a delta, not a recompile.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "policy/compile/compile.h"
#include "policy/compile/incremental.h"
#include "tests/bench/synthetic_cluster.h"
#include "tests/policy/support/ruleset_canon.h"

namespace palisade::policy {
namespace {

using bench::ClusterShape;
using bench::SyntheticCluster;
using testing::canon;

class PolicyEvents {
 public:
  explicit PolicyEvents(uint32_t seed)
      : cluster_(bench::generateCluster(ClusterShape::scaled(1000, seed))), rng_(seed) {
    bench::loadInto(cluster_, state_);
    compiler_ =
        std::make_unique<IncrementalCompiler>(state_, std::string(SyntheticCluster::kBenchNode));
    for (const auto& p : cluster_.policies) policies_.emplace_back(p.meta.namespace_, p.meta.name);
    for (const auto& p : cluster_.cluster_policies) cluster_policies_.push_back(p.meta.name);
  }

  ClusterState& state() { return state_; }
  IncrementalCompiler& compiler() { return *compiler_; }
  const std::string& last() const { return last_; }

  ir::RulesetDelta step() {
    switch (rng_() % 8) {
      case 0:
        return addPolicy();
      case 1:
        return removePolicy();
      case 2:
        return addClusterPolicy();
      case 3:
        return removeClusterPolicy();
      case 4:
        return changeClusterPolicy();
      case 5:
      case 6:
        return relabelNamespace();
      default:
        return relabelPod();
    }
  }

 private:
  template <typename T>
  const T& any(const std::vector<T>& v) {
    return v[rng_() % v.size()];
  }

  /// A policy of the cluster, copied into a random namespace under a new name.
  ir::RulesetDelta addPolicy() {
    NetworkPolicy p = any(cluster_.policies);
    p.meta.namespace_ = any(cluster_.namespaces).meta.name;
    p.meta.name = "event-" + std::to_string(serial_++);
    policies_.emplace_back(p.meta.namespace_, p.meta.name);
    last_ = "add NetworkPolicy " + p.meta.namespace_ + "/" + p.meta.name;
    return compiler_->upsertPolicy(p);
  }

  ir::RulesetDelta removePolicy() {
    if (policies_.empty()) return addPolicy();
    const size_t i = rng_() % policies_.size();
    auto [ns, name] = policies_[i];
    policies_[i] = policies_.back();
    policies_.pop_back();
    last_ = "remove NetworkPolicy " + ns + "/" + name;
    return compiler_->removePolicy(ns, name);
  }

  ir::RulesetDelta addClusterPolicy() {
    ClusterNetworkPolicy p = any(cluster_.cluster_policies);
    p.meta.name = "event-cnp-" + std::to_string(serial_++);
    p.priority = static_cast<int32_t>(rng_() % 1001);
    cluster_policies_.push_back(p.meta.name);
    last_ = "add ClusterNetworkPolicy " + p.meta.name;
    return compiler_->upsertClusterPolicy(p);
  }

  ir::RulesetDelta removeClusterPolicy() {
    if (cluster_policies_.empty()) return addClusterPolicy();
    const size_t i = rng_() % cluster_policies_.size();
    const std::string name = cluster_policies_[i];
    cluster_policies_[i] = cluster_policies_.back();
    cluster_policies_.pop_back();
    last_ = "remove ClusterNetworkPolicy " + name;
    return compiler_->removeClusterPolicy(ClusterPolicyKind::ClusterNetworkPolicy, name);
  }

  /// Another policy's spec under an existing name: subject, rules and tier change.
  ir::RulesetDelta changeClusterPolicy() {
    if (cluster_policies_.empty()) return addClusterPolicy();
    ClusterNetworkPolicy p = any(cluster_.cluster_policies);
    p.meta.name = any(cluster_policies_);
    last_ = "replace ClusterNetworkPolicy " + p.meta.name;
    return compiler_->upsertClusterPolicy(p);
  }

  /// A namespace takes another team's or environment's label (moving its pods
  /// into and out of namespace selectors and cluster-policy subjects).
  ir::RulesetDelta relabelNamespace() {
    const Namespace& ns = any(cluster_.namespaces);
    const Namespace& other = any(cluster_.namespaces);
    LabelMap labels;
    for (const char* key : {"team", "env"})
      if (auto it = other.meta.labels.find(key); it != other.meta.labels.end())
        labels[key] = it->second;
    if (labels.empty()) labels["team"] = "payments";
    last_ = "relabel namespace " + ns.meta.name + " like " + other.meta.name;
    return compiler_->mergeNamespaceLabels(ns.meta.name, labels);
  }

  ir::RulesetDelta relabelPod() {
    const Pod& p = any(cluster_.pods);
    const Pod& from = any(cluster_.pods);
    LabelMap labels;
    for (const char* key : {"app", "tier"})
      if (auto it = from.meta.labels.find(key); it != from.meta.labels.end())
        labels[key] = it->second;
    last_ = "relabel pod " + p.meta.namespace_ + "/" + p.meta.name;
    return compiler_->mergePodLabels(p.meta.namespace_, p.meta.name, labels);
  }

  SyntheticCluster cluster_;
  ClusterState state_;
  std::unique_ptr<IncrementalCompiler> compiler_;
  std::mt19937 rng_;
  std::vector<std::pair<std::string, std::string>> policies_;
  std::vector<std::string> cluster_policies_;
  uint64_t serial_ = 0;
  std::string last_;
};

/// The first line where two canons differ (each clipped), or "".
std::string firstDifference(const std::string& a, const std::string& b) {
  size_t pa = 0, pb = 0, line = 0;
  std::string last_endpoint;
  while (pa < a.size() || pb < b.size()) {
    const size_t ea = std::min(a.find('\n', pa), a.size());
    const size_t eb = std::min(b.find('\n', pb), b.size());
    const std::string la = a.substr(pa, ea - pa), lb = b.substr(pb, eb - pb);
    if (!la.empty() && la[0] != ' ') last_endpoint = la.substr(0, la.find(' '));
    if (la != lb)
      return "line " + std::to_string(line) + " (" + last_endpoint +
             "):\n  incremental: " + la.substr(0, 400) + "\n  full:        " + lb.substr(0, 400);
    pa = ea + 1;
    pb = eb + 1;
    ++line;
  }
  return "";
}

class IncrementalPolicyEvents : public ::testing::TestWithParam<uint32_t> {};

TEST_P(IncrementalPolicyEvents, EveryEventEqualsAFreshFullCompile) {
  PolicyEvents events(GetParam());
  int deltas = 0, recompiles = 0, with_endpoints = 0, with_elements = 0;
  for (int step = 0; step < 200; ++step) {
    const ir::RulesetDelta d = events.step();
    (d.full() ? recompiles : deltas)++;
    with_endpoints += d.upserted_endpoints_size() > 0;
    with_elements += d.peer_sets_size() > 0;
    ASSERT_EQ(firstDifference(canon(events.compiler().ruleset()),
                              canon(compile(events.state(), SyntheticCluster::kBenchNode))),
              "")
        << "step " << step << ": " << events.last();
  }
  // Compaction and the rare new named-port number recompile; the rest are deltas
  // that change endpoints' programs and set elements.
  EXPECT_GT(deltas, 180) << recompiles << " recompiles";
  EXPECT_GT(with_endpoints, 20);
  EXPECT_GT(with_elements, 20);
}

INSTANTIATE_TEST_SUITE_P(Seeds, IncrementalPolicyEvents, ::testing::Values(3u, 11u, 2024u));

// Long enough that unused programs pile up past the slack: they are retired
// in place (a delta naming them), never by a recompile, and the ruleset
// still enforces what a fresh compile does after every event.
TEST(IncrementalPolicyEventsLong, UnusedProgramsAreRetiredInPlace) {
  PolicyEvents events(3);
  int recompiles = 0, retiring = 0;
  std::set<uint32_t> retired;
  for (int step = 0; step < 600; ++step) {
    const ir::RulesetDelta d = events.step();
    recompiles += d.full();
    if (d.full()) retired.clear();  // a recompile numbers everything afresh
    retiring += d.retired_programs_size() + d.retired_peer_sets_size() > 0;
    for (uint32_t id : d.retired_programs()) {
      EXPECT_TRUE(retired.insert(id).second) << "program " << id << " retired twice";
    }
    const ir::Ruleset& rs = events.compiler().ruleset();
    for (const ir::Endpoint& ep : rs.endpoints()) {
      for (uint32_t id : {ep.ingress_program(), ep.egress_program(), ep.admin_ingress_program(),
                          ep.admin_egress_program(), ep.baseline_ingress_program(),
                          ep.baseline_egress_program()}) {
        if (id != 0) {
          ASSERT_FALSE(rs.programs(int(id) - 1).retired()) << "step " << step;
        }
      }
    }
    if (step % 10 != 9 && d.retired_programs_size() + d.retired_peer_sets_size() == 0) continue;
    ASSERT_EQ(
        firstDifference(canon(rs), canon(compile(events.state(), SyntheticCluster::kBenchNode))),
        "")
        << "step " << step << ": " << events.last();
  }
  EXPECT_GT(retiring, 0);
  EXPECT_LT(recompiles, 10);  // the rare new named-port number only
}

}  // namespace
}  // namespace palisade::policy
