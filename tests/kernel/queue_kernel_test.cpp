// The NFQUEUE fallback against the real kernel, in namespaces this test
// creates: pods route through a node namespace whose table (rendered with
// queue rules, programmed by the real Programmer) sends new connections to
// the queue through the xtables NFQUEUE target (nft compat: this kernel has no
// native queue expression). A scripted Decider answers by destination port.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <stdexcept>
#include <thread>

#include "datapath/nft/programmer.h"
#include "datapath/queue/consumer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/io_loop.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/queue_support.h"

namespace palisade::datapath::queue {
namespace {

using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
using palisade::testing::udpExchange;
namespace nft = palisade::datapath::nft;
using namespace std::chrono_literals;

/// :80 accept, :81 drop, :82 hold until released, :83 hold forever, :84 throws;
/// UDP :53 accept.
class ScriptedDecider : public Decider {
 public:
  Decision decide(const QueuedPacket& q, Explain) override {
    ++calls;
    switch (q.packet.dst_port) {
      case 80:
      case 53:
        return {Verdict::Accept, "scripted allow"};
      case 82:
        return released ? Decision{Verdict::Accept, "released"}
                        : Decision{Verdict::Hold, "pending"};
      case 83:
        return {Verdict::Hold, "pending forever"};
      case 84:
        throw std::runtime_error("scripted decider failure");
      default:
        return {Verdict::Drop, "scripted deny"};
    }
  }
  std::atomic<bool> released{false};
  std::atomic<int> calls{0};
};

using palisade::testing::IoLoop;

class QueueKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QUEUE(native_);
    topo_ = std::make_unique<Topology>(2);
  }

  /// Both pods known (not isolated); every new connection of local pods
  /// queued (user-space mode), or only those of unknown pod-CIDR addresses.
  void program(bool fail_open, bool pending_only = false, bool b_known = true) {
    palisade::datapath::testing::RulesetBuilder b;
    b.endpoint("ns", "a", topo_->pod_ip[0], 0, 0);
    if (b_known) b.endpoint("ns", "b", topo_->pod_ip[1], 0, 0);
    for (const auto& ip : topo_->node_ip) b.nodeAddress(ip);
    auto* cidr = b.rs.mutable_node()->add_pod_cidrs_v4();
    cidr->set_address(palisade::datapath::testing::ip4("10.77.0.0"));
    cidr->set_prefix_len(16);
    nft::ProgrammerOptions o;
    o.queue.all_local_pods = !pending_only;
    o.queue.pending_pods = pending_only;
    o.queue.target = {0, 1, fail_open, native_};
    auto t = inNetns(topo_->node, [] { return nft::openMnlTransport(); });
    ASSERT_TRUE(t.ok()) << t.error().str();
    prog_ = std::make_unique<nft::Programmer>(std::move(*t), o);
    auto r = prog_->replace(b.rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
  }

  std::unique_ptr<Consumer> consumer(IoLoop& loop, ConsumerOptions o) {
    auto c = inNetns(topo_->node, [&] { return Consumer::start(loop.io, decider_, o); });
    EXPECT_TRUE(c.ok()) << c.error().str();
    return c.ok() ? std::move(*c) : nullptr;
  }

  bool native_ = false;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<nft::Programmer> prog_;
  ScriptedDecider decider_;
};

TEST_F(QueueKernel, DecidesAcceptDropHoldAndTimeout) {
  Topology& t = *topo_;
  program(false);
  IoLoop loop;
  ConsumerOptions o;
  o.hold_timeout = 400ms;
  auto c = consumer(loop, o);
  ASSERT_TRUE(c);
  Fd l80 = tcpListen(t.pods[1], 80), l81 = tcpListen(t.pods[1], 81);
  Fd l82 = tcpListen(t.pods[1], 82), l83 = tcpListen(t.pods[1], 83);

  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 1000), Conn::Ok);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81, 500), Conn::Timeout);
  auto u = udpExchange(t.pods[0], t.pods[1], t.pod_ip[1], 53, 1000);
  EXPECT_TRUE(u.request);
  EXPECT_TRUE(u.reply);  // the reply is established: accepted before the queue rule

  // Held, then released while the SYN waits (well inside the 400 ms timeout).
  auto pending =
      std::async(std::launch::async, [&] { return tcpConnect(t.pods[0], t.pod_ip[1], 82, 2000); });
  for (int i = 0; i < 100 && c->heldNow() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(c->heldNow(), 1u);
  decider_.released = true;
  c->reconsider();
  EXPECT_EQ(pending.get(), Conn::Ok);

  // Held forever: the timeout gives the fail-closed verdict (SYN retransmits
  // are new packets and are held and dropped the same way).
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 83, 1500), Conn::Timeout);

  auto n = c->counters();
  EXPECT_GE(n.accepted, 3u);  // :80 SYN, UDP request, :82 SYN released
  EXPECT_GE(n.dropped, 2u);   // :81, :83 after timeout
  EXPECT_GE(n.held, 2u);
  EXPECT_GE(n.timed_out, 1u);
  EXPECT_EQ(n.malformed, 0u);
  EXPECT_EQ(c->heldNow(), 0u);
}

// Issue 11: a decision that throws used to end the process (std::terminate on
// the queue thread). Now the packet gets the fail mode and the queue goes on.
TEST_F(QueueKernel, ThrowingDecisionGetsTheFailModeAndTheQueueGoesOn) {
  Topology& t = *topo_;
  program(false);
  IoLoop loop;
  auto c = consumer(loop, {});  // fail closed (the default)
  ASSERT_TRUE(c);
  Fd l80 = tcpListen(t.pods[1], 80), l84 = tcpListen(t.pods[1], 84);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 84, 500), Conn::Timeout);
  EXPECT_GE(c->counters().decision_errors, 1u);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 1000), Conn::Ok);
  c.reset();

  IoLoop open_loop;
  ConsumerOptions o;
  o.queue.fail_open = true;
  auto open = consumer(open_loop, o);
  ASSERT_TRUE(open);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 84, 1000), Conn::Ok);
  EXPECT_EQ(open->counters().decision_errors, 1u);
}

TEST_F(QueueKernel, TimeoutFailOpenAccepts) {
  Topology& t = *topo_;
  program(false);
  IoLoop loop;
  ConsumerOptions o;
  o.hold_timeout = 200ms;
  o.hold_fail_open = true;
  auto c = consumer(loop, o);
  ASSERT_TRUE(c);
  Fd l83 = tcpListen(t.pods[1], 83);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 83, 1500), Conn::Ok);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);  // it was held first
  EXPECT_GE(c->counters().timed_out, 1u);
  EXPECT_GE(c->counters().accepted, 1u);
}

TEST_F(QueueKernel, NoConsumerFailClosedDrops) {
  Topology& t = *topo_;
  program(false);
  Fd l80 = tcpListen(t.pods[1], 80);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 500), Conn::Timeout);
  // A consumer that goes away: fail-closed again.
  {
    IoLoop loop;
    auto c = consumer(loop, {});
    ASSERT_TRUE(c);
    EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 1000), Conn::Ok);
  }
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 500), Conn::Timeout);
}

TEST_F(QueueKernel, NoConsumerFailOpenBypasses) {
  Topology& t = *topo_;
  program(true);
  Fd l81 = tcpListen(t.pods[1], 81);
  // Nobody bound: the bypass flag accepts (the decider would have dropped :81).
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81, 1000), Conn::Ok);
  {
    IoLoop loop;
    auto c = consumer(loop, {});
    ASSERT_TRUE(c);
    EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81, 500), Conn::Timeout);
  }
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81, 1000), Conn::Ok);
  EXPECT_EQ(decider_.calls.load() > 0, true);
}

// Pending pods: only an address of the node's pod CIDR that the ruleset does
// not know reaches the queue; known pods and node addresses do not.
TEST_F(QueueKernel, PendingPodRuleQueuesOnlyUnknownPodAddresses) {
  Topology& t = *topo_;
  program(false, /*pending_only=*/true, /*b_known=*/false);
  IoLoop loop;
  auto c = consumer(loop, {});
  ASSERT_TRUE(c);
  Fd l80 = tcpListen(t.pods[1], 80), la = tcpListen(t.pods[0], 80);
  Fd ln = tcpListen(t.node, 80);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 1000), Conn::Ok);  // b unknown: decided
  EXPECT_EQ(c->counters().received, 1u);
  EXPECT_EQ(tcpConnect(t.pods[0], t.node_ip[0], 80, 1000), Conn::Ok);  // node address: not queued
  EXPECT_EQ(c->counters().received, 1u);
  EXPECT_EQ(tcpConnect(t.pods[1], t.pod_ip[0], 81, 500), Conn::Timeout);
  EXPECT_EQ(c->counters().received, 2u);  // from the unknown b, dropped by the decider (:81)
  // b becomes known: its traffic no longer reaches the queue.
  program(false, true, true);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 1000), Conn::Ok);
  EXPECT_EQ(tcpConnect(t.pods[1], t.pod_ip[0], 80, 1000), Conn::Ok);
  EXPECT_EQ(c->counters().received, 2u);
}

// A receive buffer too small for the burst: the kernel drops what does not
// fit (fail-closed) and never queues it; the consumer reports those as
// overflowed (the kernel's count) and answers the rest.
TEST_F(QueueKernel, SocketOverrunIsCountedAsOverflow) {
  Topology& t = *topo_;
  program(false);
  boost::asio::io_context io;  // not run while the burst is sent
  ConsumerOptions o;
  o.socket_buffer = 4096;  // a few packet messages at most
  auto c = inNetns(t.node, [&] { return Consumer::start(io, decider_, o); });
  ASSERT_TRUE(c.ok()) << c.error().str();
  constexpr int kSent = 200;
  inNetns(t.pods[0], [&] {
    Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in dst = palisade::testing::addr4(t.pod_ip[1], 53);
    for (int i = 0; i < kSent; ++i)
      sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    return 0;
  });
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < 20; ++i) io.run_for(20ms);  // reads and answers what fitted
  auto n = (*c)->counters();
  EXPECT_GT(n.overflowed, 0u);
  EXPECT_GT(n.received, 0u);
  EXPECT_LT(n.received, uint64_t(kSent));
  // Every packet is either answered by us or counted as overflowed.
  EXPECT_GE(n.received + n.overflowed, uint64_t(kSent));
  EXPECT_EQ(n.accepted + n.dropped, n.received);
  c->reset();
}

TEST_F(QueueKernel, SecondConsumerOnTheSameQueueIsRefused) {
  program(false);
  IoLoop loop;
  auto c = consumer(loop, {});
  ASSERT_TRUE(c);
  auto again = inNetns(topo_->node, [&] { return Consumer::start(loop.io, decider_, {}); });
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().str().find("NFQUEUE 0"), std::string::npos) << again.error().str();
}

}  // namespace
}  // namespace palisade::datapath::queue
