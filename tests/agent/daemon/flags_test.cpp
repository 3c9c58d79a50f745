// palisade-agent's flags: safe defaults (queue on, fail closed, listeners on
// loopback), queue-only flags refused without the queue, the health listener
// refused off loopback. Through CLI11 as main() parses, and through the binary.
#include "agent/daemon/flags.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace palisade::agent {
namespace {

/// Parses `args` as palisade-agent does; the error text, or "" when accepted.
std::string parseError(std::vector<std::string> args, AgentFlags* out = nullptr) {
  CLI::App app;
  AgentFlags f;
  addFlags(app, f);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return std::string(e.what()).empty() ? "error" : e.what();
  }
  if (out) *out = f;
  return "";
}

TEST(AgentFlagsTest, DefaultsHoldPendingPodsAndFailClosedOnLoopback) {
  AgentFlags f;
  ASSERT_EQ(parseError({}, &f), "");
  EXPECT_GE(f.queue_count, 1);
  EXPECT_EQ(f.pending_fail, "closed");
  EXPECT_FALSE(f.fail_open);
  EXPECT_EQ(f.userspace_mode, "none");
  EXPECT_EQ(f.metrics_addr, "127.0.0.1:9640");
  EXPECT_EQ(f.health_addr, "127.0.0.1:9641");
}

TEST(AgentFlagsTest, QueueOnlyFlagsNeedTheQueue) {
  const std::map<std::string, std::string> value = {
      {"--queue-first", "=3"},      {"--pending-timeout", "=2"}, {"--pending-fail", "=open"},
      {"--userspace-mode", "=all"}, {"--fail-open", ""},         {"--fail-closed", ""}};
  ASSERT_EQ(value.size(), queueOnlyFlags().size());
  for (const std::string& flag : queueOnlyFlags()) {
    ASSERT_TRUE(value.count(flag)) << flag;
    const std::string arg = flag + value.at(flag);
    std::string err = parseError({"--queue-count=0", arg});
    EXPECT_NE(err.find(flag + " needs the packet queue (--queue-count > 0)"), std::string::npos)
        << arg << ": " << err;
    err = parseError({arg, "--queue-count", "0"});  // order does not matter
    EXPECT_NE(err.find(flag), std::string::npos) << arg << ": " << err;
    EXPECT_EQ(parseError({"--queue-count=2", arg}), "") << arg;
    EXPECT_EQ(parseError({arg}), "") << arg << " with the default queue";
  }
  // The queue off, alone, is an operator's choice.
  AgentFlags f;
  EXPECT_EQ(parseError({"--queue-count=0"}, &f), "");
  EXPECT_EQ(f.queue_count, 0);
}

TEST(AgentFlagsTest, HealthListenerIsLoopbackOnly) {
  for (const char* ok : {"127.0.0.1:0", "127.0.0.2:9641", "[::1]:9641", "off"}) {
    AgentFlags f;
    EXPECT_EQ(parseError({std::string("--health-addr=") + ok}, &f), "") << ok;
    EXPECT_EQ(f.health_addr, std::string(ok) == "off" ? "" : ok);
  }
  for (const char* bad :
       {"0.0.0.0:9641", ":9641", "10.0.0.5:9641", "[::]:9641", "[::ffff:127.0.0.1]:9641"}) {
    std::string err = parseError({std::string("--health-addr=") + bad});
    EXPECT_NE(err.find("--health-addr"), std::string::npos) << bad << ": " << err;
    EXPECT_NE(err.find("not on loopback"), std::string::npos) << bad << ": " << err;
  }
  std::string err = parseError({"--health-addr=localhost:9641"});
  EXPECT_NE(err.find("not HOST:PORT with a loopback IP address"), std::string::npos) << err;
}

TEST(AgentFlagsTest, MetricsListenerTakesAnyAddressButNotTheHealthOne) {
  for (const char* ok : {"10.0.0.5:9640", "fd00::5:9640", "[fd00::5]:9640", ":9640", "off"})
    EXPECT_EQ(parseError({std::string("--metrics-addr=") + ok}), "") << ok;
  std::string err = parseError({"--metrics-addr=node-1:9640"});
  EXPECT_NE(err.find("--metrics-addr: not HOST:PORT"), std::string::npos) << err;
  err = parseError({"--metrics-addr=127.0.0.1:9641"});
  EXPECT_NE(err.find("--metrics-addr and --health-addr are both 127.0.0.1:9641"), std::string::npos)
      << err;
}

#ifdef PALISADE_AGENT_BINARY
// main() goes through the same checks: refused before anything starts.
TEST(AgentFlagsTest, TheBinaryRefusesQueueFlagsWithoutTheQueue) {
  std::string cmd = std::string(PALISADE_AGENT_BINARY) +
                    " --node=n --manifests=/nonexistent --queue-count=0 --pending-fail=open 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << out;
  EXPECT_NE(out.find("--pending-fail needs the packet queue (--queue-count > 0)"),
            std::string::npos)
      << out;
}
#endif

}  // namespace
}  // namespace palisade::agent
