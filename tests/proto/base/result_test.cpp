// palisade::Result / Error (proto/base/result.h): the value or the error, and
// the context chain and errno name every layer's messages rely on.
#include "proto/base/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

namespace palisade {
namespace {

Result<int> parsePositive(int v) {
  if (v <= 0) return Error(EINVAL, "value " + std::to_string(v) + " is not positive");
  return v;
}

TEST(Result, HoldsTheValueOrTheError) {
  Result<int> ok = parsePositive(3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  Result<int> bad = parsePositive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), EINVAL);
}

TEST(Error, ContextChainsOutermostFirstAndNamesTheErrno) {
  Error e = Error(ENOENT, "adding chain prog_1").context("programming table inet palisade");
  EXPECT_EQ(e.message(), "programming table inet palisade: adding chain prog_1");
  EXPECT_EQ(e.str(),
            "programming table inet palisade: adding chain prog_1: ENOENT (No such file or "
            "directory)");
  EXPECT_EQ(Error(0, "not from the kernel").str(), "not from the kernel");
}

TEST(Status, OkStatusIsOk) {
  Status s = okStatus();
  EXPECT_TRUE(s.ok());
  Status failed = Error(EPERM, "no CAP_NET_ADMIN");
  EXPECT_FALSE(failed.ok());
}

}  // namespace
}  // namespace palisade
