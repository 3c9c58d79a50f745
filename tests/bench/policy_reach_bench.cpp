// `palisade reach` on the upstream 9-pod model (x, y, z × a, b, c) with five typical
// policies: the verdict for all 81 ordered pairs, one (protocol, port) per matrix.
//
// Target (issue 2, "Performance"): ≤ 5 ms per matrix.
//   BM_ReachMatrixState    81 × policy::evaluate(ClusterState, pod, pod, ...): what reach runs
//   BM_ReachMatrixRuleset  81 × policy::evaluate(Ruleset, ip, ip, ...) on compile(state, "")
//   BM_ReachFromYaml       manifest text → ManifestSet → ClusterState → 81 verdicts: the CLI
//                          minus process start-up and file I/O
// Port 80 exercises numeric rules; port 81 the named port serve-81-tcp.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"
#include "policy/manifest/reader.h"
#include "tests/bench/synthetic_cluster.h"

namespace palisade::bench {
namespace {

using policy::ClusterState;
using policy::FlowEnd;
using policy::PodId;
using policy::Protocol;

size_t matrix(const ClusterState& state, int32_t port) {
  const std::vector<PodId> pods = state.podsSorted();
  size_t allowed = 0;
  for (PodId from : pods) {
    for (PodId to : pods) {
      allowed +=
          policy::evaluate(state, FlowEnd::ofPod(from), FlowEnd::ofPod(to), Protocol::TCP, port)
              .allowed;
    }
  }
  return allowed;
}

void matrixCounters(benchmark::State& st, size_t allowed) {
  st.counters["allowed"] = static_cast<double>(allowed);
  st.counters["pairs/s"] = benchmark::Counter(81, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_ReachMatrixState(benchmark::State& st) {
  const SyntheticCluster model = upstreamModel();
  ClusterState state;
  loadInto(model, state);
  const auto port = static_cast<int32_t>(st.range(0));
  size_t allowed = 0;
  for (auto _ : st) {
    allowed = matrix(state, port);
    benchmark::DoNotOptimize(allowed);
  }
  matrixCounters(st, allowed);
}
BENCHMARK(BM_ReachMatrixState)->Arg(80)->Arg(81)->Unit(benchmark::kMicrosecond);

void BM_ReachMatrixRuleset(benchmark::State& st) {
  const SyntheticCluster model = upstreamModel();
  ClusterState state;
  loadInto(model, state);
  const ir::Ruleset ruleset = policy::compile(state, "");
  std::vector<policy::IpAddress> ips;
  for (const auto& pod : model.pods) ips.push_back(pod.ips.front());
  const auto port = static_cast<int32_t>(st.range(0));
  size_t allowed = 0;
  for (auto _ : st) {
    allowed = 0;
    for (const auto& from : ips) {
      for (const auto& to : ips) {
        allowed += policy::evaluate(ruleset, from, to, Protocol::TCP, port)->allowed;
      }
    }
    benchmark::DoNotOptimize(allowed);
  }
  matrixCounters(st, allowed);
}
BENCHMARK(BM_ReachMatrixRuleset)->Arg(80)->Arg(81)->Unit(benchmark::kMicrosecond);

void BM_ReachFromYaml(benchmark::State& st) {
  const std::string yaml = toYaml(upstreamModel());
  const auto port = static_cast<int32_t>(st.range(0));
  size_t allowed = 0;
  for (auto _ : st) {
    policy::ManifestSet set = policy::readManifestText(yaml, "upstream.yaml");
    ClusterState state = ClusterState::fromManifests(set);
    allowed = matrix(state, port);
    benchmark::DoNotOptimize(allowed);
  }
  matrixCounters(st, allowed);
  st.counters["yaml_bytes"] = static_cast<double>(yaml.size());
}
BENCHMARK(BM_ReachFromYaml)->Arg(80)->Arg(81)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace palisade::bench

BENCHMARK_MAIN();
