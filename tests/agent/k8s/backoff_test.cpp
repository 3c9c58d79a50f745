// Backoff: doubling to the cap, reset, and jitter within [d, d * (1 + jitter)).
#include "agent/k8s/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace palisade::agent::k8s {
namespace {

using namespace std::chrono_literals;

TEST(BackoffTest, DoublesToTheCapAndResets) {
  Backoff b(100ms, 1000ms, 0.0, 1);
  EXPECT_EQ(b.next(), 100ms);
  EXPECT_EQ(b.next(), 200ms);
  EXPECT_EQ(b.next(), 400ms);
  EXPECT_EQ(b.next(), 800ms);
  EXPECT_EQ(b.next(), 1000ms);
  EXPECT_EQ(b.next(), 1000ms);
  b.reset();
  EXPECT_EQ(b.step(), 0ms);
  EXPECT_EQ(b.next(), 100ms);
}

TEST(BackoffTest, RetryAfterIsSpreadOverTheJitterWindow) {
  // Many agents told "Retry-After: 1" must not come back on the same tick.
  std::set<int64_t> waits;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Backoff b(800ms, 30s, 0.5, seed);
    auto w = b.jittered(1000ms);
    EXPECT_GE(w, 1000ms);
    EXPECT_LT(w, 1500ms);
    waits.insert(w.count());
  }
  EXPECT_GT(waits.size(), 40u);
}

}  // namespace
}  // namespace palisade::agent::k8s
