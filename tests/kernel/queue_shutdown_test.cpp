// Shutting a Consumer down while its io_context thread is busy or is running
// the same shutdown: a posted stop() racing the destructor, the destructor
// while a decision is still running (a loop busy for longer than any timed
// wait), and a destructor after the loop stopped. Every held packet and the
// packet being decided must get their verdict; nothing may crash. UDP
// datagrams, not TCP: no retransmission reaches the queue while a test waits.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

#include "datapath/nft/programmer.h"
#include "datapath/queue/consumer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/io_loop.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/queue_support.h"

namespace palisade::datapath::queue {
namespace {

using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::Topology;
namespace nft = palisade::datapath::nft;
using namespace std::chrono_literals;

/// :83 held; :84 accepted after `slow` (the loop is busy meanwhile); else accept.
class SlowDecider : public Decider {
 public:
  Decision decide(const QueuedPacket& q, Explain) override {
    if (q.packet.dst_port == 83) return {Verdict::Hold, {}};
    if (q.packet.dst_port == 84) {
      entered = true;
      std::this_thread::sleep_for(slow);
      returned = true;
    }
    return {Verdict::Accept, {}};
  }
  std::chrono::milliseconds slow{0};
  std::atomic<bool> entered{false}, returned{false};
};

using palisade::testing::IoLoop;

class QueueShutdown : public ::testing::Test {
 protected:
  void SetUp() override {
    bool native = false;
    SKIP_WITHOUT_QUEUE(native);
    topo_ = std::make_unique<Topology>(2);
    palisade::datapath::testing::RulesetBuilder b;
    b.endpoint("ns", "a", topo_->pod_ip[0], 0, 0);
    b.endpoint("ns", "b", topo_->pod_ip[1], 0, 0);
    for (const auto& ip : topo_->node_ip) b.nodeAddress(ip);
    nft::ProgrammerOptions o;
    o.queue.all_local_pods = true;  // every new connection of the pods: queued
    o.queue.target = {0, 1, false, native};
    auto t = inNetns(topo_->node, [] { return nft::openMnlTransport(); });
    ASSERT_TRUE(t.ok()) << t.error().str();
    prog_ = std::make_unique<nft::Programmer>(std::move(*t), o);
    auto r = prog_->replace(b.rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
  }

  std::unique_ptr<Consumer> start(boost::asio::io_context& io, ConsumerOptions o) {
    auto c = inNetns(topo_->node, [&] { return Consumer::start(io, decider_, o); });
    EXPECT_TRUE(c.ok()) << c.error().str();
    return c.ok() ? std::move(*c) : nullptr;
  }

  /// A socket of pod 2 bound to `port`.
  Fd server(uint16_t port) {
    Fd s = palisade::testing::socketIn(topo_->pods[1], SOCK_DGRAM);
    sockaddr_in any = palisade::testing::addr4("0.0.0.0", port);
    bind(s.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
    return s;
  }
  /// One datagram pod 1 -> pod 2:port, a new flow: queued.
  void send(uint16_t port) {
    inNetns(topo_->pods[0], [&] {
      Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_in dst = palisade::testing::addr4(topo_->pod_ip[1], port);
      return sendto(s.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    });
  }
  /// A datagram to :83, now held.
  void sendHeld(const Consumer& c) {
    send(83);
    for (int i = 0; i < 200 && c.heldNow() == 0; ++i) std::this_thread::sleep_for(5ms);
    EXPECT_EQ(c.heldNow(), 1u);
  }

  std::unique_ptr<Topology> topo_;
  std::unique_ptr<nft::Programmer> prog_;
  SlowDecider decider_;
};

// stop() twice from two threads (posted: they run on the loop) while the
// destructor runs shutdown on a third: the held datagram gets the fail-open
// verdict, and the later handlers find the consumer gone quietly.
TEST_F(QueueShutdown, StopTwiceRacingTheDestructor) {
  Fd s83 = server(83);
  for (int round = 0; round < 5; ++round) {
    IoLoop loop;
    ConsumerOptions o;
    o.hold_timeout = 10s;  // only the shutdown answers it
    o.hold_fail_open = true;
    auto c = start(loop.io, o);
    ASSERT_TRUE(c);
    sendHeld(*c);
    std::atomic<bool> go{false};
    std::thread s1([&] {
      while (!go) std::this_thread::yield();
      c->stop();
    });
    std::thread s2([&] {
      while (!go) std::this_thread::yield();
      c->stop();
      c->reconsider();
    });
    go = true;
    s1.join();
    s2.join();
    c.reset();  // the posted stops may not have run yet: the loop is still running
    EXPECT_TRUE(palisade::testing::readable(s83.get(), 1000)) << "round " << round;
    char buf[8];
    while (recv(s83.get(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }
}

// The destructor while the loop is deciding a packet for longer than the 2 s
// the destructor used to wait before shutting down beside the loop: it waits
// for the decision, whose verdict still goes out, then answers the held datagram.
TEST_F(QueueShutdown, DestructorWaitsForTheRunningDecision) {
  Fd s83 = server(83), s84 = server(84);
  decider_.slow = 2500ms;
  IoLoop loop;
  ConsumerOptions o;
  o.hold_timeout = 10s;
  o.hold_fail_open = true;
  auto c = start(loop.io, o);
  ASSERT_TRUE(c);
  sendHeld(*c);
  send(84);
  for (int i = 0; i < 400 && !decider_.entered; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(decider_.entered);
  c.reset();
  EXPECT_TRUE(decider_.returned);  // the destructor did not return beside a running decision
  EXPECT_TRUE(palisade::testing::readable(s84.get(), 1000));  // the decision's verdict went out
  EXPECT_TRUE(palisade::testing::readable(s83.get(), 1000));  // and the fail-open one
}

// Nobody runs the io_context any more (it was run, then left): the destructor
// shuts down on its own thread, at once, and the held datagram gets its verdict.
TEST_F(QueueShutdown, DestructorAfterTheLoopIsLeft) {
  Fd s83 = server(83);
  boost::asio::io_context io;
  ConsumerOptions o;
  o.hold_timeout = 10s;
  o.hold_fail_open = true;
  auto c = start(io, o);
  ASSERT_TRUE(c);
  send(83);
  for (int i = 0; i < 100 && c->heldNow() == 0; ++i) io.run_for(20ms);
  ASSERT_EQ(c->heldNow(), 1u);
  auto t0 = std::chrono::steady_clock::now();
  c.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_TRUE(palisade::testing::readable(s83.get(), 1000));
}

}  // namespace
}  // namespace palisade::datapath::queue
