// Drift: a readback that differs from the programmed model in its rules,
// chains, sets or elements becomes one repair delta, named by cause; and the
// monitor's parser reads the events `nft` causes.
#include "datapath/nft/drift.h"

#include <gtest/gtest.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>

#include "datapath/nft/batch.h"
#include "datapath/nft/diff.h"
#include "datapath/nft/monitor.h"
#include "datapath/nft/render.h"
#include "datapath/nft/rule_digest.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

using testing::sampleRuleset;

TableModel rendered() {
  auto m = render(sampleRuleset());
  EXPECT_TRUE(m.ok());
  return m.ok() ? *m : TableModel{};
}

/// What a readback of `m` looks like when the kernel holds exactly it: no
/// RuleModels, only the rules' digests (and base chains' policy).
TableModel readBackOf(const TableModel& m) {
  TableModel k = m;
  for (auto& [name, c] : k.chains) {
    c.rule_digests = expectedRuleDigests(m.name, c);
    if (c.hook) c.policy = kChainPolicyAccept;
    c.rules.clear();
  }
  return k;
}

bool hasCause(const std::vector<DriftChange>& d, const std::string& cause) {
  return std::any_of(d.begin(), d.end(), [&](const DriftChange& c) { return c.cause == cause; });
}

TEST(NftDrift, AnExactReadbackHasNoDrift) {
  TableModel ours = rendered();
  Delta d = diff(readBackOf(ours), ours);
  EXPECT_TRUE(d.empty()) << d.summary();
}

TEST(NftDrift, FlushedChainIsRewrittenInPlace) {
  TableModel ours = rendered();
  TableModel kernel = readBackOf(ours);
  auto& victim = kernel.chains.begin()->second;
  ASSERT_FALSE(victim.rule_digests->empty());
  victim.rule_digests->clear();  // nft flush chain
  Delta d = diff(kernel, ours);
  ASSERT_EQ(d.rewrite_chains.size(), 1u) << d.summary();
  EXPECT_EQ(d.rewrite_chains[0].name, victim.name);
  EXPECT_TRUE(d.replace_chains.empty());
  auto drift = describeDrift(kernel, d, false);
  EXPECT_TRUE(hasCause(drift, "chain_flushed")) << driftSummary(drift);
}

TEST(NftDrift, ForeignOrEditedRuleIsFound) {
  TableModel ours = rendered();
  TableModel kernel = readBackOf(ours);
  auto& c = kernel.chains.begin()->second;
  c.rule_digests->insert(c.rule_digests->begin(), 0x1234);  // nft insert rule ... accept
  Delta d = diff(kernel, ours);
  ASSERT_EQ(d.rewrite_chains.size(), 1u);
  EXPECT_TRUE(hasCause(describeDrift(kernel, d, false), "chain_rules"));
  // The comment is part of the digest: a rule with another comment is another rule.
  RuleModel a = ours.chains.begin()->second.rules.at(0), b = a;
  b.comment += " (edited)";
  EXPECT_NE(ruleDigest(buildRule("palisade", "x", a).get()),
            ruleDigest(buildRule("palisade", "x", b).get()));
  EXPECT_EQ(ruleDigest(buildRule("palisade", "x", a).get()),
            ruleDigest(buildRule("palisade", "x", a).get()));
}

TEST(NftDrift, BaseChainPolicyDropIsReplaced) {
  TableModel ours = rendered();
  TableModel kernel = readBackOf(ours);
  auto base = std::find_if(kernel.chains.begin(), kernel.chains.end(),
                           [](const auto& kv) { return kv.second.hook.has_value(); });
  ASSERT_NE(base, kernel.chains.end());
  base->second.policy = 0;  // NF_DROP
  Delta d = diff(kernel, ours);
  ASSERT_EQ(d.replace_chains.size(), 1u);
  EXPECT_EQ(d.replace_chains[0].name, base->first);
  EXPECT_TRUE(hasCause(describeDrift(kernel, d, false), "chain_changed"));
}

TEST(NftDrift, DeletedChainsSetsAndElementsAndForeignObjects) {
  TableModel ours = rendered();
  TableModel kernel = readBackOf(ours);
  auto set = std::find_if(kernel.sets.begin(), kernel.sets.end(), [](const auto& kv) {
    return !kv.second.is_map && !kv.second.ranges.empty();
  });
  ASSERT_NE(set, kernel.sets.end());
  const std::string set_name = set->first;
  set->second.ranges.erase(set->second.ranges.begin());  // nft delete element
  auto program = std::find_if(kernel.chains.begin(), kernel.chains.end(),
                              [](const auto& kv) { return !kv.second.hook; });
  ASSERT_NE(program, kernel.chains.end());
  const std::string gone = program->first;
  kernel.chains.erase(program);
  ChainModel foreign;
  foreign.name = "sneaky";
  foreign.rule_digests.emplace();
  kernel.chains["sneaky"] = foreign;
  Delta d = diff(kernel, ours);
  auto drift = describeDrift(kernel, d, false);
  EXPECT_TRUE(hasCause(drift, "element_removed")) << driftSummary(drift);
  EXPECT_TRUE(hasCause(drift, "chain_deleted")) << driftSummary(drift);
  EXPECT_TRUE(hasCause(drift, "foreign_object")) << driftSummary(drift);
  EXPECT_NE(driftSummary(drift).find(set_name), std::string::npos);
  EXPECT_NE(driftSummary(drift).find(gone), std::string::npos);
  EXPECT_NE(driftSummary(drift).find("sneaky"), std::string::npos);
  // After the repair the model equals ours again.
  apply(kernel, d);
  EXPECT_EQ(kernel.chains.count("sneaky"), 0u);
  EXPECT_EQ(kernel.chains.count(gone), 1u);
}

TEST(NftDrift, TableDeletedIsOneCause) {
  auto drift = describeDrift(TableModel{}, Delta{}, true);
  ASSERT_EQ(drift.size(), 1u);
  EXPECT_EQ(drift[0].cause, "table_deleted");
}

TEST(NftDrift, RewriteBatchFlushesTheChainThenRefillsIt) {
  TableModel ours = rendered();
  TableModel kernel = readBackOf(ours);
  auto& victim = kernel.chains.begin()->second;
  victim.rule_digests->clear();
  Batch b = buildDelta(diff(kernel, ours));
  std::vector<uint16_t> types;
  b.forEach([&](const nlmsghdr* nlh) { types.push_back(NFNL_MSG_TYPE(nlh->nlmsg_type)); });
  auto del = std::find(types.begin(), types.end(), NFT_MSG_DELRULE);
  ASSERT_NE(del, types.end());
  EXPECT_EQ(std::count(types.begin(), types.end(), NFT_MSG_NEWRULE),
            long(ours.chains.at(victim.name).rules.size()));
  EXPECT_LT(del - types.begin(),
            std::find(types.begin(), types.end(), NFT_MSG_NEWRULE) - types.begin());
  EXPECT_EQ(std::count(types.begin(), types.end(), NFT_MSG_DELCHAIN), 0);
}

// ---- the monitor's parser ----

constexpr uint16_t kInet = 1;  // NFPROTO_INET (linux/netfilter.h clashes with netinet/in.h)

std::vector<uint8_t> chainEvent(uint16_t type, uint32_t port, const char* table,
                                const char* chain) {
  std::vector<uint8_t> buf(4096);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buf.data()), type, kInet, 0, 7);
  nlh->nlmsg_pid = port;
  ChainPtr c = makeChain();
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain);
  nftnl_chain_nlmsg_build_payload(nlh, c.get());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

TEST(NftMonitor, ParsesTableChainAndPort) {
  auto msg = chainEvent(NFT_MSG_DELCHAIN, 99, "palisade", "p_1");
  auto e = parseTableEvent(reinterpret_cast<const nlmsghdr*>(msg.data()), msg.size());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, NFT_MSG_DELCHAIN);
  EXPECT_EQ(e->port, 99u);
  EXPECT_EQ(e->table, "palisade");
  EXPECT_EQ(e->object, "p_1");
  EXPECT_EQ(describeEvent(*e), "deleted chain p_1");
}

TEST(NftMonitor, RejectsTruncatedAndForeignSubsystems) {
  auto msg = chainEvent(NFT_MSG_NEWCHAIN, 1, "palisade", "p_1");
  EXPECT_FALSE(parseTableEvent(reinterpret_cast<const nlmsghdr*>(msg.data()), 8));
  auto* nlh = reinterpret_cast<nlmsghdr*>(msg.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | 1;
  EXPECT_FALSE(parseTableEvent(nlh, msg.size()));
  // Cut inside an attribute: the attribute walk stops, nothing is read past the end.
  auto cut = chainEvent(NFT_MSG_NEWCHAIN, 1, "palisade", "p_1");
  auto* h = reinterpret_cast<nlmsghdr*>(cut.data());
  h->nlmsg_len -= 3;
  auto e = parseTableEvent(h, cut.size());
  ASSERT_TRUE(e);
  EXPECT_EQ(e->table, "palisade");
}

TEST(TableFlags, OwnerAndPersistChangeInPlaceOnlyToTakeOverAnOrphan) {
  constexpr uint32_t kOwned = kTableFlagOwner | kTableFlagPersist;
  EXPECT_TRUE(tableFlagsUpdatable(0, 0));
  EXPECT_TRUE(tableFlagsUpdatable(kOwned, kOwned));
  EXPECT_TRUE(tableFlagsUpdatable(kTableFlagPersist, kOwned));  // the orphan taken over
  EXPECT_TRUE(tableFlagsUpdatable(1, 0));                       // dormant, set by someone else
  EXPECT_FALSE(tableFlagsUpdatable(0, kOwned));                 // unflagged: re-created
  EXPECT_FALSE(tableFlagsUpdatable(kTableFlagPersist, 0));      // --table-ownership=off
  EXPECT_FALSE(tableFlagsUpdatable(kOwned, 0));
  EXPECT_FALSE(tableFlagsUpdatable(0, kTableFlagOwner));
  // diff() says which: a flags update, or the whole table.
  TableModel from, to;
  to.flags = kOwned;
  EXPECT_TRUE(diff(from, to).recreate_table);
  from.flags = kTableFlagPersist;
  Delta takeover = diff(from, to);
  EXPECT_EQ(takeover.table_flags, kOwned);
  EXPECT_FALSE(takeover.recreate_table);
}

}  // namespace
}  // namespace palisade::datapath::nft
