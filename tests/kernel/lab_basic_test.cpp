// The lab end to end on a small model: up on two nodes (dual stack, IPs
// allocated and given), probes agree with the evaluator before and after
// `lab apply`, TCP and UDP; down removes everything, also after the server
// was killed; down refuses namespaces without the lab's prefix; an
// interrupted `palisade test --lab` removes its lab.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "agent/cli/cmd_reach.h"
#include "agent/lab/plan.h"
#include "agent/lab/probe.h"
#include "agent/lab/topology.h"
#include "tests/kernel/lab_support.h"

namespace palisade::agent::lab {
namespace {

using testing::countNetns;
using testing::isRoot;
using testing::ManifestDir;
using testing::ScopedLab;

constexpr const char* kModel = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: one}}
spec:
  containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]}]
status: {podIPs: [{ip: 10.7.0.1}, {ip: "fd00:7::1"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: a, labels: {app: two}}
spec:
  containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: p3, namespace: b, labels: {app: three}}
spec:
  containers: [{name: c, ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]}]
status: {podIPs: [{ip: 10.7.0.3}, {ip: "fd00:7::3"}]}
)";

constexpr const char* kPolicy = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-one, namespace: b}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}, podSelector: {matchLabels: {app: one}}}]
      ports: [{port: 80}]
)";

void expectAgreement(const LabState& lab, policy::Protocol protocol, int32_t port) {
  std::vector<std::string> warnings;
  auto state = loadClusterState(lab, &warnings);
  ASSERT_TRUE(state.ok()) << state.error().str();
  auto probe = labProbe(lab, *state, protocol, port, Via::Pod, 300);
  ASSERT_TRUE(probe.ok()) << probe.error().str();
  std::vector<policy::PodId> pods = state->podsSorted();
  auto predicted = cli::reachMatrix(*state, pods, protocol, port);
  ASSERT_EQ(probe->allowed.size(), pods.size());
  for (size_t i = 0; i < pods.size(); ++i) {
    for (size_t j = 0; j < pods.size(); ++j) {
      if (i == j) continue;  // to its own IP: never leaves the pod
      EXPECT_EQ(predicted[i][j], probe->allowed[i][j])
          << probe->names[i] << " -> " << probe->names[j] << " " << policy::protocolName(protocol)
          << "/" << port;
    }
  }
}

TEST(LabBasic, UpProbeApplyDownOnTwoNodes) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  ManifestDir dir("basic");
  std::string model = dir.write("model.yaml", kModel);
  {
    ScopedLab lab("kt-basic", {model}, 2);
    ASSERT_TRUE(lab.ok()) << lab.error();
    EXPECT_EQ(lab.state().nodes.size(), 2u);
    EXPECT_EQ(countNetns("kt-basic"), 5);
    // p2 had no IP: one was allocated from its node's pod CIDR.
    const LabPod* p2 = lab.state().findPod("a", "p2");
    ASSERT_NE(p2, nullptr);
    ASSERT_FALSE(p2->ips.empty());
    expectAgreement(lab.state(), policy::Protocol::TCP, 80);
    expectAgreement(lab.state(), policy::Protocol::UDP, 53);

    std::ostringstream log;
    ASSERT_TRUE(labApply("kt-basic", {dir.write("policy.yaml", kPolicy)}, log).ok()) << log.str();
    auto reloaded = loadState("kt-basic");
    ASSERT_TRUE(reloaded.ok());
    expectAgreement(*reloaded, policy::Protocol::TCP, 80);
    expectAgreement(*reloaded, policy::Protocol::UDP, 53);

    // v6 between the dual-stack pods (a/p1 on one node, b/p3 on the other).
    const LabPod* p1 = reloaded->findPod("a", "p1");
    const LabPod* p3 = reloaded->findPod("b", "p3");
    ProbeCells v6 = probeCells(
        {p1->netns, p3->netns},
        {{std::nullopt, ProbeTarget{p3->ips[1], 80}}, {ProbeTarget{p1->ips[1], 80}, std::nullopt}},
        policy::Protocol::TCP, 300);
    EXPECT_TRUE(v6.allowed[0][1]) << "a/p1 -> b/p3 over IPv6 (allowed by only-one)";
    EXPECT_TRUE(v6.allowed[1][0]) << "b/p3 -> a/p1 over IPv6 (a is not isolated)";
  }
  EXPECT_EQ(countNetns("kt-basic"), 0);
  EXPECT_FALSE(std::filesystem::exists(stateDir("kt-basic")));
}

TEST(LabBasic, DownAfterServerKilled) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  ManifestDir dir("killed");
  ScopedLab lab("kt-killed", {dir.write("model.yaml", kModel)}, 1);
  ASSERT_TRUE(lab.ok()) << lab.error();
  int pid = lab.state().serve_pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  std::ostringstream log;
  ASSERT_TRUE(labDown("kt-killed", log).ok()) << log.str();
  EXPECT_EQ(countNetns("kt-killed"), 0);
  EXPECT_FALSE(std::filesystem::exists(stateDir("kt-killed")));
}

TEST(LabBasic, InterruptedTestRunRemovesItsLab) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  const std::string cases = std::string(PALISADE_SOURCE_DIR) + "/tests/conformance/upstream-netpol";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execl(PALISADE_CLI_BINARY, PALISADE_CLI_BINARY, "test", "--lab", cases.c_str(), nullptr);
    _exit(127);
  }
  const std::string name = "test-" + std::to_string(pid % 100000);
  // Interrupt once the lab is up (its state is saved), mid-run.
  int seen = 0;
  for (int i = 0; i < 300 && seen == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::filesystem::exists(stateDir(name) + "/state.json")) seen = countNetns(name);
  }
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const int left = countNetns(name);
  if (left != 0) {  // don't leave them for the next test either
    std::ostringstream log;
    (void)labDown(name, log);
  }
  ASSERT_GT(seen, 0) << "the lab never came up";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
  EXPECT_EQ(left, 0);
  EXPECT_FALSE(std::filesystem::exists(stateDir(name)));
}

TEST(LabBasic, DownRefusesForeignNamespaces) {
  LabState lab;
  lab.name = "kt-foreign";
  lab.nodes.push_back({"node-0", "not-ours", {}, {}});
  auto result = destroyTopology(lab);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message().find("refusing"), std::string::npos);
}

}  // namespace
}  // namespace palisade::agent::lab
