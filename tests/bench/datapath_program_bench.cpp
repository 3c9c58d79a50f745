// Datapath benchmarks (root; the process moves into its own network namespace
// first, so nothing outside it is touched). Full programming, batch vs nft -f,
// is datapath_full_program_bench.
//  - one pod change (add or remove, alternating) at 1k/10k/150k cluster pods:
//    render + diff + build + send + kernel ack, IR already compiled.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

#include "datapath/nft/programmer.h"
#include "policy/compile/compile.h"
#include "tests/bench/synthetic_cluster.h"

namespace nft = palisade::datapath::nft;
namespace ir = palisade::ir::v1;

namespace {

struct Compiled {
  ir::Ruleset node0;    // node-0
  ir::Ruleset node0_plus;  // node-0 with one more pod
};

const Compiled& compiled(size_t pods) {
  static std::map<size_t, std::unique_ptr<Compiled>> cache;
  auto& c = cache[pods];
  if (!c) {
    c = std::make_unique<Compiled>();
    auto cluster = palisade::bench::generateCluster(palisade::bench::ClusterShape::scaled(pods));
    palisade::policy::ClusterState state;
    palisade::bench::loadInto(cluster, state);
    c->node0 = palisade::policy::compile(state, palisade::bench::SyntheticCluster::kBenchNode);
    palisade::bench::PodChurn churn(cluster);
    state.upsertPod(churn.newPod(1));
    c->node0_plus = palisade::policy::compile(state, palisade::bench::SyntheticCluster::kBenchNode);
  }
  return *c;
}

std::unique_ptr<nft::Programmer> programmer() {
  auto t = nft::openMnlTransport();
  if (!t) return nullptr;
  return std::make_unique<nft::Programmer>(std::move(*t), nft::ProgrammerOptions{});
}

void BM_OnePodChange(benchmark::State& st) {
  const Compiled& c = compiled(st.range(0));
  auto p = programmer();
  if (!p->replace(c.node0)) st.SkipWithError("initial sync failed");
  bool plus = false;
  size_t elems = 0, msgs = 0;
  for (auto _ : st) {
    plus = !plus;
    auto r = p->sync(plus ? c.node0_plus : c.node0);
    if (!r || !r->elements_only) st.SkipWithError("pod change was not an element delta");
    else elems += r->element_changes, msgs += r->messages;
  }
  st.counters["elements_per_change"] = double(elems) / double(st.iterations());
  st.counters["messages_per_change"] = double(msgs) / double(st.iterations());
  st.counters["node0_peer_sets"] = c.node0.peer_sets_size();
  (void)p->deleteTable();
}

}  // namespace

BENCHMARK(BM_OnePodChange)->Arg(1'000)->Arg(10'000)->Arg(150'000)->Unit(benchmark::kMicrosecond);

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
