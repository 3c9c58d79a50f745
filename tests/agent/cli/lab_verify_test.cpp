// `lab verify`'s one matrix: agreement, disagreement and unchecked cells are
// three different marks, and the table stays narrow whatever the names.
#include "agent/cli/lab_verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace palisade::agent::cli {
namespace {

using ::testing::HasSubstr;

TEST(VerifyMark, AgreementDisagreementAndUnchecked) {
  EXPECT_EQ(verifyMark(true, true, true), '.');
  EXPECT_EQ(verifyMark(false, false, true), 'X');
  EXPECT_EQ(verifyMark(true, false, true), '!');
  EXPECT_EQ(verifyMark(false, true, true), '!');
  // Not checked is neither verdict, whatever the probe reported for it.
  EXPECT_EQ(verifyMark(true, false, false), '-');
  EXPECT_EQ(verifyMark(false, false, false), '-');
}

VerifyGrid threePods() {
  VerifyGrid g;
  g.names = {"backend/api-1", "data/db-0", "frontend/web-1"};
  g.predicted = {{true, false, true}, {true, true, true}, {true, false, true}};
  g.kernel = {{true, false, false}, {false, true, false}, {true, false, false}};
  // The third pod has no listener: its column is unchecked; so are the
  // pods to themselves.
  g.checked = {{false, true, false}, {true, false, false}, {true, true, false}};
  return g;
}

TEST(VerifyTable, OneMatrixNumberedColumnsAndALegend) {
  EXPECT_EQ(renderVerifyTable(threePods()),
            "                  1  2  3\n"
            "1 backend/api-1   -  X  -\n"
            "2 data/db-0       !  -  -\n"
            "3 frontend/web-1  .  X  -\n"
            "legend: . allowed  X denied (prediction and kernel agree)  ! they disagree "
            "(listed below)  - not checked\n");
}

TEST(VerifyTable, CountsOnlyCheckedCells) {
  VerifyCount c = countVerify(threePods());
  EXPECT_EQ(c.checked, 4u);
  EXPECT_EQ(c.disagree, 1u);
}

TEST(VerifyTable, TwelvePodsWithLongNamesFitOneHundredTwentyColumns) {
  VerifyGrid g;
  for (int i = 0; i < 12; ++i) g.names.push_back("namespace-number-" + std::to_string(i) + "/pod");
  g.predicted.assign(12, std::vector<bool>(12, true));
  g.kernel = g.predicted;
  g.checked = g.predicted;
  std::istringstream lines(renderVerifyTable(g));
  std::string line;
  std::getline(lines, line);
  EXPECT_THAT(line, HasSubstr(" 10 11 12"));  // two-digit columns keep a space between them
  while (std::getline(lines, line)) EXPECT_LE(line.size(), 120u) << line;
}

}  // namespace
}  // namespace palisade::agent::cli
