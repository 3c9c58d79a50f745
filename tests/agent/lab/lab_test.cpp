// The lab's times are for people: hundredths of a second, and never "0.00".
#include "agent/lab/lab.h"

#include <gtest/gtest.h>

namespace palisade::agent::lab {
namespace {

TEST(FormatSeconds, HundredthsAndNeverZero) {
  EXPECT_EQ(formatSeconds(0.1), "0.10");
  EXPECT_EQ(formatSeconds(0.6612345), "0.66");
  EXPECT_EQ(formatSeconds(12.0), "12.00");
  EXPECT_EQ(formatSeconds(0.004), "< 0.01");
  EXPECT_EQ(formatSeconds(0.005), "0.01");
}

}  // namespace
}  // namespace palisade::agent::lab
