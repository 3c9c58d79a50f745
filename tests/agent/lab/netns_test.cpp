// The lab's namespace plumbing reports failures as Results: a missing
// namespace names itself and carries the errno; a program that cannot be
// found is exit 127 with a message, not a silent -1. No root needed: nothing
// here enters a real namespace.
#include "agent/lab/netns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>

namespace palisade::agent::lab {
namespace {

using ::testing::HasSubstr;

constexpr const char* kMissing = "palisade-unit-no-such-netns";

TEST(NetnsGuard, MissingNamespaceIsAnErrorWithErrno) {
  Result<NetnsGuard> guard = NetnsGuard::enter(kMissing);
  ASSERT_FALSE(guard);
  EXPECT_EQ(guard.error().code(), ENOENT);
  EXPECT_EQ(guard.error().message(), std::string("opening netns ") + kMissing);
}

TEST(RunIn, FeedsStdinAndCollectsOutput) {
  Result<RunResult> r = runIn("", {"cat"}, "hello\n");
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->out, "hello\n");
  r = runIn("", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->status, 3);
  EXPECT_THAT(r->out, HasSubstr("out\n"));
  EXPECT_THAT(r->out, HasSubstr("err\n"));
}

TEST(RunIn, MissingProgramIsExit127WithAReason) {
  Result<RunResult> r = runIn("", {"palisade-unit-no-such-program"});
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->status, 127);
  EXPECT_THAT(r->out, HasSubstr("cannot execute"));
}

TEST(RunIn, MissingNamespaceIsAnError) {
  Result<RunResult> r = runIn(kMissing, {"true"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ENOENT);
  EXPECT_THAT(r.error().str(), HasSubstr("running true: opening netns " + std::string(kMissing)));
}

TEST(RunChecked, NamesTheCommandAndItsOutput) {
  Status s = runChecked("", {"sh", "-c", "echo broken; exit 2"});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "`sh -c echo broken; exit 2` exited 2: broken\n");
  EXPECT_TRUE(runChecked("", {"true"}));
}

TEST(WriteSysctls, MissingNamespaceIsAnError) {
  Status s = writeSysctls(kMissing, {{"net.ipv4.ip_forward", "1"}});
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().str(), HasSubstr("opening netns " + std::string(kMissing)));
}

}  // namespace
}  // namespace palisade::agent::lab
