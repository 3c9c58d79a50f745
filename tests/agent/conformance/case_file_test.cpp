// Case-file errors are Results that say which file, which field, which line
// and why; nothing escapes as an exception, whatever the text.
#include "agent/conformance/case_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::agent::conformance {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr const char* kModel =
    "model: {namespaces: [x], pods: [a], ports: [80], protocols: [TCP]}\n";

std::string errorOf(const std::string& text) {
  Result<CaseFile> c = parseCaseText(text, "cases/t.yaml");
  EXPECT_FALSE(c) << "parsed: " << text;
  return c ? std::string() : c.error().str();
}

TEST(CaseFileErrors, WrongTypeNamesFileFieldAndLine) {
  std::string e = errorOf(std::string(kModel) +
                          "steps:\n"
                          "  - probe: {protocol: TCP, port: eighty}\n"
                          "    expect: {default: allow}\n");
  EXPECT_THAT(e, StartsWith("cases/t.yaml: steps[0].probe.port (line 3): "));
  EXPECT_THAT(e, HasSubstr("expected a 32-bit integer, got \"eighty\""));
}

TEST(CaseFileErrors, UnknownProtocolAndResult) {
  EXPECT_THAT(errorOf("model: {namespaces: [x], pods: [a], ports: [80], protocols: [ICMP]}\n"
                      "steps: [{probe: {protocol: TCP, port: 80}, expect: {default: allow}}]\n"),
              HasSubstr("model.protocols[0] (line 1): unknown protocol \"ICMP\""));
  EXPECT_THAT(
      errorOf(std::string(kModel) + "steps:\n"
                                    "  - probe: {protocol: TCP, port: 80}\n"
                                    "    expect:\n"
                                    "      exceptions: [{from: x/a, to: x/a, result: maybe}]\n"),
      HasSubstr("steps[0].expect.exceptions[0].result (line 5): must be allow or deny, "
                "got \"maybe\""));
}

TEST(CaseFileErrors, MissingPartsAreNamed) {
  EXPECT_EQ(errorOf("steps: []\n"), "cases/t.yaml: model: missing");
  EXPECT_EQ(errorOf(kModel), "cases/t.yaml: no steps");
  EXPECT_THAT(errorOf(std::string(kModel) + "steps: [{probe: {protocol: TCP, port: 80}}]\n"),
              HasSubstr("steps[0] (line 2): a probe without expect"));
  EXPECT_THAT(errorOf(std::string(kModel) + "steps: [{delete: [{namespace: x}]}]\n"),
              HasSubstr("steps[0].delete[0].name: missing"));
}

TEST(CaseFileErrors, WrongShapesAreErrorsNotExceptions) {
  // A scalar where a mapping or list belongs: yaml-cpp would throw on the
  // subscript or the conversion.
  EXPECT_THAT(errorOf("model: 3\nsteps: []\n"), HasSubstr("model (line 1): expected a mapping"));
  EXPECT_THAT(errorOf(std::string(kModel) + "steps: {a: b}\n"),
              HasSubstr("steps (line 2): expected a list"));
  EXPECT_THAT(errorOf(std::string(kModel) + "steps: [{relabel: {namespace: [x]}}]\n"),
              HasSubstr("steps[0].relabel.namespace (line 2): expected a string"));
  EXPECT_THAT(errorOf(std::string(kModel) + "pod_ips: {x/a: {v4: 1}}\nsteps: []\n"),
              HasSubstr("pod_ips.x/a (line 2): expected a string"));
  EXPECT_EQ(errorOf("- a\n- b\n"), "cases/t.yaml: not a mapping");
}

TEST(CaseFileErrors, SyntaxErrorCarriesYamlCppPosition) {
  std::string e = errorOf("model: {namespaces: [x\n");
  EXPECT_THAT(e, StartsWith("cases/t.yaml: yaml-cpp: error at line "));
}

TEST(CaseFileErrors, UnreadableFileCarriesErrno) {
  Result<CaseFile> c = loadCaseFile("/nonexistent/case.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ENOENT);
  EXPECT_THAT(c.error().str(), HasSubstr("cannot read /nonexistent/case.yaml"));
}

TEST(CaseFile, ParsesListsOfAddressesAndLabels) {
  Result<CaseFile> c = parseCaseText(std::string(kModel) +
                                         "pod_ips: {x/a: [10.0.0.1, 'fd00::1']}\n"
                                         "steps:\n"
                                         "  - relabel: {namespace: x, pod: a, labels: {k: v}}\n",
                                     "inline");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->pod_ips.at("x/a"), "10.0.0.1,fd00::1");
  ASSERT_TRUE(c->steps[0].relabel);
  EXPECT_EQ(c->steps[0].relabel->labels.at("k"), "v");
  EXPECT_EQ(c->steps[0].relabel->pod, "a");
}

}  // namespace
}  // namespace palisade::agent::conformance
