// Full compile of one node's ruleset, and loading the cluster state it reads, at 1k, 10k
// and 150k pods (the last one is Kubernetes' scale limit: 10k namespaces, 10k policies).
//
// Targets (issue 2, "Performance"): compile ≤ 1 s on one core; state + ruleset ≤ 300 MB.
//
// Memory is measured once per cluster size, outside the timed loops, as counters:
//   state_MB         resident growth from loading the state (RSS after − before)
//   state_heap_MB    the same as live heap bytes (mallinfo2), immune to allocator caching
//   state_peak_MB    peak resident growth while loading (VmHWM after a reset − RSS before)
//   ruleset_MB       resident growth from one compile, ruleset still alive
//   compile_peak_MB  peak resident growth during one compile (working set + result)
//   total_peak_MB    state_MB + compile_peak_MB: what an agent holding the state peaks at
// The generator's own objects are built before the "before" samples, so they are not
// counted. The machine may be shared: treat times as upper bounds.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <fstream>
#include <memory>
#include <string>

#include "policy/compile/compile.h"
#include "tests/bench/synthetic_cluster.h"

namespace palisade::bench {

namespace ir = palisade::ir;

/// A field of /proc/self/status in MB ("VmRSS", "VmHWM"), or -1 when unreadable.
double procStatusMb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == field + ":") {
      double kb = 0;
      in >> kb;
      return kb / 1024.0;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

/// Gives freed memory back to the kernel, so RSS reflects live data only.
void trimHeap() { malloc_trim(0); }

/// Resets VmHWM to the current RSS (Linux ≥ 4.0), so a later VmHWM is the peak of what
/// follows. Returns false when /proc does not allow it; peaks are then not reported.
bool resetPeak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

double heapMb() {
  struct mallinfo2 mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
}

struct Loaded {
  size_t pods = 0;
  SyntheticCluster cluster;
  policy::ClusterState state;
  double state_mb = 0;
  double state_heap_mb = 0;
  double state_peak_mb = -1;
  double ruleset_mb = 0;
  double compile_peak_mb = -1;
};

// One cluster at a time: the 150k one alone is hundreds of MB of generator objects.
Loaded& loaded(size_t pods) {
  static std::unique_ptr<Loaded> current;
  if (current && current->pods == pods) return *current;
  current.reset();
  trimHeap();
  auto l = std::make_unique<Loaded>();
  l->pods = pods;
  l->cluster = generateCluster(ClusterShape::scaled(pods));
  trimHeap();

  const double rss0 = procStatusMb("VmRSS");
  const double heap0 = heapMb();
  const bool peaks = resetPeak();
  loadInto(l->cluster, l->state);
  trimHeap();
  l->state_mb = procStatusMb("VmRSS") - rss0;
  l->state_heap_mb = heapMb() - heap0;
  if (peaks) l->state_peak_mb = procStatusMb("VmHWM") - rss0;

  const double rss1 = procStatusMb("VmRSS");
  resetPeak();
  {
    ir::Ruleset rs = policy::compile(l->state, SyntheticCluster::kBenchNode);
    if (peaks) l->compile_peak_mb = procStatusMb("VmHWM") - rss1;
    trimHeap();
    l->ruleset_mb = procStatusMb("VmRSS") - rss1;
  }
  trimHeap();
  current = std::move(l);
  return *current;
}

void rulesetCounters(benchmark::State& st, const ir::Ruleset& rs) {
  size_t rules = 0;
  size_t v4 = 0;
  size_t v6 = 0;
  for (const auto& p : rs.programs()) rules += p.rules_size();
  for (const auto& s : rs.peer_sets()) {
    v4 += s.v4_size();
    v6 += s.v6_size();
  }
  st.counters["endpoints"] = rs.endpoints_size();
  st.counters["programs"] = rs.programs_size();
  st.counters["rules"] = rules;
  st.counters["peer_sets"] = rs.peer_sets_size();
  st.counters["peer_v4_cidrs"] = v4;
  st.counters["peer_v6_cidrs"] = v6;
  st.counters["port_sets"] = rs.port_sets_size();
  st.counters["ruleset_bytes"] = rs.ByteSizeLong();
}

void memoryCounters(benchmark::State& st, const Loaded& l) {
  st.counters["state_MB"] = l.state_mb;
  st.counters["state_heap_MB"] = l.state_heap_mb;
  st.counters["ruleset_MB"] = l.ruleset_mb;
  if (l.state_peak_mb >= 0) st.counters["state_peak_MB"] = l.state_peak_mb;
  if (l.compile_peak_mb >= 0) {
    st.counters["compile_peak_MB"] = l.compile_peak_mb;
    st.counters["total_peak_MB"] = l.state_mb + l.compile_peak_mb;
  }
}

/// policy::compile(state, "node-0"): 110 local pods, every policy of the cluster in view.
void BM_FullCompileNode(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  ir::Ruleset last;
  for (auto _ : st) {
    ir::Ruleset rs = policy::compile(l.state, SyntheticCluster::kBenchNode);
    benchmark::DoNotOptimize(rs);
    st.PauseTiming();  // freeing the previous result is not part of compiling
    last = std::move(rs);
    st.ResumeTiming();
  }
  rulesetCounters(st, last);
  memoryCounters(st, l);
  st.counters["pods"] = static_cast<double>(l.state.podCount());
}

/// Loading every object into a fresh ClusterState (agent start-up, `palisade` CLI).
void BM_LoadState(benchmark::State& st, size_t pods) {
  Loaded& l = loaded(pods);
  for (auto _ : st) {
    auto state = std::make_unique<policy::ClusterState>();
    loadInto(l.cluster, *state);
    benchmark::DoNotOptimize(state->podCount());
    st.PauseTiming();
    state.reset();
    st.ResumeTiming();
  }
  st.counters["objects"] = static_cast<double>(l.cluster.pods.size() + l.cluster.policies.size() +
                                               l.cluster.namespaces.size());
}

}  // namespace palisade::bench

// Registered size by size rather than family by family, so each cluster is built once.
int main(int argc, char** argv) {
  using namespace palisade::bench;
  for (size_t pods : {1'000, 10'000, 150'000}) {
    const std::string n = "/" + std::to_string(pods);
    benchmark::RegisterBenchmark(("BM_FullCompileNode" + n).c_str(), BM_FullCompileNode, pods)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_LoadState" + n).c_str(), BM_LoadState, pods)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
