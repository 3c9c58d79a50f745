#include "datapath/queue/hold_table.h"

#include <gtest/gtest.h>

namespace palisade::datapath::queue {
namespace {

using Clock = HoldTable::Clock;
using namespace std::chrono_literals;

QueuedPacket withPort(uint16_t port) {
  QueuedPacket q;
  q.packet.dst_port = port;
  return q;
}

TEST(QueueHoldTable, BoundedAndOrderedById) {
  HoldTable t(2);
  auto now = Clock::now();
  EXPECT_TRUE(t.add(7, withPort(1), now + 1s));
  EXPECT_FALSE(t.add(7, withPort(1), now + 1s));  // same id twice
  EXPECT_TRUE(t.add(5, withPort(2), now + 2s));
  EXPECT_FALSE(t.add(9, withPort(3), now + 1s));  // full
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.lowestId(), 5u);
  EXPECT_EQ(t.nextDeadline(), now + 1s);
}

TEST(QueueHoldTable, ExpiryTakesOnlyDueEntries) {
  HoldTable t(10);
  auto now = Clock::now();
  t.add(1, withPort(1), now + 1s);
  t.add(2, withPort(2), now + 3s);
  t.add(3, withPort(3), now + 1s);
  EXPECT_TRUE(t.takeExpired(now).empty());
  auto due = t.takeExpired(now + 2s);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.lowestId(), 2u);
  EXPECT_EQ(t.takeExpired(now + 3s).size(), 1u);
  EXPECT_FALSE(t.nextDeadline());
}

TEST(QueueHoldTable, ReconsiderReleasesDecidedKeepsHeld) {
  HoldTable t(10);
  auto now = Clock::now();
  t.add(1, withPort(80), now + 1s);
  t.add(2, withPort(81), now + 1s);
  t.add(3, withPort(82), now + 1s);
  auto decided = t.takeDecided([](const QueuedPacket& q) {
    if (q.packet.dst_port == 80) return Decision{Verdict::Accept, "known now"};
    if (q.packet.dst_port == 81) return Decision{Verdict::Drop, "denied"};
    return Decision{Verdict::Hold, "still unknown"};
  });
  ASSERT_EQ(decided.size(), 2u);
  EXPECT_EQ(decided[0].first.id, 1u);
  EXPECT_EQ(decided[0].second.verdict, Verdict::Accept);
  EXPECT_EQ(decided[1].second.verdict, Verdict::Drop);
  EXPECT_EQ(t.size(), 1u);
  // The released entries' deadlines are gone too: only id 3 expires.
  auto due = t.takeExpired(now + 5s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 3u);
}

}  // namespace
}  // namespace palisade::datapath::queue
