// Batched verdicts must never reach a held packet: a VERDICT_BATCH for id N
// answers every queued packet with id <= N.
#include "datapath/queue/verdict_plan.h"

#include <gtest/gtest.h>

namespace palisade::datapath::queue {
namespace {

using V = VerdictMessage;

TEST(QueueVerdictPlan, RunsOfEqualVerdictsBecomeOneBatch) {
  std::vector<Answer> a = {{10, true},  {11, true},  {12, true},
                           {13, false}, {14, false}, {15, true}};
  EXPECT_EQ(planVerdicts(a, std::nullopt),
            (std::vector<V>{{12, true, true}, {14, false, true}, {15, true, false}}));
}

TEST(QueueVerdictPlan, NoBatchPastAHeldPacket) {
  // 14 is held: 15 and 16 must be answered one by one; 10..12 are below it.
  std::vector<Answer> a = {{10, true}, {11, true}, {12, true}, {13, false}, {15, true}, {16, true}};
  EXPECT_EQ(
      planVerdicts(a, 14u),
      (std::vector<V>{{12, true, true}, {13, false, false}, {15, true, false}, {16, true, false}}));
  // A packet held long ago blocks batching of everything after it.
  EXPECT_EQ(planVerdicts(std::vector<Answer>{{100, true}, {101, true}}, 3u),
            (std::vector<V>{{100, true, false}, {101, true, false}}));
}

TEST(QueueVerdictPlan, AlternatingVerdictsAreAnsweredOneByOne) {
  // Runs of one need no batch message; a held id above the burst does not matter.
  std::vector<Answer> a = {{1, true}, {2, false}, {3, true}};
  EXPECT_EQ(planVerdicts(a, 7u),
            (std::vector<V>{{1, true, false}, {2, false, false}, {3, true, false}}));
  EXPECT_EQ(planVerdicts(std::vector<Answer>{{1, true}, {2, true}}, 7u),
            (std::vector<V>{{2, true, true}}));
  EXPECT_TRUE(planVerdicts({}, std::nullopt).empty());
}

}  // namespace
}  // namespace palisade::datapath::queue
