// `palisade lab probe` and `lab verify` on a real lab: a pod that does not
// listen on the port is "not probed" ('-'), never "denied" ('X'), so before
// any policy the kernel's matrix agrees with the prediction; a policy then
// shows as 'X' in both.
#include <gmock/gmock.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "tests/kernel/lab_support.h"

namespace palisade::agent::lab {
namespace {

using ::testing::HasSubstr;
using testing::isRoot;
using testing::ManifestDir;
using testing::ScopedLab;

constexpr const char* kModel = R"(
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: a, labels: {app: srv}}
spec:
  containers: [{name: c, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: idle, namespace: a, labels: {app: idle}}
spec:
  containers: [{name: c}]
)";

constexpr const char* kDenyAll = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: a}
spec: {podSelector: {}, policyTypes: [Ingress]}
)";

int shell(const std::string& cmd, std::string* out) {
  std::array<char, 4096> buf{};
  out->clear();
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return -1;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out->append(buf.data(), n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(LabVerify, UnprobedCellsAreNotDenials) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  ManifestDir dir("verify");
  ScopedLab lab("kt-verify", {dir.write("model.yaml", kModel)}, 1);
  ASSERT_TRUE(lab.ok()) << lab.error();
  const std::string bin = PALISADE_CLI_BINARY;
  std::string out;

  // Reach order: a/idle (1), a/srv (2). Only srv listens on TCP/80.
  ASSERT_EQ(shell(bin + " lab probe --name kt-verify --port 80", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("a/idle      -      .\n"));
  EXPECT_THAT(out, HasSubstr("a/srv       -      .\n"));
  EXPECT_THAT(out, HasSubstr("legend: "));

  ASSERT_EQ(shell(bin + " lab verify --name kt-verify --port 80", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1 a/idle  -  .\n"));
  EXPECT_THAT(out, HasSubstr("2 a/srv   -  -\n"));  // to itself: not checked via pod
  EXPECT_THAT(out, HasSubstr("not checked (-): no TCP/80 listener: a/idle\n"));
  EXPECT_THAT(out, HasSubstr("agree: 1 cells checked, 0 disagreeing (probe "));

  ASSERT_EQ(shell(bin + " lab apply --name kt-verify -f " + dir.write("deny.yaml", kDenyAll), &out),
            0)
      << out;
  ASSERT_EQ(shell(bin + " lab verify --name kt-verify --port 80", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1 a/idle  -  X\n"));
  EXPECT_THAT(out, HasSubstr("agree: 1 cells checked, 0 disagreeing"));
}

}  // namespace
}  // namespace palisade::agent::lab
