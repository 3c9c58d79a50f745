// Drift repair figures: the time from another process's `nft delete table
// inet palisade` (possible where the table has no owner flag) or `nft flush
// chain` to a repaired table, through the agent's real path: the table
// monitor's event → the reconcile loop → readback, diff, one repair batch.
// "Repaired" is the moment the kernel announces the agent's repair commit
// (its NEWGEN), seen on a netlink socket of the bench's own.
// Usage: drift_repair_bench [pods] [tries]   (root: runs in a private netns)
#include <linux/netfilter/nf_tables.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <vector>

#include "agent/daemon/reconciler.h"
#include "datapath/netlink_walk.h"
#include "datapath/nft/batch.h"
#include "datapath/nft/kernel.h"
#include "datapath/nft/monitor.h"
#include "datapath/nft/transport.h"
#include "proto/base/fd.h"
#include "proto/base/log.h"
#include "tests/bench/synthetic_cluster.h"

using namespace palisade;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// A socket on the nftables event group: waits for a commit by `port`.
class CommitWatcher {
 public:
  static std::optional<CommitWatcher> open() {
    auto sock = datapath::nft::openTableEventSocket();
    if (!sock) return std::nullopt;
    return CommitWatcher(std::move(*sock));
  }
  /// True when a NEWGEN from `port` arrives within `limit`.
  bool waitCommit(uint32_t port, std::chrono::milliseconds limit) {
    auto end = Clock::now() + limit;
    std::vector<uint8_t> buf(1 << 16);
    while (Clock::now() < end) {
      pollfd p{sock_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      ssize_t n = ::recv(sock_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n <= 0) continue;
      int left = int(n);
      for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); datapath::nlmsgWithin(h, left);
           h = mnl_nlmsg_next(h, &left)) {
        auto e = datapath::nft::parseTableEvent(h, size_t(left));
        if (e && e->type == NFT_MSG_NEWGEN && e->port == port) return true;
      }
    }
    return false;
  }
  void drain() {
    std::vector<uint8_t> buf(1 << 16);
    while (::recv(sock_.get(), buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
    }
  }

 private:
  explicit CommitWatcher(Fd sock) : sock_(std::move(sock)) {}
  Fd sock_;
};

struct Figures {
  std::vector<double> ms;
  int failed = 0;
  void print(const char* what, size_t pods) {
    std::sort(ms.begin(), ms.end());
    if (ms.empty()) {
      std::printf("%s at %zu pods: no sample (%d failed)\n", what, pods, failed);
      return;
    }
    auto pct = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * double(ms.size())))]; };
    std::printf(
        "%s at %zu pods, %zu tries: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d not repaired "
        "within 5 s)\n",
        what, pods, ms.size(), pct(0.5), pct(0.99), ms.back(), failed);
  }
};

}  // namespace

int main(int argc, char** argv) {
  size_t pods = argc > 1 ? std::stoul(argv[1]) : 1000;
  int tries = argc > 2 ? std::stoi(argv[2]) : 100;
  palisade::logger().configure(palisade::LogLevel::Error, palisade::LogFormat::Text);
  if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
    std::printf("drift repair: skipped (needs root for a private network namespace)\n");
    return 0;
  }
  auto cluster = bench::generateCluster(bench::ClusterShape::scaled(pods));
  // No table flags: another socket may delete and flush, as on a kernel without them.
  auto kernel = datapath::nft::openNftKernel(datapath::nft::DenyAction::Drop);
  if (!kernel) {
    std::printf("drift repair: skipped (%s)\n", kernel.error().str().c_str());
    return 0;
  }
  const uint32_t agent_port = kernel.value()->portId();
  agent::Metrics metrics;
  agent::ReconcilerOptions o;
  o.node = std::string(bench::SyntheticCluster::kBenchNode);
  o.counters_interval = 3600s;
  o.drift_check_interval = 0ms;  // the events alone: this measures the monitor's path
  agent::Reconciler rec(o, std::move(kernel.value()), metrics);
  rec.start();
  rec.replaceAll(bench::toManifestSet(cluster));
  while (!rec.ready()) std::this_thread::sleep_for(1ms);
  auto monitor = datapath::nft::TableMonitor::start(
      datapath::nft::kTableName, agent_port,
      [&](const std::string& what) { rec.driftSuspected(what); });
  if (!monitor) {
    std::printf("drift repair: %s\n", monitor.error().str().c_str());
    return 1;
  }
  auto foreign = datapath::nft::openMnlTransport();  // "another process"
  if (!foreign) return 1;
  auto opened = CommitWatcher::open();
  if (!opened) return 1;
  CommitWatcher& watcher = *opened;
  uint32_t seq = 1;

  auto tamper = [&](const datapath::nft::Batch& b, Figures& f) {
    rec.waitIdle(5s);
    watcher.drain();
    auto start = Clock::now();
    auto acks = (*foreign)->sendBatch({b.data(), b.size()});
    bool ok = acks.ok();
    if (ok)
      for (const auto& a : *acks) ok &= a.error == 0;
    if (!ok) {
      ++f.failed;
      return;
    }
    if (!watcher.waitCommit(agent_port, 5s)) {
      ++f.failed;
      return;
    }
    f.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    seq += 1000;
  };

  Figures deleted, flushed;
  for (int i = 0; i < tries; ++i) {
    datapath::nft::BatchOptions bo;
    bo.first_seq = seq;
    tamper(datapath::nft::buildDeleteTable(datapath::nft::kTableName, bo), deleted);
  }
  for (int i = 0; i < tries; ++i) {
    datapath::nft::Delta d;
    datapath::nft::ChainModel forward;
    forward.name = "postrouting";  // its rules go, nothing is added back
    d.rewrite_chains.push_back(forward);
    datapath::nft::BatchOptions bo;
    bo.first_seq = seq;
    tamper(datapath::nft::buildDelta(d, bo), flushed);
  }
  deleted.print("nft delete table → repaired", cluster.pods.size());
  flushed.print("nft flush chain postrouting → repaired", cluster.pods.size());
  std::printf("foreign changes reported %lu, drift detected and repaired %lu\n",
              (unsigned long)(*monitor)->foreignChanges(),
              (unsigned long)metrics.defence.drift_detected.load());
  monitor->reset();
  rec.stop();
  return 0;
}
