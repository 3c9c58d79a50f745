#include "agent/daemon/manifest_source.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/agent/daemon/fake_kernel.h"

namespace palisade::agent {
namespace {

using namespace std::chrono_literals;

const char* kCluster = R"(apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec: {podCIDR: 10.1.0.0/24}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: web, labels: {app: db}}
spec: {nodeName: node-1, containers: [{name: c, image: x}]}
status: {phase: Running, podIP: 10.1.0.5}
)";

const char* kPolicy = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: web}
spec: {podSelector: {matchLabels: {app: db}}}
)";

TEST(ManifestSourceTest, LoadsAndReloadsOnChange) {
  auto dir = std::filesystem::temp_directory_path() / ("palisade-man-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cluster.yaml") << kCluster;
  auto log = std::make_shared<testing::FakeKernelLog>();
  Metrics metrics;
  ReconcilerOptions o;
  o.node = "node-1";
  Reconciler rec(o, std::make_unique<testing::FakeKernel>(log), metrics);
  rec.start();
  ManifestSource src(dir.string(), rec, metrics, 20ms);
  ASSERT_TRUE(src.start());
  auto ingress = [&] {
    auto rs = log->lastRuleset();
    auto* e = log->endpoint(rs, "web", "a");
    return e ? int(e->ingress_program()) : -1;
  };
  for (int i = 0; i < 200 && !rec.ready(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(rec.ready());
  EXPECT_EQ(ingress(), 0);
  std::ofstream(dir / "policy.yaml") << kPolicy;
  for (int i = 0; i < 200 && ingress() == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_GT(ingress(), 0);
  // A broken file: its valid neighbours still apply.
  std::ofstream(dir / "broken.yaml") << "kind: NetworkPolicy\nmetadata: {name: x}\nspec: 5\n";
  std::filesystem::remove(dir / "policy.yaml");
  for (int i = 0; i < 200 && ingress() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ingress(), 0);
  EXPECT_GE(metrics.manifest_reloads, 3u);
  src.stop();
  rec.stop();
  std::filesystem::remove_all(dir);
}

// Issue 11: a policy file that stops parsing keeps its policy in force (the
// pod stays isolated), is reported stale, and goes only when it is deleted.
TEST(ManifestSourceTest, BrokenPolicyFileKeepsItsLastGoodVersion) {
  auto dir =
      std::filesystem::temp_directory_path() / ("palisade-man-lg-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "cluster.yaml") << kCluster;
  std::ofstream(dir / "policy.yaml") << kPolicy;
  auto log = std::make_shared<testing::FakeKernelLog>();
  Metrics metrics;
  ReconcilerOptions o;
  o.node = "node-1";
  Reconciler rec(o, std::make_unique<testing::FakeKernel>(log), metrics);
  rec.start();
  ManifestSource src(dir.string(), rec, metrics, 20ms);
  ASSERT_TRUE(src.start());
  auto ingress = [&] {
    auto rs = log->lastRuleset();
    auto* e = log->endpoint(rs, "web", "a");
    return e ? int(e->ingress_program()) : -1;
  };
  auto reloads = [&](uint64_t n) {
    for (int i = 0; i < 300 && metrics.manifest_reloads < n; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(rec.waitIdle(2000ms));
  };
  reloads(1);
  ASSERT_GT(ingress(), 0);
  EXPECT_TRUE(src.staleFiles().empty());
  EXPECT_NE(metrics.render().find("palisade_manifest_stale_files 0\n"), std::string::npos);

  // Broken YAML: the policy stays, the file is stale, the document is counted.
  const uint64_t rejected_before = metrics.objects_rejected;
  const uint64_t n = metrics.manifest_reloads;
  std::ofstream(dir / "policy.yaml") << "kind: NetworkPolicy\nmetadata: {name: [unclosed\n";
  reloads(n + 1);
  EXPECT_GT(ingress(), 0);
  EXPECT_EQ(metrics.objects_rejected, rejected_before + 1);
  auto stale = src.staleFiles();
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].file, (dir / "policy.yaml").string());
  EXPECT_EQ(stale[0].kept, 1u);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("palisade_manifest_stale_files 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("palisade_manifest_file_kept_objects{file=\"" +
                      (dir / "policy.yaml").string() + "\"} 1\n"),
            std::string::npos)
      << text;

  // Deleting the file is a real change: the policy goes.
  std::filesystem::remove(dir / "policy.yaml");
  for (int i = 0; i < 300 && ingress() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(ingress(), 0);
  EXPECT_TRUE(src.staleFiles().empty());
  src.stop();
  rec.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace palisade::agent
