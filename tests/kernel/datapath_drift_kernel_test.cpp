// The datapath defends itself, against the real kernel in namespaces the test
// creates: another process deletes the table, flushes a chain, removes an
// element or inserts a foreign rule; repair() names what changed and one batch
// restores it (the listing equals the one before, the denied connection is
// denied again). With the owner flag, another process cannot delete the table
// at all. The monitor reports a foreign change and never our own batches.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <regex>
#include <thread>

#include "datapath/nft/monitor.h"
#include "datapath/nft/probe.h"
#include "datapath/nft/programmer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/programmer_support.h"

namespace palisade::datapath::nft {
namespace {

using namespace std::chrono_literals;
using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::programmerIn;
using palisade::testing::shell;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
using testing::RulesetBuilder;

std::string listTable(const std::string& ns) {
  std::string out = shell("ip netns exec " + ns + " nft list table inet palisade 2>&1");
  return std::regex_replace(out, std::regex("counter packets \\d+ bytes \\d+"), "counter");
}

/// Runs `nft <args>` as another process in `ns`; its exit code.
int nft(const std::string& ns, const std::string& args) {
  int rc = 0;
  shell("ip netns exec " + ns + " nft " + args + " 2>&1", &rc);
  return rc;
}

/// b (pod 2) accepts TCP/80 from a (pod 1) only.
struct Isolated {
  RulesetBuilder b;
  explicit Isolated(const Topology& t) {
    uint32_t peers = b.peerSet({t.pod_ip[0]}, "pods {app=a}");
    uint32_t ports = b.portSet({{ir::TCP, 80, 80}});
    uint32_t in = b.program(ir::INGRESS, {{peers, ports, "ns/allow-a", 0}}, {"ns/allow-a"});
    b.endpoint("ns", "a", t.pod_ip[0], 0, 0);
    b.endpoint("ns", "b", t.pod_ip[1], in, 0);
    b.endpoint("ns", "c", t.pod_ip[2], 0, 0);
    for (const auto& ip : t.node_ip) b.nodeAddress(ip);
  }
};

class DatapathDrift : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = palisade::testing::kernelTestsUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    topo_ = std::make_unique<Topology>(3);
    s_ = std::make_unique<Isolated>(*topo_);
    prog_ = programmerIn(topo_->node);
    ASSERT_TRUE(prog_);
    auto r = prog_->sync(s_->b.rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
    before_ = listTable(topo_->node);
    listener_ = tcpListen(topo_->pods[1], 81);
    ASSERT_EQ(tcpConnect(topo_->pods[2], topo_->pod_ip[1], 81), Conn::Timeout);
  }

  /// Repairs and checks: the cause was found, the table lists as before, c
  /// cannot reach b again, and a second check finds nothing.
  void expectRepaired(const std::string& cause) {
    auto r = prog_->repair();
    ASSERT_TRUE(r.ok()) << r.error().str();
    bool found = false;
    for (const auto& d : r->drift) found |= d.cause == cause;
    EXPECT_TRUE(found) << cause << " not in: " << driftSummary(r->drift);
    EXPECT_EQ(listTable(topo_->node), before_);
    EXPECT_EQ(tcpConnect(topo_->pods[2], topo_->pod_ip[1], 81), Conn::Timeout);
    auto again = prog_->repair();
    ASSERT_TRUE(again.ok()) << again.error().str();
    EXPECT_TRUE(again->drift.empty()) << driftSummary(again->drift);
  }

  /// An ingress program's chain (not the fixed stage chains of the cluster tiers).
  std::string programChain() const {
    for (const auto& [name, c] : prog_->current()->chains)
      if (!c.hook && !c.rules.empty() && name.rfind("ingress_", 0) == 0) return name;
    return "";
  }

  std::unique_ptr<Topology> topo_;
  std::unique_ptr<Isolated> s_;
  std::unique_ptr<Programmer> prog_;
  std::string before_;
  Fd listener_;
};

TEST_F(DatapathDrift, NothingChangedNothingFound) {
  auto r = prog_->repair();
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->drift.empty()) << driftSummary(r->drift);
  EXPECT_EQ(r->sync.messages, 0u);
}

TEST_F(DatapathDrift, DeletedTableIsRecreated) {
  ASSERT_EQ(nft(topo_->node, "delete table inet palisade"), 0);
  EXPECT_EQ(tcpConnect(topo_->pods[2], topo_->pod_ip[1], 81), Conn::Ok);  // open while gone
  expectRepaired("table_deleted");
}

TEST_F(DatapathDrift, FlushedChainIsRefilled) {
  const std::string chain = programChain();
  ASSERT_FALSE(chain.empty());
  ASSERT_EQ(nft(topo_->node, "flush chain inet palisade " + chain), 0);
  expectRepaired("chain_flushed");
}

TEST_F(DatapathDrift, FlushedBaseChainIsRefilled) {
  std::string base;
  for (const auto& [name, c] : prog_->current()->chains)
    if (c.hook && !c.rules.empty()) base = name;
  ASSERT_FALSE(base.empty());
  ASSERT_EQ(nft(topo_->node, "flush chain inet palisade " + base), 0);
  expectRepaired("chain_flushed");
}

TEST_F(DatapathDrift, ForeignRuleIsRemoved) {
  const std::string chain = programChain();
  ASSERT_EQ(nft(topo_->node, "insert rule inet palisade " + chain + " accept"), 0);
  EXPECT_EQ(tcpConnect(topo_->pods[2], topo_->pod_ip[1], 81), Conn::Ok);  // the hole works
  expectRepaired("chain_rules");
}

TEST_F(DatapathDrift, RemovedElementIsAddedBack) {
  // The dispatch map entry that sends b's ingress to its program: without it b is open.
  std::string map;
  for (const auto& [name, set] : prog_->current()->sets)
    if (set.is_map && set.key == KeyType::Ipv4 && !set.jumps.empty() &&
        name.find("ingress") != std::string::npos)
      map = name;
  ASSERT_FALSE(map.empty());
  ASSERT_EQ(
      nft(topo_->node, "delete element inet palisade " + map + " { " + topo_->pod_ip[1] + " }"), 0);
  EXPECT_EQ(tcpConnect(topo_->pods[2], topo_->pod_ip[1], 81), Conn::Ok);
  expectRepaired("element_removed");
}

TEST_F(DatapathDrift, ForeignChainIsDeleted) {
  ASSERT_EQ(nft(topo_->node, "add chain inet palisade sneaky"), 0);
  expectRepaired("foreign_object");
}

// Every rendering the agent programs (reject, the queue's rules with the
// compat target or the native one, whichever this kernel has) must read back
// as ours: otherwise the periodic check would "repair" a healthy table forever.
TEST(DatapathDriftRenderings, EveryRenderingReadsBackAsOurs) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  Topology topo(3);
  Isolated s(topo);
  auto native = inNetns(topo.node, [] { return probeQueueStatement(); });
  ASSERT_TRUE(native.ok()) << native.error().str();
  std::vector<std::pair<std::string, ProgrammerOptions>> cases;
  cases.emplace_back("drop", ProgrammerOptions{});
  ProgrammerOptions reject;
  reject.deny = DenyAction::Reject;
  cases.emplace_back("reject", reject);
  ProgrammerOptions queued;
  queued.queue.pending_pods = true;
  queued.queue.all_local_pods = true;
  queued.queue.untranslated_services = true;
  queued.queue.services.vips_v4 = {0x0a600001};  // 10.96.0.1
  queued.queue.services.ports = {6u << 16 | 443};
  queued.queue.target.native = *native;
  cases.emplace_back("queue", queued);
  for (auto& [name, options] : cases) {
    auto prog = programmerIn(topo.node, options);
    ASSERT_TRUE(prog);
    auto r = prog->sync(s.b.rs);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().str();
    auto check = prog->repair();
    ASSERT_TRUE(check.ok()) << name << ": " << check.error().str();
    EXPECT_TRUE(check->drift.empty()) << name << ": " << driftSummary(check->drift);
  }
}

TEST(DatapathOwnership, AnotherProcessCannotDeleteAnOwnedTable) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  auto f = probeFeatures();
  ASSERT_TRUE(f.ok()) << f.error().str();
  if (!f->tableFlags()) GTEST_SKIP() << "kernel lacks owner+persist: " << f->summary();
  Topology t(3);
  Isolated s(t);
  ProgrammerOptions o;
  o.table_flags = f->tableFlags();
  {
    auto prog = programmerIn(t.node, o);
    ASSERT_TRUE(prog->sync(s.b.rs).ok());
    EXPECT_NE(nft(t.node, "delete table inet palisade"), 0);
    EXPECT_NE(nft(t.node, "flush chain inet palisade " + prog->current()->chains.begin()->first),
              0);
    EXPECT_NE(listTable(t.node).find("table inet palisade"), std::string::npos);
    EXPECT_EQ(prog->repair()->drift.size(), 0u);
  }
  // The owner is gone; persist keeps the table (and its rules) for the next agent...
  EXPECT_NE(listTable(t.node).find("table inet palisade"), std::string::npos);
  Fd l = tcpListen(t.pods[1], 81);
  EXPECT_EQ(tcpConnect(t.pods[2], t.pod_ip[1], 81), Conn::Timeout);
  // ...which takes it over as it is, and owns it from then on.
  auto next = programmerIn(t.node, o);
  auto live = next->adoptLive();
  ASSERT_TRUE(live.ok()) << live.error().str();
  EXPECT_TRUE(*live);
  EXPECT_NE(nft(t.node, "delete table inet palisade"), 0);
  EXPECT_TRUE(next->deleteTable().ok());
}

// The owner and persist flags of a live table cannot change in place: a table
// left without them (palisade apply, an older agent) or one left owned while
// the next agent runs with --table-ownership=off is re-created, atomically,
// with the flags asked for, and denied traffic stays denied throughout.
TEST(DatapathOwnership, OwnershipChangesReCreateTheTableInOneBatch) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  auto f = probeFeatures();
  ASSERT_TRUE(f.ok()) << f.error().str();
  if (!f->tableFlags()) GTEST_SKIP() << "kernel lacks owner+persist: " << f->summary();
  Topology t(3);
  Isolated s(t);
  Fd l = tcpListen(t.pods[1], 81);
  ProgrammerOptions owned, open;
  owned.table_flags = f->tableFlags();
  // Unflagged → owned, then orphaned → unflagged, then → owned again.
  for (const ProgrammerOptions* o : {&open, &owned, &open, &owned}) {
    auto prog = programmerIn(t.node, *o);
    ASSERT_TRUE(prog);
    auto live = prog->adoptLive();
    ASSERT_TRUE(live.ok()) << live.error().str();
    auto r = live.value() ? prog->adopt(s.b.rs) : prog->sync(s.b.rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(tcpConnect(t.pods[2], t.pod_ip[1], 81), Conn::Timeout);
    auto check = prog->repair();
    ASSERT_TRUE(check.ok()) << check.error().str();
    EXPECT_TRUE(check->drift.empty()) << driftSummary(check->drift);
    // Another process can flush our chain exactly when we do not own it.
    const std::string chain = prog->current()->chains.begin()->first;
    EXPECT_EQ(nft(t.node, "flush chain inet palisade " + chain) == 0, o->table_flags == 0);
    ASSERT_TRUE(prog->repair().ok());
  }
  auto last = programmerIn(t.node, owned);
  ASSERT_TRUE(last->adoptLive().ok());
  EXPECT_TRUE(last->deleteTable().ok());
}

TEST(DatapathMonitor, ReportsForeignChangesNotOurOwn) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  Topology t(3);
  Isolated s(t);
  auto prog = programmerIn(t.node);
  std::mutex mu;
  std::vector<std::string> seen;
  auto mon = inNetns(t.node, [&] {
    return TableMonitor::start("palisade", prog->transport().portId(), [&](const std::string& w) {
      std::lock_guard lock(mu);
      seen.push_back(w);
    });
  });
  ASSERT_TRUE(mon.ok()) << mon.error().str();
  auto count = [&] {
    std::lock_guard lock(mu);
    return seen.size();
  };
  // Our own batches, large and small: nothing.
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  ir::Ruleset next = s.b.rs;
  next.mutable_endpoints()->DeleteSubrange(2, 1);
  ASSERT_TRUE(prog->sync(next).ok());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(count(), 0u);
  // Another table's change: nothing.
  ASSERT_EQ(nft(t.node, "add table inet somebody_else"), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count(), 0u);
  // nft touching ours: one report naming nft and what it did.
  ASSERT_EQ(nft(t.node, "add chain inet palisade sneaky"), 0);
  for (int i = 0; i < 200 && count() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(count(), 1u);
  {
    std::lock_guard lock(mu);
    EXPECT_NE(seen[0].find("nft"), std::string::npos) << seen[0];
    EXPECT_NE(seen[0].find("added chain sneaky"), std::string::npos) << seen[0];
  }
  EXPECT_EQ((*mon)->foreignChanges(), 1u);
  nft(t.node, "delete table inet somebody_else");
}

}  // namespace
}  // namespace palisade::datapath::nft
