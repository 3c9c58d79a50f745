// Running a mix of case files: each goes to the prober of its format, told
// apart by its content; a format without a prober is skipped, not failed.
#include "agent/conformance/case_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "agent/conformance/evaluator_flow_prober.h"

namespace palisade::agent::conformance {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

std::string src(const std::string& rel) { return std::string(PALISADE_SOURCE_DIR) + "/" + rel; }

TEST(CaseFormat, TopologyMakesAClusterCase) {
  EXPECT_EQ(caseFormatOf("name: t\ntopology: {}\nsteps: []\n"), CaseFormat::ClusterNetpol);
  EXPECT_EQ(caseFormatOf("model: {namespaces: [x]}\nsteps: []\n"), CaseFormat::UpstreamNetpol);
  // Not YAML, or not a mapping: the matrix loader reports it.
  EXPECT_EQ(caseFormatOf("topology: [\n"), CaseFormat::UpstreamNetpol);
  EXPECT_EQ(caseFormatOf("- topology\n"), CaseFormat::UpstreamNetpol);
}

TEST(CaseFiles, EachFormatGoesToItsProber) {
  const std::vector<std::string> files = {
      src("tests/conformance/upstream-netpol/001-default-deny-ingress.yaml"),
      src("tests/conformance/cluster-netpol/example-01-admin-deny-over-np-allow.yaml")};
  EvaluatorProber matrix;
  EvaluatorFlowProber flows;
  std::ostringstream out;
  EXPECT_EQ(runCaseFiles(files, CaseProbers{&matrix, &flows, ""}, out), 0);
  EXPECT_EQ(out.str(), "PASS " + files[0] + "\nPASS " + files[1] + "\n2 passed, 0 failed\n");

  std::ostringstream no_flows;
  EXPECT_EQ(runCaseFiles(files, CaseProbers{&matrix, nullptr, "not here"}, no_flows), 0);
  EXPECT_EQ(no_flows.str(), "PASS " + files[0] + "\nSKIP " + files[1] +
                                ": not here\n1 passed, 0 failed, 1 skipped\n");
}

TEST(CaseFiles, UnloadableCasesFail) {
  EvaluatorProber matrix;
  EvaluatorFlowProber flows;
  std::ostringstream out;
  EXPECT_EQ(runCaseFiles({"/nonexistent/case.yaml"}, CaseProbers{&matrix, &flows, ""}, out), 1);
  EXPECT_THAT(out.str(), HasSubstr("FAIL /nonexistent/case.yaml: cannot load case: cannot read"));
  EXPECT_THAT(out.str(), EndsWith("0 passed, 1 failed\n"));
}

// The whole cluster-netpol corpus (upstream translations, own cases, the
// format's examples) through the evaluators; ctest conformance_cluster_netpol
// runs the same files through the built binary.
TEST(CaseFiles, ClusterCorpusPasses) {
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(src("tests/conformance/cluster-netpol"))) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files.size(), 37u);
  EvaluatorProber matrix;
  EvaluatorFlowProber flows;
  std::ostringstream out;
  EXPECT_EQ(runCaseFiles(files, CaseProbers{&matrix, &flows, ""}, out), 0) << out.str();
  EXPECT_THAT(out.str(), EndsWith("\n37 passed, 0 failed\n")) << out.str();
}

}  // namespace
}  // namespace palisade::agent::conformance
