// Pending pods end to end on the real kernel, with the agent's own pieces:
// QueueService (consumer threads + RulesetDecider) and the Programmer with
// pending-pod queue rules, wired as palisade-agent wires them (QueueKernel's
// callback: the decider swaps to a revision once the kernel has it).
//
// Pod b's address is in the node's pod CIDR but not in the first revision: a
// new connection to it is held; the next revision makes b known, with a policy
// that allows or denies a, and the held SYN gets that verdict. A pod that
// stays unknown gets --pending-fail after --pending-timeout.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "agent/queue/queue_service.h"
#include "datapath/nft/programmer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/queue_support.h"

namespace palisade::agent::queue {
namespace {

using palisade::datapath::testing::ip4;
using palisade::datapath::testing::RulesetBuilder;
using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
namespace nft = palisade::datapath::nft;
using namespace std::chrono_literals;

class QueuePendingPod : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QUEUE(native_);
    topo_ = std::make_unique<Topology>(2);
  }

  /// a known (not isolated); b known only when `b_allows` is set: then b is
  /// isolated for ingress and allows TCP 80 from a (true) or from nobody (false).
  ir::Ruleset revision(uint64_t rev, std::optional<bool> b_allows) {
    RulesetBuilder b;
    b.endpoint("ns", "a", topo_->pod_ip[0], 0, 0);
    if (b_allows) {
      uint32_t peers = b.peerSet({*b_allows ? topo_->pod_ip[0] : "192.0.2.1"}, "peers");
      uint32_t ports = b.portSet({{ir::TCP, 80, 80}});
      uint32_t in = b.program(ir::INGRESS, {{peers, ports, "ns/allow", 0}}, {"ns/allow"});
      b.endpoint("ns", "b", topo_->pod_ip[1], in, 0);
    }
    for (const auto& ip : topo_->node_ip) b.nodeAddress(ip);
    auto* c = b.rs.mutable_node()->add_pod_cidrs_v4();
    c->set_address(ip4("10.77.0.0"));
    c->set_prefix_len(16);
    b.rs.set_revision(rev);
    return b.rs;
  }

  void start(bool pending_fail_open, std::chrono::milliseconds timeout) {
    QueueServiceOptions o;
    o.pending_timeout = timeout;
    o.pending_fail_open = pending_fail_open;
    auto s = inNetns(topo_->node, [&] { return QueueService::start(o); });
    ASSERT_TRUE(s.ok()) << s.error().str();
    service_ = std::move(*s);
    nft::ProgrammerOptions po;
    po.queue.pending_pods = true;
    po.queue.target = queueTarget(o, native_);
    auto t = inNetns(topo_->node, [] { return nft::openMnlTransport(); });
    ASSERT_TRUE(t.ok()) << t.error().str();
    prog_ = std::make_unique<nft::Programmer>(std::move(*t), po);
  }

  /// What QueueKernel does: program, then tell the queue.
  void program(const ir::Ruleset& rs) {
    auto r = prog_->sync(rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
    service_->programmed(rs);
  }

  /// Connects a → b:80 while the packet is held, then programs `next`.
  Conn connectWhileLearning(const ir::Ruleset& next) {
    auto pending = std::async(
        std::launch::async, [&] { return tcpConnect(topo_->pods[0], topo_->pod_ip[1], 80, 3000); });
    for (int i = 0; i < 200 && service_->heldNow() == 0; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(service_->heldNow(), 1u);
    program(next);
    return pending.get();
  }

  bool native_ = false;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<QueueService> service_;
  std::unique_ptr<nft::Programmer> prog_;
};

TEST_F(QueuePendingPod, HeldThenAllowedOncePodIsKnown) {
  start(false, 5s);
  program(revision(1, std::nullopt));
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(connectWhileLearning(revision(2, true)), Conn::Ok);
  auto c = service_->counters();
  EXPECT_EQ(c.held, 1u);
  EXPECT_EQ(c.accepted, 1u);
  EXPECT_EQ(c.timed_out, 0u);
  // Known now: a's next connection never reaches the queue.
  EXPECT_EQ(tcpConnect(topo_->pods[0], topo_->pod_ip[1], 80, 1000), Conn::Ok);
  EXPECT_EQ(service_->counters().received, c.received);
}

TEST_F(QueuePendingPod, HeldThenDeniedOncePodIsKnown) {
  start(true /* even fail-open: the pod's policy decides */, 5s);
  program(revision(1, std::nullopt));
  Fd l = tcpListen(topo_->pods[1], 80);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(connectWhileLearning(revision(2, false)), Conn::Timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2900ms);
  auto c = service_->counters();
  EXPECT_EQ(c.held, 1u);
  EXPECT_EQ(c.dropped, 1u);  // b's policy, not the timeout
  EXPECT_EQ(c.timed_out, 0u);
}

TEST_F(QueuePendingPod, StillUnknownAtTheTimeoutGetsTheFailMode) {
  for (bool fail_open : {false, true}) {
    SCOPED_TRACE(fail_open ? "pending-fail open" : "pending-fail closed");
    start(fail_open, 300ms);
    program(revision(1, std::nullopt));
    Fd l = tcpListen(topo_->pods[1], 80);
    EXPECT_EQ(tcpConnect(topo_->pods[0], topo_->pod_ip[1], 80, 900),
              fail_open ? Conn::Ok : Conn::Timeout);
    EXPECT_GE(service_->counters().timed_out, 1u);
    service_.reset();
    prog_.reset();
  }
}

}  // namespace
}  // namespace palisade::agent::queue
