// cluster-netpol cases on a real lab (LabFlowProber): real packets between
// network namespaces built from each case's topology, on one lab node and on
// two, with the nftables every node gets from the compiled state. Each case
// must pass (or be skipped for SCTP, with the reason), its lab must be gone
// afterwards, and a case with one verdict flipped must fail on the lab.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>

#include "agent/conformance/cluster_case_file.h"
#include "agent/conformance/cluster_runner.h"
#include "agent/conformance/cluster_topology.h"
#include "agent/lab/flow_probe.h"
#include "agent/lab/lab_flow_prober.h"
#include "agent/lab/plan.h"
#include "tests/kernel/lab_support.h"
#include "tests/kernel/queue_support.h"

namespace palisade::agent::lab {
namespace {

using testing::countNetns;
using testing::isRoot;

std::string casePath(const std::string& file) {
  return std::string(PALISADE_SOURCE_DIR) + "/tests/conformance/cluster-netpol/" + file;
}

/// Namespaces left with the prober's prefix (pal-<lab>-c.*).
int leftBehind(const LabFlowProber& prober) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    if (e.path().filename().string().rfind(prober.netnsPrefix(), 0) == 0) ++n;
  }
  return n;
}

// A handful of the corpus: tier order, Pass into Baseline, nodes and
// networks peers, host-network pods, IPv6, upstream's node peers, and one
// that needs SCTP (skipped, with the reason, where the kernel has none).
constexpr const char* kCases[] = {
    "example-01-admin-deny-over-np-allow.yaml",
    "example-02-pass-into-baseline.yaml",
    "example-03-nodes-peer.yaml",
    "own-hostnetwork.yaml",
    "own-ipv6.yaml",
    "upstream-cnp-admin-tier-egress-node-peers.yaml",
    "upstream-cnp-admin-tier-egress-sctp.yaml",
};

/// One lab name per test: ctest may run the tests side by side.
std::string labName(const char* file, int nodes) {
  const auto* it = std::find_if(std::begin(kCases), std::end(kCases),
                                [&](const char* c) { return std::string(c) == file; });
  return "kt-c" + std::to_string(it - std::begin(kCases)) + "n" + std::to_string(nodes);
}

class LabClusterNetpol : public ::testing::TestWithParam<std::tuple<const char*, int>> {};

TEST_P(LabClusterNetpol, CasePassesOnTheLab) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  const auto& [file, nodes] = GetParam();
  auto c = conformance::loadClusterCaseFile(casePath(file));
  ASSERT_TRUE(c.ok()) << c.error().str();
  const std::string lab = labName(file, nodes);
  {
    LabFlowProber prober(lab, nodes);
    const auto start = std::chrono::steady_clock::now();
    conformance::CaseResult r = conformance::runClusterCase(*c, prober);
    const auto built_and_probed = std::chrono::steady_clock::now();
    Status down = prober.endCase();
    const auto end = std::chrono::steady_clock::now();
    auto ms = [](auto d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    // For the notes, not an assertion: how long a case costs in CI.
    std::cout << "[ timing ] " << file << " on " << nodes << " node(s): " << c->steps.size()
              << " steps, " << ms(built_and_probed - start) << " ms, teardown "
              << ms(end - built_and_probed) << " ms\n";
    ASSERT_TRUE(down.ok()) << down.error().str();
    EXPECT_EQ(leftBehind(prober), 0);
    if (r.skipped) {
      EXPECT_FALSE(sctpSocketsAvailable()) << "skipped although SCTP works: " << r.detail;
      EXPECT_NE(r.detail.find("SCTP: this kernel cannot open SCTP sockets"), std::string::npos)
          << r.detail;
    } else {
      EXPECT_TRUE(r.passed) << r.detail;
    }
  }
  EXPECT_EQ(countNetns(lab), 0);
}

INSTANTIATE_TEST_SUITE_P(LabCnp, LabClusterNetpol,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values(1, 2)),
                         [](const ::testing::TestParamInfo<LabClusterNetpol::ParamType>& info) {
                           std::string name;
                           for (char ch : std::string(std::get<0>(info.param))) {
                             if (ch == '.') break;
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return name + "_" + std::to_string(std::get<1>(info.param)) + "node";
                         });

// The same cases with every new connection decided in user space (the
// packet queue's decider over the same IR, `palisade test --lab
// --userspace-mode`): it must give the static ruleset's verdicts.
class LabClusterNetpolUserspace : public ::testing::TestWithParam<const char*> {};

TEST_P(LabClusterNetpolUserspace, CasePassesWithTheQueueDeciding) {
  bool native = false;
  SKIP_WITHOUT_QUEUE(native);
  (void)native;  // the lab probes for the queue statement itself
  const char* file = GetParam();
  auto c = conformance::loadClusterCaseFile(casePath(file));
  ASSERT_TRUE(c.ok()) << c.error().str();
  const std::string lab = "kt-cu" + labName(file, 1).substr(4);
  {
    LabFlowProber prober(lab, 1, 400, /*userspace_mode=*/true);
    conformance::CaseResult r = conformance::runClusterCase(*c, prober);
    Status down = prober.endCase();
    ASSERT_TRUE(down.ok()) << down.error().str();
    EXPECT_EQ(leftBehind(prober), 0);
    if (r.skipped) {
      EXPECT_FALSE(sctpSocketsAvailable()) << "skipped although SCTP works: " << r.detail;
    } else {
      EXPECT_TRUE(r.passed) << r.detail;
    }
  }
  EXPECT_EQ(countNetns(lab), 0);
}

INSTANTIATE_TEST_SUITE_P(LabCnpUserspace, LabClusterNetpolUserspace, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name;
                           for (char ch : std::string(info.param)) {
                             if (ch == '.') break;
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return name;
                         });

std::vector<std::string> texts(const std::vector<IpAddress>& ips) {
  std::vector<std::string> out;
  for (const IpAddress& ip : ips) out.push_back(ip.toString());
  return out;
}

/// The plan keeps the case's addresses as written: node i on lab node i % N
/// with all its addresses, pods with their IPs, no namespace for a
/// host-network pod. Pure: no root needed.
TEST(LabFlowPlan, CaseTopologyAsWritten) {
  auto c = conformance::loadClusterCaseFile(casePath("example-03-nodes-peer.yaml"));
  ASSERT_TRUE(c.ok()) << c.error().str();
  policy::ClusterState state;
  conformance::TopologyObjects(c->topology).installInto(state);

  auto two = planFlowLab(state, {"kt-plan", "c.", 2});
  ASSERT_TRUE(two.ok()) << two.error().str();
  ASSERT_EQ(two->nodes.size(), 2u);
  EXPECT_EQ(two->nodes[0].name, "node-a");
  EXPECT_EQ(texts(two->nodes[0].hosted), (std::vector<std::string>{"172.18.0.2", "fc00::2"}));
  EXPECT_EQ(two->nodes[1].name, "node-b");
  EXPECT_EQ(texts(two->nodes[1].hosted),
            (std::vector<std::string>{"172.18.0.3", "fc00::3", "198.51.100.3"}));
  ASSERT_EQ(two->pods.size(), 2u);  // infra/agent is host-network: its node's namespace
  EXPECT_EQ(two->pods[0].label(), "app/web");
  EXPECT_EQ(texts(two->pods[0].ips), (std::vector<std::string>{"10.244.1.5", "fd00:10:244:1::5"}));
  EXPECT_EQ(two->pods[1].label(), "infra/cache");
  for (const LabPod& pod : two->pods) EXPECT_EQ(pod.node, 0u) << pod.label();  // both on node-a
  ASSERT_TRUE(two->outside.has_value());
  for (const LabNode& n : two->nodes) EXPECT_EQ(n.netns.rfind("pal-kt-plan-c.", 0), 0u);
  for (const LabPod& p : two->pods) EXPECT_EQ(p.netns.rfind("pal-kt-plan-c.", 0), 0u);
  EXPECT_EQ(two->outside->netns.rfind("pal-kt-plan-c.", 0), 0u);

  auto one = planFlowLab(state, {"kt-plan", "c.", 1});
  ASSERT_TRUE(one.ok()) << one.error().str();
  ASSERT_EQ(one->nodes.size(), 1u);
  EXPECT_EQ(one->nodes[0].name, "node-a+node-b");
  EXPECT_EQ(one->nodes[0].hosted.size(), 5u);
}

/// The lab must be able to fail a case: the same file, one verdict flipped.
TEST(LabClusterNetpolFails, FlippedVerdictFails) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  auto c = conformance::loadClusterCaseFile(casePath("example-03-nodes-peer.yaml"));
  ASSERT_TRUE(c.ok()) << c.error().str();
  // Step 1: a denied probe to a node address (input hook) and an allowed one
  // to a host-network pod; both flipped, so a prober that always allows or
  // always denies cannot pass either.
  ASSERT_FALSE(c->steps.empty());
  std::vector<conformance::Probe>& expect = c->steps[0].expect;
  ASSERT_GE(expect.size(), 4u);
  ASSERT_EQ(expect[2].to.text, "infra/agent");
  ASSERT_TRUE(expect[2].allowed);
  ASSERT_EQ(expect[3].to.text, "node/node-a");
  ASSERT_FALSE(expect[3].allowed);
  expect[2].allowed = false;
  expect[3].allowed = true;
  for (int nodes : {1, 2}) {
    LabFlowProber prober("kt-cnpf", nodes);
    conformance::CaseResult r = conformance::runClusterCase(*c, prober);
    ASSERT_TRUE(prober.endCase().ok());
    EXPECT_FALSE(r.passed) << nodes << " node(s)";
    EXPECT_FALSE(r.skipped);
    EXPECT_NE(r.detail.find("infra/agent TCP/10250 IPv4: expected deny, got allow"),
              std::string::npos)
        << r.detail;
    EXPECT_NE(r.detail.find("node/node-a TCP/10250 IPv4: expected allow, got deny"),
              std::string::npos)
        << r.detail;
    // Only the flipped probes fail: everything else still agrees.
    EXPECT_EQ(std::count(r.detail.begin(), r.detail.end(), '\n'), 1) << r.detail;
    EXPECT_EQ(leftBehind(prober), 0);
  }
}

}  // namespace
}  // namespace palisade::agent::lab
