// Agent scale figures at Kubernetes' published limits (150k pods, 10k
// namespaces, 10k policies):
//   rss:     resident memory of the agent's state (ClusterState, incremental
//            compiler, reflector key sets) after loading the cluster;
//   latency: API event → kernel acked for one pod change, one NetworkPolicy
//            or ClusterNetworkPolicy added or deleted, one namespace relabel,
//            through the real reconcile loop and nftables in a private network
//            namespace (root only; skipped otherwise).
// Usage: agent_scale_bench [pods] [iterations]
#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <unordered_set>

#include "agent/daemon/reconciler.h"
#include "datapath/nft/kernel.h"
#include "proto/base/log.h"
#include "tests/bench/synthetic_cluster.h"

using namespace palisade;
using namespace std::chrono_literals;

static long rssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int main(int argc, char** argv) {
  size_t pods = argc > 1 ? std::stoul(argv[1]) : 150'000;
  int iterations = argc > 2 ? std::stoi(argv[2]) : 300;
  // PALISADE_BENCH_DEBUG=1: the reconciler's debug lines (each batch and why
  // it took the path it took), to see where a slow sample went.
  const bool debug = std::getenv("PALISADE_BENCH_DEBUG") != nullptr;
  palisade::logger().configure(debug ? palisade::LogLevel::Debug : palisade::LogLevel::Warn,
                               palisade::LogFormat::Text);
  auto shape = pods == 150'000 ? bench::ClusterShape{} : bench::ClusterShape::scaled(pods);

  // ---- RSS: what the agent holds, without the generator's copies ----
  long base = rssKb();
  {
    auto cluster = bench::generateCluster(shape);
    policy::ClusterState state;
    std::unordered_set<std::string> keys;  // the reflectors' "ns/name" sets
    long before_load;
    {
      malloc_trim(0);
      before_load = rssKb();
      bench::loadInto(cluster, state);
      for (const auto& p : cluster.pods) keys.insert(p.meta.namespace_ + "/" + p.meta.name);
      for (const auto& p : cluster.policies) keys.insert(p.meta.namespace_ + "/" + p.meta.name);
      for (const auto& n : cluster.namespaces) keys.insert("/" + n.meta.name);
    }
    policy::IncrementalCompiler compiler(state, std::string(bench::SyntheticCluster::kBenchNode));
    const auto& rs = compiler.ruleset();
    malloc_trim(0);
    long loaded = rssKb();
    std::printf("rss: pods=%zu namespaces=%zu policies=%zu endpoints=%d programs=%d\n",
                cluster.pods.size(), cluster.namespaces.size(), cluster.policies.size(),
                rs.endpoints_size(), rs.programs_size());
    std::printf(
        "rss: agent state %.1f MB (process %.1f MB incl. the generator's %.1f MB; base %.1f MB)\n",
        double(loaded - before_load) / 1024.0, double(loaded) / 1024.0,
        double(before_load - base) / 1024.0, double(base) / 1024.0);
  }

  // ---- latency: event → kernel ack through the loop and nftables ----
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::printf("latency: skipped (needs root for a private network namespace)\n");
    return 0;
  }
  auto cluster = bench::generateCluster(shape);
  auto kernel = datapath::nft::openNftKernel(datapath::nft::DenyAction::Drop);
  if (!kernel) {
    std::printf("latency: skipped (%s)\n", kernel.error().str().c_str());
    return 0;
  }
  agent::Metrics metrics;
  agent::ReconcilerOptions o;
  o.node = std::string(bench::SyntheticCluster::kBenchNode);
  o.counters_interval = 3600s;
  agent::Reconciler rec(o, std::move(kernel.value()), metrics);
  rec.start();
  auto t0 = std::chrono::steady_clock::now();
  rec.replaceAll(bench::toManifestSet(cluster));
  while (!rec.ready()) std::this_thread::sleep_for(1ms);
  std::printf(
      "latency: first full sync (compile + program) %.0f ms\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  // One event → kernel acked: the reconcile loop, the incremental compiler, nftables.
  auto timed = [&](const char* what, int n, auto&& send) {
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      uint64_t acked = metrics.sync_duration.count();
      auto start = std::chrono::steady_clock::now();
      send(i, start);
      while (metrics.sync_duration.count() == acked) std::this_thread::yield();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
    std::printf(
        "latency: %s at %zu pods (%zu cluster policies), %d samples: p50 %.2f ms, p90 %.2f ms, "
        "p99 %.2f ms, max %.2f ms\n",
        what, cluster.pods.size(), cluster.cluster_policies.size(), n, pct(0.5), pct(0.9),
        pct(0.99), ms.back());
  };
  bench::PodChurn churn(cluster);
  // Relabels, and pods that come and go (a new pod, then its deletion): live
  // pods never share an address, as in a cluster (newPod reuses addresses
  // after 100 serials, so new pods must not pile up).
  timed("one pod change", iterations, [&](int i, auto start) {
    if (i % 4 == 3) {
      const policy::Pod gone = churn.newPod(uint64_t(i - 2));
      rec.remove(policy::kindId<policy::Pod>(), gone.meta.namespace_, gone.meta.name, start);
      return;
    }
    policy::Pod pod = churn.relabelTarget();
    for (const auto& [k, v] : churn.relabel(uint64_t(i))) pod.meta.labels[k] = v;
    if (i % 4 == 1) pod = churn.newPod(uint64_t(i));
    rec.upsert(pod, start);
  });
  // A NetworkPolicy of the cluster, copied into a namespace with pods on the node
  // under a new name, then deleted: alternately.
  const policy::Pod& local = cluster.pods[cluster.podsOnBenchNode().back()];
  timed("one NetworkPolicy added or deleted", iterations, [&](int i, auto start) {
    if (i % 2 == 1) {
      rec.remove(policy::kindId<policy::NetworkPolicy>(), local.meta.namespace_,
                 "bench-" + std::to_string(i - 1), start);
      return;
    }
    policy::NetworkPolicy np = cluster.policies[size_t(i) % cluster.policies.size()];
    np.meta.namespace_ = local.meta.namespace_;
    np.meta.name = "bench-" + std::to_string(i);
    rec.upsert(np, start);
  });
  timed("one ClusterNetworkPolicy added or deleted", iterations, [&](int i, auto start) {
    if (i % 2 == 1) {
      rec.remove(policy::kindId<policy::ClusterNetworkPolicy>(), "",
                 "bench-cnp-" + std::to_string(i - 1), start);
      return;
    }
    policy::ClusterNetworkPolicy cnp =
        cluster.cluster_policies[size_t(i) % cluster.cluster_policies.size()];
    cnp.meta.name = "bench-cnp-" + std::to_string(i);
    rec.upsert(cnp, start);
  });
  // The local pod's namespace takes another team's label and back.
  policy::Namespace ns;
  for (const auto& n : cluster.namespaces)
    if (n.meta.name == local.meta.namespace_) ns = n;
  const policy::LabelMap original = ns.meta.labels;
  timed("one namespace relabel", iterations, [&](int i, auto start) {
    ns.meta.labels = original;
    if (i % 2 == 0)
      ns.meta.labels["team"] = cluster.namespaces[5 + size_t(i) % 100].meta.labels["team"];
    rec.upsert(ns, start);
  });
  rec.stop();
  return 0;
}
