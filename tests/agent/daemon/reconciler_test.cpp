// The reconcile loop with a recording kernel: gating on the first full sync,
// pod deltas vs recompiles, rejected batches, checkpoint write and restore.
#include "agent/daemon/reconciler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/daemon/checkpoint.h"
#include "tests/agent/daemon/fake_kernel.h"

namespace palisade::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeKernel;
using testing::FakeKernelLog;

policy::Pod pod(const std::string& ns, const std::string& name, const std::string& app,
                const std::string& ip, const std::string& node = "node-1") {
  policy::Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  p.meta.labels = {{"app", app}};
  p.node_name = node;
  p.phase = "Running";
  p.ips = {*policy::IpAddress::parse(ip)};
  return p;
}

policy::Namespace ns(const std::string& name) {
  policy::Namespace n;
  n.meta.name = name;
  n.meta.labels = {{"kubernetes.io/metadata.name", name}};
  return n;
}

policy::NetworkPolicy denyAll(const std::string& ns, const std::string& name,
                              const std::string& app) {
  policy::NetworkPolicy np;
  np.meta.namespace_ = ns;
  np.meta.name = name;
  np.pod_selector.match_labels = {{"app", app}};
  np.affects_ingress = true;
  return np;
}

struct ReconcilerTest : ::testing::Test {
  std::shared_ptr<FakeKernelLog> log = std::make_shared<FakeKernelLog>();
  Metrics metrics;
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("palisade-rec-" + std::to_string(getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                        .string();
  std::unique_ptr<Reconciler> rec;

  void make(std::set<std::string> required = {"pods", "namespaces", "networkpolicies"}) {
    ReconcilerOptions o;
    o.node = "node-1";
    o.state_dir = dir;
    o.required_resources = std::move(required);
    o.checkpoint_interval = 0ms;
    o.retry_interval = 20ms;
    o.counters_interval = 0ms;
    rec = std::make_unique<Reconciler>(o, std::make_unique<FakeKernel>(log), metrics);
  }
  /// The options a restarted agent on the same node and state dir starts with.
  ReconcilerOptions restartOptions(std::set<std::string> required = {"pods"}) const {
    ReconcilerOptions o;
    o.node = "node-1";
    o.state_dir = dir;
    o.required_resources = std::move(required);
    return o;
  }
  void TearDown() override {
    if (rec) rec->stop();
    std::filesystem::remove_all(dir);
  }
};

TEST_F(ReconcilerTest, NothingProgrammedUntilEveryResourceSynced) {
  make();
  rec->start();
  rec->upsert(ns("web"));
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->upsert(denyAll("web", "deny", "a"));
  rec->synced("pods");
  rec->synced("namespaces");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->calls(), 0);
  EXPECT_FALSE(rec->ready());
  rec->synced("networkpolicies");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->adopts, 1);  // the first programming adopts the kernel table
  EXPECT_TRUE(rec->ready());
  auto rs = log->lastRuleset();
  auto* e = log->endpoint(rs, "web", "a");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->ingress_program(), 0u);
}

TEST_F(ReconcilerTest, PodChangesSyncAndPolicyRemovalRecompiles) {
  make();
  rec->start();
  rec->upsert(ns("web"));
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->upsert(denyAll("web", "deny", "a"));
  for (auto r : {"pods", "namespaces", "networkpolicies"}) rec->synced(r);
  ASSERT_TRUE(rec->waitIdle(2s));
  rec->upsert(pod("web", "b", "a", "10.1.0.2"));
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->applies, 1);  // a pod change: the compiler's delta
  auto rs = log->lastRuleset();
  ASSERT_NE(log->endpoint(rs, "web", "b"), nullptr);
  EXPECT_NE(log->endpoint(rs, "web", "b")->ingress_program(), 0u);
  // Relabel: b leaves the policy's selector.
  rec->upsert(pod("web", "b", "other", "10.1.0.2"));
  ASSERT_TRUE(rec->waitIdle(2s));
  rs = log->lastRuleset();
  EXPECT_EQ(log->endpoint(rs, "web", "b")->ingress_program(), 0u);
  rec->remove(policy::kindId<policy::NetworkPolicy>(), "web", "deny");
  ASSERT_TRUE(rec->waitIdle(2s));
  rs = log->lastRuleset();
  EXPECT_EQ(log->endpoint(rs, "web", "a")->ingress_program(), 0u);
  rec->remove(policy::kindId<policy::Pod>(), "web", "a");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->endpoint(log->lastRuleset(), "web", "a"), nullptr);
  EXPECT_GE(metrics.sync_duration.count(), 4u);
}

TEST_F(ReconcilerTest, PodPolicyAndNamespaceChangesReachTheKernelAsDeltasNodesAsFullSyncs) {
  make();
  rec->start();
  rec->upsert(ns("web"));
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->upsert(denyAll("web", "deny", "a"));
  for (auto r : {"pods", "namespaces", "networkpolicies"}) rec->synced(r);
  ASSERT_TRUE(rec->waitIdle(2s));
  ASSERT_EQ(log->adopts, 1);

  // Three pod changes, however the loop coalesces them: every delta reaches
  // apply() once, in order, and nothing takes the full path.
  rec->upsert(pod("web", "b", "a", "10.1.0.2"));
  rec->upsert(pod("web", "c", "a", "10.1.0.3"));
  rec->remove(policy::kindId<policy::Pod>(), "web", "a");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->syncs, 0);
  EXPECT_GE(log->applies, 1);
  size_t deltas = 0;
  for (size_t n : log->apply_delta_counts) deltas += n;
  EXPECT_EQ(deltas, 3u);
  auto rs = log->lastRuleset();
  EXPECT_EQ(log->endpoint(rs, "web", "a"), nullptr);
  ASSERT_NE(log->endpoint(rs, "web", "c"), nullptr);
  EXPECT_NE(log->endpoint(rs, "web", "c")->ingress_program(), 0u);

  // A policy change is a delta too (the endpoints of its namespace)...
  rec->remove(policy::kindId<policy::NetworkPolicy>(), "web", "deny");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->syncs, 0);
  EXPECT_EQ(log->endpoint(log->lastRuleset(), "web", "c")->ingress_program(), 0u);
  // ...a Node change recompiles: a full sync.
  const int applies = log->applies;
  policy::Node node;
  node.meta.name = "other-node";
  rec->upsert(node);
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->syncs, 1);
  EXPECT_EQ(log->applies, applies);

  // A rejected delta batch: the retry reads the table back and resynchronises
  // (adopt; the kernel is not what we believed, later deltas would not start
  // there), then deltas again.
  const int adopts = log->adopts;
  log->fail_next = 1;
  rec->upsert(pod("web", "d", "a", "10.1.0.4"));
  ASSERT_TRUE(rec->waitIdle(2s));
  for (int i = 0; i < 100 && log->adopts == adopts; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log->adopts, adopts + 1);
  EXPECT_EQ(log->syncs, 1);
  EXPECT_EQ(log->applies, applies);
  ASSERT_NE(log->endpoint(log->lastRuleset(), "web", "d"), nullptr);
  rec->upsert(pod("web", "e", "a", "10.1.0.5"));
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->applies, applies + 1);
  EXPECT_EQ(log->apply_delta_counts.back(), 1u);
}

TEST_F(ReconcilerTest, RejectedBatchIsRetriedAndCounted) {
  make({"pods"});
  rec->start();
  log->fail_next = 2;
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  for (int i = 0; i < 100 && log->calls() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log->calls(), 1);
  EXPECT_EQ(metrics.kernel_batch_errors, 2u);
  EXPECT_TRUE(rec->ready());
  EXPECT_EQ(rec->lastError(), "");
}

TEST_F(ReconcilerTest, CheckpointWrittenThenAdoptedOnRestart) {
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  rec->stop();
  auto cp = readCheckpoint(dir);
  ASSERT_TRUE(cp) << cp.error().str();
  ASSERT_TRUE(cp->has_value());
  EXPECT_EQ((*cp)->node(), "node-1");
  EXPECT_EQ((*cp)->ruleset().endpoints_size(), 1);
  EXPECT_GE(metrics.checkpoint_writes, 1u);

  // After a reboot (no table) and without API access: the checkpoint is
  // programmed and stays in force; nothing else is.
  auto log2 = std::make_shared<FakeKernelLog>();
  ReconcilerOptions o = restartOptions();
  Reconciler again(o, std::make_unique<FakeKernel>(log2), metrics);
  again.restoreCheckpoint();
  again.start();
  std::this_thread::sleep_for(50ms);
  again.stop();
  EXPECT_EQ(log2->live_adopts, 0);
  EXPECT_EQ(log2->adopts, 0);
  EXPECT_EQ(log2->syncs, 1);
  EXPECT_EQ(log2->last.endpoints_size(), 1);
}

TEST_F(ReconcilerTest, RestartWithALiveTableNeverRollsItBack) {
  // The previous agent wrote a checkpoint with one pod, then programmed a
  // second and died before its next checkpoint.
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  rec->stop();
  ASSERT_TRUE(readCheckpoint(dir).ok());

  auto live = std::make_shared<FakeKernelLog>();
  live->table_live = true;  // the table the previous agent left, newer than the checkpoint
  ReconcilerOptions o = restartOptions();
  Metrics restarted;  // a new process: not ready until its own first full sync
  Reconciler again(o, std::make_unique<FakeKernel>(live), restarted);
  again.restoreCheckpoint();
  again.start();
  std::this_thread::sleep_for(50ms);
  // Taken as it is: the stale checkpoint is not programmed over it.
  EXPECT_EQ(live->live_adopts, 1);
  EXPECT_EQ(live->calls(), 0);
  EXPECT_FALSE(again.ready());
  // The API answers: the first full sync converges the live table (adopt).
  again.upsert(pod("web", "a", "a", "10.1.0.1"));
  again.upsert(pod("web", "b", "a", "10.1.0.2"));
  again.synced("pods");
  ASSERT_TRUE(again.waitIdle(2s));
  again.stop();
  EXPECT_EQ(live->adopts, 1);
  EXPECT_EQ(live->lastRuleset().endpoints_size(), 2);
}

TEST_F(ReconcilerTest, CheckpointWithABadChecksumIsIgnored) {
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  rec->stop();
  // Flip one byte inside the ruleset data.
  std::string bytes;
  {
    std::ifstream in(checkpointPath(dir), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 40u);
  bytes[bytes.size() / 2] ^= 0x20;
  { std::ofstream(checkpointPath(dir), std::ios::binary) << bytes; }
  auto cp = readCheckpoint(dir);
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.error().str().find("corrupt checkpoint"), std::string::npos) << cp.error().str();

  auto fresh = std::make_shared<FakeKernelLog>();
  ReconcilerOptions o = restartOptions({});
  Reconciler again(o, std::make_unique<FakeKernel>(fresh), metrics);
  again.restoreCheckpoint();
  EXPECT_EQ(fresh->calls(), 0);
}

TEST_F(ReconcilerTest, FailedCheckpointWriteIsRetried) {
  // The state dir's path is taken by a file: writes fail until it is removed.
  { std::ofstream(dir) << "in the way"; }
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  for (int i = 0; i < 100 && metrics.checkpoint_errors == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GE(metrics.checkpoint_errors, 1u);
  EXPECT_EQ(metrics.checkpoint_writes, 0u);
  std::filesystem::remove(dir);
  // No new change: the pending checkpoint is written by the retry alone.
  for (int i = 0; i < 200 && metrics.checkpoint_writes == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(metrics.checkpoint_writes, 1u);
  auto cp = readCheckpoint(dir);
  ASSERT_TRUE(cp.ok() && cp->has_value());
  EXPECT_EQ((*cp)->ruleset().endpoints_size(), 1);
}

TEST_F(ReconcilerTest, DriftIsRepairedCountedAndGatesReadiness) {
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  ASSERT_TRUE(rec->ready());
  {
    std::lock_guard lock(log->mu);
    log->drift = {{"chain_flushed", "chain p_1: rules changed (0 in the kernel, 2 ours)"}};
  }
  rec->driftSuspected("nft (pid 7): deleted a rule of chain p_1");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->repairs, 1);
  EXPECT_EQ(metrics.defence.drift_detected, 1u);
  EXPECT_GT(metrics.defence.last_repair_unix_ms, 0);
  EXPECT_NE(metrics.render().find(R"(palisade_drift_repairs_total{cause="chain_flushed"} 1)"),
            std::string::npos);
  EXPECT_TRUE(rec->ready());

  // A repair the kernel refuses: not ready until the resynchronisation (an
  // adopt, reading the table back) lands; then ready again by itself.
  const int adopts = log->adopts;
  log->repair_fail_next = 1;
  log->fail_next = 1;  // and the first resync fails too
  rec->driftSuspected("nft (pid 8): deleted table palisade");
  for (int i = 0; i < 100 && rec->ready(); ++i) std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(rec->ready());
  EXPECT_NE(rec->notReadyReason().find("could not be repaired"), std::string::npos);
  for (int i = 0; i < 200 && !rec->ready(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE(rec->ready()) << rec->notReadyReason();
  EXPECT_EQ(log->adopts, adopts + 1);
  EXPECT_EQ(metrics.defence.repair_errors, 1u);
}

TEST_F(ReconcilerTest, GenerationMovedByAnotherCommitTriggersACheck) {
  ReconcilerOptions o;
  o.node = "node-1";
  o.required_resources = {"pods"};
  o.drift_check_interval = 10ms;
  rec = std::make_unique<Reconciler>(o, std::make_unique<FakeKernel>(log), metrics);
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  std::this_thread::sleep_for(50ms);
  const int checks = log->repair_checks;
  EXPECT_EQ(checks, 0);  // only our own commit so far
  {
    std::lock_guard lock(log->mu);
    ++log->generation;  // someone else committed
    log->drift = {{"element_removed", "1 elements missing from peers_1"}};
  }
  for (int i = 0; i < 200 && log->repairs == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_EQ(log->repairs, 1);
}

TEST_F(ReconcilerTest, AChangeThatThrowsLosesNoOtherChangeOfItsBatch) {
  ReconcilerOptions o;
  o.node = "node-1";
  o.required_resources = {"pods"};
  o.admit = [](const policy::AnyObject& object) {
    if (const auto* p = std::get_if<policy::Pod>(&object); p && p->meta.name == "bad")
      throw std::runtime_error("broken invariant");
  };
  rec = std::make_unique<Reconciler>(o, std::make_unique<FakeKernel>(log), metrics);
  // Queued before the loop starts: one batch.
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->upsert(pod("web", "bad", "a", "10.1.0.2"));
  rec->upsert(pod("web", "c", "a", "10.1.0.3"));
  rec->synced("pods");
  rec->start();
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_TRUE(rec->ready());
  auto rs = log->lastRuleset();
  EXPECT_NE(log->endpoint(rs, "web", "a"), nullptr);
  EXPECT_EQ(log->endpoint(rs, "web", "bad"), nullptr);
  EXPECT_NE(log->endpoint(rs, "web", "c"), nullptr);
  EXPECT_EQ(metrics.objects_rejected, 1u);
}

TEST_F(ReconcilerTest, CorruptCheckpointIsIgnored) {
  std::filesystem::create_directories(dir);
  { std::ofstream(checkpointPath(dir)) << "garbage"; }
  make({"pods"});
  rec->restoreCheckpoint();
  EXPECT_EQ(log->calls(), 0);
}

TEST_F(ReconcilerTest, ResyncReadoptsKernel) {
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  rec->resync();
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->adopts, 2);
  EXPECT_EQ(metrics.resyncs, 1u);
}

TEST_F(ReconcilerTest, MetricsRenderLoopValues) {
  make({"pods"});
  rec->start();
  rec->upsert(pod("web", "a", "a", "10.1.0.1"));
  rec->synced("pods");
  ASSERT_TRUE(rec->waitIdle(2s));
  std::this_thread::sleep_for(600ms);  // one idle tick reads the deny counters
  std::string text = metrics.render();
  EXPECT_NE(text.find("palisade_ready 1"), std::string::npos);
  EXPECT_NE(text.find("palisade_ruleset_size{what=\"endpoints\"} 1"), std::string::npos);
  EXPECT_NE(text.find("palisade_sync_duration_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("palisade_denied_packets_total{program=\"prog_1\"} 3"), std::string::npos);
  EXPECT_NE(text.find("palisade_build_info{version="), std::string::npos);
}

}  // namespace
}  // namespace palisade::agent
