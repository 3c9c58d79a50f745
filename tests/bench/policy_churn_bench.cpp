// Pod churn: one pod added, removed or relabelled, at 1k, 10k and 150k pods; and
// (issue 12) one NetworkPolicy or ClusterNetworkPolicy added or removed, one
// namespace relabelled into a ClusterNetworkPolicy's subject.
//
// Target (issue 2, "Performance"): one pod change → ruleset delta, median ≤ 100 µs, flat
// as the cluster grows.
//   BM_IncrementalPod{Add,Remove,Relabel}  IncrementalCompiler (policy/compile/incremental.h)
//                                     for node-0: state write + ir::RulesetDelta; the target.
//   BM_StatePod{Add,Remove,Relabel}   the ClusterState write alone (the floor any
//                                     incremental path pays: interning + index updates);
//   BM_PodAddFullRecompile            the write plus a full compile of node-0: what an
//                                     agent without the incremental compiler pays.
// The incremental benchmarks are built only when incremental.h exists.
// Each timed operation is one sample; p50_us/p99_us/max_us are over those samples (the
// "median" of the target), while Time is their mean.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "policy/compile/compile.h"
#if __has_include("policy/compile/incremental.h")
#include "policy/compile/incremental.h"
#define PALISADE_HAVE_INCREMENTAL 1
#endif
#include "tests/bench/synthetic_cluster.h"

namespace palisade::bench {

using Clock = std::chrono::steady_clock;

struct Loaded {
  size_t pods = 0;
  SyntheticCluster cluster;
  policy::ClusterState state;
  std::unique_ptr<PodChurn> churn;
  std::vector<policy::Pod> new_pods;  // built up front: making a Pod is not the cost measured
#ifdef PALISADE_HAVE_INCREMENTAL
  // Created on first use, after the state-only benchmarks (which write the state directly).
  std::unique_ptr<policy::IncrementalCompiler> incremental;
  double initial_compile_ms = 0;
#endif
};

Loaded& loaded(size_t pods) {
  static std::unique_ptr<Loaded> current;
  if (current && current->pods == pods) return *current;
  current.reset();
  auto l = std::make_unique<Loaded>();
  l->pods = pods;
  l->cluster = generateCluster(ClusterShape::scaled(pods));
  loadInto(l->cluster, l->state);
  l->churn = std::make_unique<PodChurn>(l->cluster);
  for (uint64_t serial = 0; serial < 100; ++serial) l->new_pods.push_back(l->churn->newPod(serial));
  current = std::move(l);
  return *current;
}

class Samples {
 public:
  void add(Clock::duration d) {
    us_.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  void report(benchmark::State& st) {
    if (us_.empty()) return;
    std::sort(us_.begin(), us_.end());
    st.counters["p50_us"] = us_[us_.size() / 2];
    st.counters["p99_us"] = us_[std::min(us_.size() - 1, us_.size() * 99 / 100)];
    st.counters["max_us"] = us_.back();
  }

 private:
  std::vector<double> us_;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void BM_StatePodAdd(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  Samples samples;
  size_t i = 0;
  for (auto _ : st) {
    const policy::Pod& pod = l.new_pods[i++ % l.new_pods.size()];
    auto t0 = Clock::now();
    l.state.upsertPod(pod);
    auto d = Clock::now() - t0;
    l.state.removePod(pod.meta.namespace_, pod.meta.name);  // untimed: back to the same state
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
}

void BM_StatePodRemove(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  Samples samples;
  size_t i = 0;
  for (auto _ : st) {
    const policy::Pod& pod = l.new_pods[i++ % l.new_pods.size()];
    l.state.upsertPod(pod);  // untimed
    auto t0 = Clock::now();
    l.state.removePod(pod.meta.namespace_, pod.meta.name);
    auto d = Clock::now() - t0;
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
}

void BM_StatePodRelabel(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  const policy::Pod& target = l.churn->relabelTarget();
  // Alternating canary / original labels: every write really changes what selects the pod.
  const std::vector<policy::LabelMap> labels = {l.churn->relabel(1), l.churn->relabel(2)};
  Samples samples;
  size_t i = 0;
  for (auto _ : st) {
    const policy::LabelMap& next = labels[i++ % 2];
    auto t0 = Clock::now();
    l.state.mergePodLabels(target.meta.namespace_, target.meta.name, next);
    auto d = Clock::now() - t0;
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
}

void BM_PodAddFullRecompile(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  Samples samples;
  size_t i = 0;
  for (auto _ : st) {
    const policy::Pod& pod = l.new_pods[i++ % l.new_pods.size()];
    auto t0 = Clock::now();
    l.state.upsertPod(pod);
    ir::Ruleset rs = policy::compile(l.state, SyntheticCluster::kBenchNode);
    auto d = Clock::now() - t0;
    benchmark::DoNotOptimize(rs);
    l.state.removePod(pod.meta.namespace_, pod.meta.name);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
}

#ifdef PALISADE_HAVE_INCREMENTAL
policy::IncrementalCompiler& incremental(Loaded& l) {
  if (!l.incremental) {
    // Put the relabel target back first, so every size starts from the generated cluster.
    l.state.mergePodLabels(l.churn->relabelTarget().meta.namespace_,
                           l.churn->relabelTarget().meta.name, l.churn->relabel(0));
    auto t0 = Clock::now();
    l.incremental = std::make_unique<policy::IncrementalCompiler>(
        l.state, std::string(SyntheticCluster::kBenchNode));
    l.incremental->ruleset();
    l.initial_compile_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  }
  return *l.incremental;
}

/// What a delta carries, summed over the timed deltas and reported per delta.
class DeltaSizes {
 public:
  void add(const ir::RulesetDelta& d) {
    deltas_++;
    full_ += d.full();
    for (const auto& p : d.peer_sets()) {
      elements_ += p.add_v4_size() + p.remove_v4_size() + p.add_v6_size() + p.remove_v6_size();
    }
    endpoints_ += d.upserted_endpoints_size() + d.removed_endpoints_size();
    new_objects_ += d.new_peer_sets_size() + d.new_port_sets_size() + d.new_programs_size();
  }
  void report(benchmark::State& st, const Loaded& l) const {
    const double n = deltas_ ? static_cast<double>(deltas_) : 1.0;
    st.counters["full_deltas"] = static_cast<double>(full_);
    st.counters["set_elems/delta"] = static_cast<double>(elements_) / n;
    st.counters["endpoints/delta"] = static_cast<double>(endpoints_) / n;
    st.counters["new_objs/delta"] = static_cast<double>(new_objects_) / n;
    st.counters["initial_compile_ms"] = l.initial_compile_ms;
  }

 private:
  size_t deltas_ = 0, full_ = 0, elements_ = 0, endpoints_ = 0, new_objects_ = 0;
};

void BM_IncrementalPodAdd(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    const policy::Pod& pod = l.new_pods[i++ % l.new_pods.size()];
    auto t0 = Clock::now();
    ir::RulesetDelta delta = inc.upsertPod(pod);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    inc.removePod(pod.meta.namespace_, pod.meta.name);  // untimed: back to the same state
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
}

void BM_IncrementalPodRemove(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    const policy::Pod& pod = l.new_pods[i++ % l.new_pods.size()];
    inc.upsertPod(pod);  // untimed
    auto t0 = Clock::now();
    ir::RulesetDelta delta = inc.removePod(pod.meta.namespace_, pod.meta.name);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
}

void BM_IncrementalPodRelabel(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  const policy::Pod& target = l.churn->relabelTarget();
  const std::vector<policy::LabelMap> labels = {l.churn->relabel(1), l.churn->relabel(2)};
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    const policy::LabelMap& next = labels[i++ % 2];
    auto t0 = Clock::now();
    ir::RulesetDelta delta = inc.mergePodLabels(target.meta.namespace_, target.meta.name, next);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
}

// ---- policy, cluster-policy and namespace changes (issue 12) ----

/// One NetworkPolicy of the cluster copied into a namespace with pods on node-0
/// and removed again, alternately: the delta of its namespace's endpoints.
void BM_IncrementalPolicyChange(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  const policy::Pod& local = l.cluster.pods[l.cluster.podsOnBenchNode().back()];
  policy::NetworkPolicy np = l.cluster.policies[l.cluster.policies.size() / 2];
  np.meta.namespace_ = local.meta.namespace_;
  np.meta.name = "bench-policy";
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    auto t0 = Clock::now();
    ir::RulesetDelta delta =
        i++ % 2 == 0 ? inc.upsertPolicy(np) : inc.removePolicy(np.meta.namespace_, np.meta.name);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
}

/// One ClusterNetworkPolicy of the cluster (Admin, many rules) added and removed.
void BM_IncrementalClusterPolicyChange(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  policy::ClusterNetworkPolicy cnp = l.cluster.cluster_policies.front();
  for (const auto& c : l.cluster.cluster_policies)
    if (c.tier == policy::Tier::Admin &&
        c.ingress.size() + c.egress.size() > cnp.ingress.size() + cnp.egress.size())
      cnp = c;
  cnp.meta.name = "bench-cnp";
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    auto t0 = Clock::now();
    ir::RulesetDelta delta =
        i++ % 2 == 0 ? inc.upsertClusterPolicy(cnp)
                     : inc.removeClusterPolicy(policy::ClusterPolicyKind::ClusterNetworkPolicy,
                                               cnp.meta.name);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
}

/// A namespace of about 50 pods relabelled into and out of a ClusterNetworkPolicy's
/// subject (and its namespace peer): subjects on node-0 and peer set elements move.
void BM_IncrementalNamespaceRelabelIntoSubject(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  policy::IncrementalCompiler& inc = incremental(l);
  // The namespace whose size is closest to 50 pods.
  std::map<std::string, size_t> sizes_by_ns;
  for (const auto& p : l.cluster.pods) sizes_by_ns[p.meta.namespace_]++;
  std::string ns;
  size_t best = SIZE_MAX;
  for (const auto& [name, n] : sizes_by_ns) {
    const size_t off = n > 50 ? n - 50 : 50 - n;
    if (off < best) best = off, ns = name;
  }
  policy::ClusterNetworkPolicy cnp;
  cnp.meta.name = "bench-subject";
  cnp.tier = policy::Tier::Admin;
  cnp.priority = 1;
  policy::LabelSelector marked;
  marked.match_labels["bench-subject"] = "yes";
  cnp.subject.namespaces = marked;
  policy::ClusterPolicyRule rule;
  rule.action = policy::ClusterRuleAction::Deny;
  rule.peers.emplace_back().namespaces = marked;
  cnp.ingress.push_back(rule);
  cnp.egress.push_back(rule);
  inc.upsertClusterPolicy(cnp);
  Samples samples;
  DeltaSizes sizes;
  size_t i = 0;
  for (auto _ : st) {
    policy::Namespace n;
    for (const auto& c : l.cluster.namespaces)
      if (c.meta.name == ns) n = c;
    if (i++ % 2 == 0) n.meta.labels["bench-subject"] = "yes";
    auto t0 = Clock::now();
    ir::RulesetDelta delta = inc.upsertNamespace(n);
    auto d = Clock::now() - t0;
    sizes.add(delta);
    st.SetIterationTime(seconds(d));
    samples.add(d);
  }
  samples.report(st);
  sizes.report(st, l);
  st.counters["ns_pods"] = static_cast<double>(sizes_by_ns[ns]);
}
#endif  // PALISADE_HAVE_INCREMENTAL

}  // namespace palisade::bench

// Registered size by size rather than family by family, so each cluster is built once.
int main(int argc, char** argv) {
  using namespace palisade::bench;
  using Fn = void (*)(benchmark::State&, size_t);
  // Order matters within a size: the state-only benchmarks write the state directly, so
  // they run before the incremental compiler takes the state over.
  const std::vector<std::pair<const char*, Fn>> benches = {
      {"BM_StatePodAdd", BM_StatePodAdd},
      {"BM_StatePodRemove", BM_StatePodRemove},
      {"BM_StatePodRelabel", BM_StatePodRelabel},
      {"BM_PodAddFullRecompile", BM_PodAddFullRecompile},
#ifdef PALISADE_HAVE_INCREMENTAL
      {"BM_IncrementalPodAdd", BM_IncrementalPodAdd},
      {"BM_IncrementalPodRemove", BM_IncrementalPodRemove},
      {"BM_IncrementalPodRelabel", BM_IncrementalPodRelabel},
      {"BM_IncrementalPolicyChange", BM_IncrementalPolicyChange},
      {"BM_IncrementalClusterPolicyChange", BM_IncrementalClusterPolicyChange},
      {"BM_IncrementalNamespaceRelabelIntoSubject", BM_IncrementalNamespaceRelabelIntoSubject},
#endif
  };
  for (size_t pods : {1'000, 10'000, 150'000}) {
    for (const auto& [name, fn] : benches) {
      const std::string full = std::string(name) + "/" + std::to_string(pods);
      auto* b = benchmark::RegisterBenchmark(full.c_str(), fn, pods);
      b->UseManualTime()->Unit(fn == BM_PodAddFullRecompile ? benchmark::kMillisecond
                                                            : benchmark::kMicrosecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
