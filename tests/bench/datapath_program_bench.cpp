// Datapath benchmarks (root; the process moves into its own network namespace
// first, so nothing outside it is touched). Full programming, batch vs nft -f,
// is datapath_full_program_bench.
//  - one pod change (add or remove, alternating) at 1k/10k/150k cluster pods:
//    render + diff + build + send + kernel ack, IR already compiled (sync);
//  - the same through the delta path (BM_OnePodChangeDelta), end to end: the
//    incremental compiler's delta, then Programmer::apply (render what the
//    delta touches, build, send, kernel ack).
#include <benchmark/benchmark.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "datapath/nft/programmer.h"
#include "policy/compile/compile.h"
#include "policy/compile/incremental.h"
#include "tests/bench/synthetic_cluster.h"

namespace nft = palisade::datapath::nft;
namespace ir = palisade::ir;

namespace {

struct Compiled {
  ir::Ruleset node0;       // node-0
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
    if (!r || !r->elements_only)
      st.SkipWithError("pod change was not an element delta");
    else
      elems += r->element_changes, msgs += r->messages;
  }
  st.counters["elements_per_change"] = double(elems) / double(st.iterations());
  st.counters["messages_per_change"] = double(msgs) / double(st.iterations());
  st.counters["node0_peer_sets"] = c.node0.peer_sets_size();
  (void)p->deleteTable();
}

/// A cluster loaded into a state that an incremental compiler for node-0 owns.
struct Incremental {
  palisade::bench::SyntheticCluster cluster;
  palisade::policy::ClusterState state;
  std::unique_ptr<palisade::policy::IncrementalCompiler> compiler;
};

Incremental& incremental(size_t pods) {
  static std::map<size_t, std::unique_ptr<Incremental>> cache;
  auto& c = cache[pods];
  if (!c) {
    c = std::make_unique<Incremental>();
    c->cluster = palisade::bench::generateCluster(palisade::bench::ClusterShape::scaled(pods));
    palisade::bench::loadInto(c->cluster, c->state);
    c->compiler = std::make_unique<palisade::policy::IncrementalCompiler>(
        c->state, std::string(palisade::bench::SyntheticCluster::kBenchNode));
  }
  return *c;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

// Manual time per change (the Time column is the mean); p50/p99/max over the
// samples, and the two halves: the compiler's delta (+ the ruleset it leaves)
// and the kernel's part (Programmer::apply up to the ack).
void BM_OnePodChangeDelta(benchmark::State& st) {
  using Clock = std::chrono::steady_clock;
  auto us = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  Incremental& inc = incremental(size_t(st.range(0)));
  auto p = programmer();
  if (!p || !p->replace(inc.compiler->ruleset())) {
    st.SkipWithError("initial sync failed");
    return;
  }
  palisade::bench::PodChurn churn(inc.cluster);
  std::vector<double> total, compile, delta_only, kernel, sent;  // sent: changes that sent a batch
  palisade::policy::Pod pod;
  bool present = false;
  uint64_t serial = 0;
  size_t elems = 0, msgs = 0, full_path = 0;
  for (auto _ : st) {
    auto t0 = Clock::now();
    ir::RulesetDelta d;
    if (!present) {
      pod = churn.newPod(serial++);
      d = inc.compiler->upsertPod(pod);
    } else {
      d = inc.compiler->removePod(pod.meta.namespace_, pod.meta.name);
    }
    present = !present;
    auto td = Clock::now();
    const ir::Ruleset& rs = inc.compiler->ruleset();  // brings dirty peer sets up to date
    auto t1 = Clock::now();
    auto r = p->apply(rs, std::span(&d, 1));
    auto t2 = Clock::now();
    if (!r) {
      st.SkipWithError(r.error().str().c_str());
      break;
    }
    full_path += r->from_ir_delta ? 0 : 1;
    elems += r->element_changes;
    msgs += r->messages;
    total.push_back(us(t2 - t0));
    if (r->messages > 0) sent.push_back(us(t2 - t0));
    compile.push_back(us(t1 - t0));
    delta_only.push_back(us(td - t0));
    kernel.push_back(us(t2 - t1));
    st.SetIterationTime(std::chrono::duration<double>(t2 - t0).count());
  }
  if (present) (void)inc.compiler->removePod(pod.meta.namespace_, pod.meta.name);
  const double n = double(std::max<size_t>(total.size(), 1));
  st.counters["p50_us"] = percentile(total, 0.5);
  st.counters["p99_us"] = percentile(total, 0.99);
  st.counters["max_us"] = percentile(total, 1.0);
  // Some new pods are in no peer set and isolated by nothing: nothing to send.
  st.counters["sent_share"] = double(sent.size()) / n;
  st.counters["sent_p50_us"] = percentile(sent, 0.5);
  st.counters["sent_p99_us"] = percentile(sent, 0.99);
  st.counters["compile_p50_us"] = percentile(compile, 0.5);
  st.counters["compile_max_us"] = percentile(compile, 1.0);
  st.counters["delta_max_us"] = percentile(delta_only, 1.0);  // upsertPod/removePod alone
  st.counters["kernel_p50_us"] = percentile(kernel, 0.5);
  st.counters["kernel_p99_us"] = percentile(kernel, 0.99);
  st.counters["kernel_max_us"] = percentile(kernel, 1.0);
  st.counters["elements_per_change"] = double(elems) / n;
  st.counters["messages_per_change"] = double(msgs) / n;
  st.counters["full_path"] = double(full_path);
  (void)p->deleteTable();
}

}  // namespace

BENCHMARK(BM_OnePodChangeDelta)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(150'000)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
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
