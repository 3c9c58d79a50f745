// `palisade test`: the conformance runner on good, wrong and invalid cases,
// and the built binary's exit codes.
#include "agent/cli/cmd_test.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <string>

#include "agent/conformance/case_file.h"
#include "agent/conformance/runner.h"
#include "proto/base/version.h"

namespace palisade::agent::cli {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string src(const std::string& rel) { return std::string(PALISADE_SOURCE_DIR) + "/" + rel; }

int runTestCmd(std::vector<std::string> cases, std::string* out) {
  std::ostringstream o;
  std::ostringstream e;
  int code = runTest(TestOptions{std::move(cases)}, o, e);
  *out = o.str() + e.str();
  return code;
}

TEST(TestCommand, WrongCaseFails) {
  std::string out;
  std::string path = src("tests/agent/cli/testdata/wrong-case.yaml");
  EXPECT_EQ(runTestCmd({path}, &out), 1);
  EXPECT_THAT(out, StartsWith("FAIL " + path + ": step 1: "));
  // The case forgot that deny-all closes every column of x.
  EXPECT_THAT(out, HasSubstr("y/a->x/a expected allow got deny"));
  EXPECT_THAT(out, Not(HasSubstr("x/a->x/b expected")));
  EXPECT_THAT(out, EndsWith("\n0 passed, 1 failed\n"));
}

TEST(TestCommand, InvalidPolicyInStepFails) {
  std::string out;
  EXPECT_EQ(runTestCmd({src("tests/agent/cli/testdata/invalid-policy-case.yaml")}, &out), 1);
  EXPECT_THAT(out, HasSubstr("step 1: invalid policy: "));
  EXPECT_THAT(out, HasSubstr("70000"));
}

TEST(TestCommand, MissingFileFails) {
  std::string out;
  EXPECT_EQ(runTestCmd({src("tests/agent/cli/testdata/no-such-case.yaml")}, &out), 1);
  EXPECT_THAT(out, HasSubstr("cannot load case"));
  EXPECT_THAT(out, EndsWith("0 passed, 1 failed\n"));
}

TEST(TestCommand, UpstreamAndOwnCorpusPass) {
  std::string out;
  int code = runTestCmd(
      {src("tests/conformance/upstream-netpol"), src("tests/conformance/palisade")}, &out);
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, EndsWith("\n53 passed, 0 failed\n")) << out;
}

TEST(CaseFile, ParsesStepsAndExtensions) {
  auto c = conformance::loadCaseFile(
      src("tests/conformance/palisade/101-egress-named-port-per-destination.yaml"));
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->model.namespaces.size(), 3u);
  ASSERT_EQ(c->steps.size(), 4u);
  EXPECT_EQ(c->steps[0].apply.size(), 1u);
  EXPECT_EQ(c->steps[1].probe_port, 9090);
  EXPECT_EQ(c->pod_ports.at("y/b").front().port, 9090);
  EXPECT_FALSE(c->ignore_loopback);
}

TEST(CaseFile, RejectsTwoActionsInOneStep) {
  auto c = conformance::parseCaseText(
      "model: {namespaces: [x], pods: [a], ports: [80], protocols: [TCP]}\n"
      "steps:\n  - apply: []\n    delete: [{namespace: x, name: p}]\n",
      "inline");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().str(), HasSubstr("more than one action"));
}

/// A prober that always answers "allowed": the runner must grade, not trust.
class AllowAll : public conformance::Prober {
 public:
  conformance::ProbeMatrix probe(const policy::ClusterState&,
                                 const std::vector<policy::PodId>& pods, policy::Protocol,
                                 int32_t) override {
    conformance::ProbeMatrix m;
    m.allowed.assign(pods.size(), std::vector<bool>(pods.size(), true));
    return m;
  }
};

TEST(Runner, GradesAnyProber) {
  auto c = conformance::loadCaseFile(
      src("tests/conformance/upstream-netpol/001-default-deny-ingress.yaml"));
  ASSERT_TRUE(c) << c.error().str();
  AllowAll prober;
  conformance::CaseResult r = conformance::runCase(*c, prober);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail, HasSubstr("expected deny got allow"));
}

TEST(Runner, RejectsPodsOutsideTheModel) {
  auto c = conformance::parseCaseText(
      "model: {namespaces: [x], pods: [a], ports: [80], protocols: [TCP]}\n"
      "pod_ports: {x/q: [{name: web, port: 8080}]}\n"
      "steps:\n  - probe: {protocol: TCP, port: 80}\n    expect: {default: allow}\n",
      "inline");
  ASSERT_TRUE(c) << c.error().str();
  conformance::EvaluatorProber prober;
  conformance::CaseResult r = conformance::runCase(*c, prober);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail, HasSubstr("pod_ports: x/q is not a pod of the model"));
}

TEST(Runner, DefaultDenyCanBeTheDefault) {
  auto c = conformance::parseCaseText(
      "model: {namespaces: [x], pods: [a, b], ports: [80], protocols: [TCP]}\n"
      "steps:\n"
      "  - apply:\n"
      "      - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
      "         metadata: {name: deny, namespace: x}, spec: {podSelector: {}}}\n"
      "    probe: {protocol: TCP, port: 80}\n"
      "    expect: {default: deny}\n",
      "inline");
  ASSERT_TRUE(c) << c.error().str();
  conformance::EvaluatorProber prober;
  conformance::CaseResult r = conformance::runCase(*c, prober);
  EXPECT_TRUE(r.passed) << r.detail;
}

#ifdef PALISADE_CLI_BINARY
int shell(const std::string& cmd, std::string* out) {
  std::array<char, 4096> buf{};
  out->clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out->append(buf.data(), n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Binary, ExitCodes) {
  std::string bin = PALISADE_CLI_BINARY;
  std::string data = src("tests/agent/cli/testdata/");
  std::string out;
  EXPECT_EQ(shell(bin + " check -f " + data + "cluster.yaml", &out), 0) << out;
  EXPECT_EQ(shell(bin + " check -f " + data + "invalid.yaml", &out), 1) << out;
  EXPECT_EQ(
      shell(bin + " explain -f " + data + "cluster.yaml --from x/zz --to x/a --port 80", &out), 2);
  EXPECT_THAT(out, HasSubstr("unknown pod x/zz"));
  EXPECT_EQ(shell(bin + " reach", &out), 2) << out;  // -f is required
  EXPECT_EQ(shell(bin + " frobnicate", &out), 2) << out;
  EXPECT_EQ(shell(bin + " --help", &out), 0) << out;
  EXPECT_EQ(shell(bin + " test " + data + "wrong-case.yaml", &out), 1) << out;
  EXPECT_THAT(out, EndsWith("0 passed, 1 failed\n"));
  // reach: invalid input fails as check does; valid but empty does not.
  EXPECT_EQ(shell(bin + " reach -f " + data + "invalid.yaml", &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("no valid pods in the manifests"));
  EXPECT_EQ(shell(bin + " reach -f " + data + "no-pods.yaml", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("no pods in the manifests"));
  EXPECT_EQ(shell(bin + " compile -f " + data + "cluster.yaml --node '' -o nft", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("table inet palisade"));
}

// Both executables report the one version of the build.
TEST(Binary, VersionIsTheBuilds) {
  std::string out;
  EXPECT_EQ(shell(std::string(PALISADE_CLI_BINARY) + " --version", &out), 0) << out;
  EXPECT_EQ(out, std::string(version()) + "\n");
  EXPECT_EQ(shell(std::string(PALISADE_AGENT_BINARY) + " --version", &out), 0) << out;
  EXPECT_EQ(out, std::string(version()) + "\n");
}
#endif

}  // namespace
}  // namespace palisade::agent::cli
