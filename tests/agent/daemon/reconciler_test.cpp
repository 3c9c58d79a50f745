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

TEST_F(ReconcilerTest, PodChangesReachTheKernelAsDeltasEverythingElseAsFullSyncs) {
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

  // A policy change recompiles: a full sync.
  const int applies = log->applies;
  rec->remove(policy::kindId<policy::NetworkPolicy>(), "web", "deny");
  ASSERT_TRUE(rec->waitIdle(2s));
  EXPECT_EQ(log->syncs, 1);
  EXPECT_EQ(log->applies, applies);

  // A rejected delta batch: the retry is a full sync (the kernel kept the old
  // revision, later deltas would not start there), then deltas again.
  log->fail_next = 1;
  rec->upsert(pod("web", "d", "a", "10.1.0.4"));
  ASSERT_TRUE(rec->waitIdle(2s));
  for (int i = 0; i < 100 && log->syncs < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(log->syncs, 2);
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

  // A new agent without API access: adopts the checkpoint, programs nothing new.
  auto log2 = std::make_shared<FakeKernelLog>();
  ReconcilerOptions o;
  o.node = "node-1";
  o.state_dir = dir;
  o.required_resources = {"pods"};
  Reconciler again(o, std::make_unique<FakeKernel>(log2), metrics);
  again.restoreCheckpoint();
  again.start();
  std::this_thread::sleep_for(50ms);
  again.stop();
  EXPECT_EQ(log2->adopts, 1);
  EXPECT_EQ(log2->syncs, 0);
  EXPECT_EQ(log2->last.endpoints_size(), 1);
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
