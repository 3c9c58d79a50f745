// A Decider that throws costs the packet the fail mode and bumps a counter;
// the caller (the consumer's thread) goes on.
#include "datapath/queue/decision_guard.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "proto/base/log.h"

namespace palisade::datapath::queue {
namespace {

using namespace std::chrono_literals;

/// Throws for destination port 666 (std::runtime_error) and 667 (an int);
/// accepts everything else, or holds it when asked to.
class ThrowingDecider : public Decider {
 public:
  bool hold = false;
  Decision decide(const QueuedPacket& q, Explain) override {
    if (q.packet.dst_port == 666) throw std::runtime_error("ruleset index out of range");
    if (q.packet.dst_port == 667) throw 42;
    return {hold ? Verdict::Hold : Verdict::Accept, "decided"};
  }
};

QueuedPacket toPort(uint16_t port) {
  QueuedPacket q;
  q.packet.src.family = q.packet.dst.family = 4;
  q.packet.protocol = 6;
  q.packet.has_ports = true;
  q.packet.dst_port = port;
  return q;
}

/// Captures the log for the test's duration.
class CapturedLog {
 public:
  CapturedLog() { logger().captureTo(&text_); }
  ~CapturedLog() { logger().captureTo(nullptr); }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;
  size_t count(const std::string& needle) const {
    size_t n = 0;
    for (size_t at = text_.find(needle); at != std::string::npos; at = text_.find(needle, at + 1))
      ++n;
    return n;
  }

 private:
  std::string text_;
};

TEST(QueueDecisionGuard, ThrowingDeciderFailsClosedByDefault) {
  CapturedLog log;
  ThrowingDecider d;
  Counters c;
  DecisionGuard g(d, /*fail_open=*/false, c, 3);
  Decision failed = g.decide(toPort(666), Explain::Yes);
  EXPECT_EQ(failed.verdict, Verdict::Drop);
  EXPECT_NE(failed.reason.find("ruleset index out of range"), std::string::npos) << failed.reason;
  EXPECT_NE(failed.reason.find("fail-closed"), std::string::npos) << failed.reason;
  EXPECT_EQ(c.snapshot().decision_errors, 1u);
  // The next packet is decided as usual.
  EXPECT_EQ(g.decide(toPort(80), Explain::No).verdict, Verdict::Accept);
  EXPECT_EQ(c.snapshot().decision_errors, 1u);
  EXPECT_EQ(log.count("queue decision failed"), 1u);
}

TEST(QueueDecisionGuard, FailOpenAcceptsAndNonStdExceptionsAreCaughtToo) {
  CapturedLog log;
  ThrowingDecider d;
  Counters c;
  DecisionGuard g(d, /*fail_open=*/true, c, 0);
  EXPECT_EQ(g.decide(toPort(666), Explain::No).verdict, Verdict::Accept);
  Decision odd = g.decide(toPort(667), Explain::Yes);
  EXPECT_EQ(odd.verdict, Verdict::Accept);
  EXPECT_NE(odd.reason.find("not derived from std::exception"), std::string::npos) << odd.reason;
  EXPECT_EQ(c.snapshot().decision_errors, 2u);
}

TEST(QueueDecisionGuard, AHeldPacketThatThrowsIsAnsweredNotHeldAgain) {
  CapturedLog log;
  ThrowingDecider d;
  d.hold = true;
  Counters c;
  DecisionGuard g(d, false, c, 0);
  EXPECT_EQ(g.decide(toPort(80), Explain::No).verdict, Verdict::Hold);
  EXPECT_EQ(g.decide(toPort(666), Explain::No).verdict, Verdict::Drop);
}

TEST(QueueDecisionGuard, LogIsRateLimitedButEveryErrorIsCounted) {
  CapturedLog log;
  ThrowingDecider d;
  Counters c;
  DecisionGuard g(d, false, c, 0, 1h);
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(g.decide(toPort(666), Explain::No).verdict, Verdict::Drop);
  EXPECT_EQ(c.snapshot().decision_errors, 1000u);
  EXPECT_EQ(log.count("queue decision failed"), 1u);
  // A zero interval logs every one, each naming how many went unlogged before it.
  DecisionGuard every(d, false, c, 0, 0ms);
  every.decide(toPort(666), Explain::No);
  every.decide(toPort(666), Explain::No);
  EXPECT_EQ(log.count("queue decision failed"), 3u);
  EXPECT_EQ(c.snapshot().decision_errors, 1002u);
}

}  // namespace
}  // namespace palisade::datapath::queue
