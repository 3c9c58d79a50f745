// The delta path against the real kernel, in a namespace the test creates:
// random pod churn on a generated cluster, compiled by the incremental
// compiler and programmed through Programmer::apply one delta batch at a
// time, leaves exactly the table a fresh full sync of the final ruleset gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "datapath/nft/programmer.h"
#include "datapath/nft/readback.h"
#include "tests/datapath/delta_churn.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/programmer_support.h"
#include "tests/kernel/queue_support.h"

namespace palisade::datapath::nft {
namespace {

using palisade::testing::inNetns;
using palisade::testing::NetnsGuard;
using palisade::testing::programmerIn;
using palisade::testing::shell;

/// `nft list table inet palisade`, counters and table flags normalized, its
/// sets and chains sorted by name: nft lists them in creation order, and a
/// delta creates new ones after the rest.
std::string listTable(const std::string& ns) {
  std::string out = shell("ip netns exec " + ns + " nft list table inet palisade 2>/dev/null");
  // nft prints xtables warnings for the compat NFQUEUE target (queue rules) first.
  if (size_t table = out.find("table inet palisade {"); table != std::string::npos)
    out = out.substr(table);
  out = std::regex_replace(out, std::regex("counter packets \\d+ bytes \\d+"), "counter");
  out = std::regex_replace(out, std::regex("\n\tflags [a-z,]+\n"), "\n");
  // Between "table inet palisade {" and the closing "}": blocks split by blank lines.
  const size_t open = out.find('\n'), close = out.rfind("\n}");
  if (open == std::string::npos || close == std::string::npos || close <= open) return out;
  out = out.substr(open + 1, close - open - 1);
  std::vector<std::string> blocks;
  for (size_t at = 0; at < out.size();) {
    size_t end = out.find("\n\n", at);
    if (end == std::string::npos) end = out.size();
    blocks.push_back(out.substr(at, end - at));
    at = end + 2;
  }
  std::sort(blocks.begin(), blocks.end());
  std::string sorted;
  for (const auto& b : blocks) sorted += b + "\n--\n";
  return sorted;
}

void randomDeltasLeaveTheTableOfAFreshFullSync(const ProgrammerOptions& options,
                                               bool policy_events = false) {
  NetnsGuard guard;
  const std::string node = guard.add("delta");
  testing::DeltaChurn churn(1'000, 5, policy_events);
  auto prog = programmerIn(node, options);
  ASSERT_TRUE(prog);
  auto first = prog->sync(churn.ruleset());
  ASSERT_TRUE(first.ok()) << first.error().str();

  int through_delta = 0;
  const int steps = 200;
  for (int step = 0; step < steps; ++step) {
    std::vector<ir::RulesetDelta> deltas{churn.step()};
    if (step % 7 == 6) deltas.push_back(churn.step());  // coalesced, as the agent does
    auto r = prog->apply(churn.ruleset(), deltas);
    ASSERT_TRUE(r.ok()) << "step " << step << " (" << churn.lastStep() << "): " << r.error().str();
    through_delta += r->from_ir_delta ? 1 : 0;
  }
  EXPECT_GT(through_delta, steps * 9 / 10);
  const ir::Ruleset& final_rs = churn.ruleset();

  // The kernel, read back, equals a fresh render of the final ruleset...
  uint32_t seq = 1;
  auto back = inNetns(node, [&] {
    auto tr = openMnlTransport();
    return readTable(**tr, "palisade", seq);
  });
  ASSERT_TRUE(back.ok()) << back.error().str();
  ASSERT_TRUE(back->table);
  RenderOptions ro;
  ro.deny = options.deny;
  ro.queue = options.queue;
  auto fresh = render(final_rs, ro);
  ASSERT_TRUE(fresh.ok());
  Delta d = diff(*back->table, *fresh);
  std::string sets;  // which sets differ, for the failure message
  for (const auto& e : d.elements)
    sets += " " + e.set + (e.interval ? "" : " (hash)") + ": +" +
            std::to_string(e.add_ranges.size()) + " -" + std::to_string(e.remove_ranges.size());
  EXPECT_TRUE(d.empty()) << d.summary() << sets;
  // ...and lists exactly like a fresh full sync in another namespace.
  const std::string other = guard.add("fresh");
  auto prog2 = programmerIn(other, options);
  ASSERT_TRUE(prog2);
  ASSERT_TRUE(prog2->sync(final_rs).ok());
  const std::string listed = listTable(node);
  EXPECT_NE(listed.find("ingress_dispatch_v4"), std::string::npos);
  EXPECT_EQ(listed, listTable(other));
}

TEST(DatapathDeltaKernel, RandomPodDeltasLeaveTheTableOfAFreshFullSync) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  randomDeltasLeaveTheTableOfAFreshFullSync({});
}

TEST(DatapathDeltaKernel, RandomPolicyAndNamespaceDeltasLeaveTheTableOfAFreshFullSync) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  randomDeltasLeaveTheTableOfAFreshFullSync({}, /*policy_events=*/true);
}

TEST(DatapathDeltaKernel, WithQueueRulesTheQueueSetsFollowToo) {
  bool native = false;
  SKIP_WITHOUT_QUEUE(native);
  ProgrammerOptions o;
  o.queue.pending_pods = o.queue.all_local_pods = true;
  o.queue.target.native = native;
  randomDeltasLeaveTheTableOfAFreshFullSync(o);
}

}  // namespace
}  // namespace palisade::datapath::nft
