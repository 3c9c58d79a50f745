// Full programming of a compiled ruleset, side by side in one run (root; the
// process moves into its own network namespace first, so nothing outside it is
// touched):
//  - BM_FullProgramBatch: Programmer::replace, i.e. render + build one libnftnl
//    batch + send + kernel acks, with the phases as counters;
//  - BM_FullProgramNftF: `nft -f` of the text rendering of the same table.
// Sizes: the scaled synthetic cluster at 1k and 10k pods compiled for every
// node at once (node "": every pod local, every policy relevant), and issue 3's
// large case, the default 150k-pod cluster (10k namespaces, 10k policies) also
// compiled for node "": 10k local-relevant policies over 150k-pod peer sets.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "datapath/nft/batch.h"
#include "datapath/nft/programmer.h"
#include "datapath/nft/text.h"
#include "policy/compile/compile.h"
#include "tests/bench/synthetic_cluster.h"

namespace nft = palisade::datapath::nft;
namespace ir = palisade::ir;

namespace {

/// compile(state, "") of the cluster of `pods` pods; 150k is the default shape
/// (Kubernetes' limits), smaller sizes keep its density.
const ir::Ruleset& everyPodLocal(size_t pods) {
  static std::map<size_t, std::unique_ptr<ir::Ruleset>> cache;
  auto& rs = cache[pods];
  if (!rs) {
    auto shape = pods >= 150'000 ? palisade::bench::ClusterShape{}
                                 : palisade::bench::ClusterShape::scaled(pods);
    auto cluster = palisade::bench::generateCluster(shape);
    palisade::policy::ClusterState state;
    palisade::bench::loadInto(cluster, state);
    rs = std::make_unique<ir::Ruleset>(palisade::policy::compile(state, ""));
  }
  return *rs;
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void sizeCounters(benchmark::State& st, const ir::Ruleset& rs, const nft::TableModel& m) {
  size_t elements = 0, rules = 0;
  for (const auto& [name, s] : m.sets) elements += s.elementCount();
  for (const auto& [name, c] : m.chains) rules += c.rules.size();
  st.counters["policies_programs"] = rs.programs_size();
  st.counters["endpoints"] = rs.endpoints_size();
  st.counters["sets"] = double(m.sets.size());
  st.counters["elements"] = double(elements);
  st.counters["chains"] = double(m.chains.size());
  st.counters["rules"] = double(rules);
}

void BM_FullProgramBatch(benchmark::State& st) {
  const ir::Ruleset& rs = everyPodLocal(st.range(0));
  auto transport = nft::openMnlTransport();
  if (!transport) {
    st.SkipWithError(transport.error().str().c_str());
    return;
  }
  nft::Programmer p(std::move(*transport), nft::ProgrammerOptions{});
  size_t bytes = 0, messages = 0;
  for (auto _ : st) {
    auto r = p.replace(rs);
    if (!r) {
      st.SkipWithError(r.error().str().c_str());
      break;
    }
    bytes = r->bytes;
    messages = r->messages;
  }
  // The phases, once more outside the timed loop: where the time goes.
  auto t0 = std::chrono::steady_clock::now();
  auto model = nft::render(rs);
  st.counters["render_ms"] = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  nft::Batch b = nft::buildReplace(*model);
  st.counters["build_ms"] = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  auto acks = p.transport().sendBatch({b.data(), b.size()});
  st.counters["send_ack_ms"] = msSince(t0);
  if (!acks) st.SkipWithError(acks.error().str().c_str());
  st.counters["batch_MB"] = double(bytes) / 1e6;
  st.counters["messages"] = double(messages);
  sizeCounters(st, rs, *model);
  (void)p.deleteTable();
}

void BM_FullProgramNftF(benchmark::State& st) {
  const ir::Ruleset& rs = everyPodLocal(st.range(0));
  auto model = nft::render(rs);
  // nft -f replaces the table the same way: delete if present, then add.
  std::string path = "/tmp/palisade-bench-" + std::to_string(getpid()) + ".nft";
  std::ofstream(path) << "table inet palisade\ndelete table inet palisade\n"
                      << nft::renderText(*model);
  for (auto _ : st) {
    if (std::system(("nft -f " + path).c_str()) != 0) {
      st.SkipWithError("nft -f failed");
      break;
    }
  }
  sizeCounters(st, rs, *model);
  std::remove(path.c_str());
  std::system("nft delete table inet palisade 2>/dev/null");
}

}  // namespace

BENCHMARK(BM_FullProgramBatch)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(150'000)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_FullProgramNftF)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(150'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

int main(int argc, char** argv) {
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "datapath benchmarks need root (they run in a private netns)\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
