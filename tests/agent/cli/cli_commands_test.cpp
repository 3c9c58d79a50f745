// The dry-run commands, run in-process on the manifests in testdata/.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "agent/cli/cmd_check.h"
#include "agent/cli/cmd_compile.h"
#include "agent/cli/cmd_explain.h"
#include "agent/cli/cmd_reach.h"

namespace palisade::agent::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string data(const std::string& name) {
  return std::string(PALISADE_SOURCE_DIR) + "/tests/agent/cli/testdata/" + name;
}

struct CmdRun {
  int code = 0;
  std::string out;
  std::string err;
};

template <typename Options, typename Fn>
CmdRun run(Fn fn, const Options& opts) {
  std::ostringstream out;
  std::ostringstream err;
  CmdRun r;
  r.code = fn(opts, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

TEST(CheckCommand, ValidManifestsExitZeroWithSummary) {
  CmdRun r = run(runCheck, CheckOptions{{data("cluster.yaml")}});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  // 2 namespaces, 3 pods, 1 policy, 2 services.
  EXPECT_EQ(r.out, "8 objects, 0 errors\n");
}

TEST(CheckCommand, InvalidObjectExitsOneAndNamesField) {
  CmdRun r = run(runCheck, CheckOptions{{data("invalid.yaml")}});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr("NetworkPolicy x/bad-cidr"));
  EXPECT_THAT(r.out, HasSubstr("ipBlock.cidr"));
  EXPECT_THAT(r.out, HasSubstr("10.0.0.0/33"));
  EXPECT_THAT(r.out, HasSubstr("invalid.yaml:"));
  EXPECT_THAT(r.out, HasSubstr("2 objects, 1 errors\n"));
  // The unknown kind is a note on stderr, not an error.
  EXPECT_THAT(r.err, HasSubstr("ConfigMap"));
}

TEST(CheckCommand, DomainNamesOnlyRuleIsAWarning) {
  CmdRun r = run(runCheck, CheckOptions{{data("cluster-tiers.yaml")}});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("warning: "));
  EXPECT_THAT(r.out, HasSubstr("ClusterNetworkPolicy guard-red: spec.egress[1].to: every peer is "
                               "domainNames"));
  // 2 namespaces, 3 pods, 2 cluster policies.
  EXPECT_THAT(r.out, HasSubstr("7 objects, 0 errors, 1 warnings\n"));
}

TEST(ReachCommand, JsonIsExactlyOneObject) {
  ReachOptions o;
  o.files = {data("cluster.yaml")};
  o.port = 8080;
  o.output = "json";
  CmdRun r = run(runReach, o);
  ASSERT_EQ(r.code, 0) << r.err;
  // Only x/b reaches x/a on 8080 (its "http" port); nothing else is isolated.
  EXPECT_EQ(r.out,
            "{\"protocol\":\"TCP\",\"port\":8080,\"results\":["
            "{\"from\":\"x/a\",\"to\":\"x/a\",\"allowed\":false},"
            "{\"from\":\"x/a\",\"to\":\"x/b\",\"allowed\":true},"
            "{\"from\":\"x/a\",\"to\":\"y/a\",\"allowed\":true},"
            "{\"from\":\"x/b\",\"to\":\"x/a\",\"allowed\":true},"
            "{\"from\":\"x/b\",\"to\":\"x/b\",\"allowed\":true},"
            "{\"from\":\"x/b\",\"to\":\"y/a\",\"allowed\":true},"
            "{\"from\":\"y/a\",\"to\":\"x/a\",\"allowed\":false},"
            "{\"from\":\"y/a\",\"to\":\"x/b\",\"allowed\":true},"
            "{\"from\":\"y/a\",\"to\":\"y/a\",\"allowed\":true}]}\n");
}

TEST(ReachCommand, TableIsTheTruthTableGrid) {
  ReachOptions o;
  o.files = {data("cluster.yaml")};
  o.port = 80;  // not "http": x/a admits nobody on 80
  CmdRun r = run(runReach, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "    x/a x/b y/a\n"
            "x/a   X   .   .\n"
            "x/b   X   .   .\n"
            "y/a   X   .   .\n");
}

TEST(ReachCommand, UnknownProtocolIsUsageError) {
  ReachOptions o;
  o.files = {data("cluster.yaml")};
  o.protocol = "ICMP";
  EXPECT_EQ(run(runReach, o).code, 2);
}

TEST(ReachCommand, OnlyInvalidObjectsExitOne) {
  // invalid.yaml: a namespace and an invalid policy, so no pods at all; the
  // invalid input must not pass for an empty cluster.
  ReachOptions o;
  o.files = {data("invalid.yaml")};
  CmdRun r = run(runReach, o);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("ipBlock.cidr"));
  EXPECT_THAT(r.err, HasSubstr("no valid pods in the manifests"));
  EXPECT_EQ(r.out, "");
}

TEST(ReachCommand, InvalidObjectBesideValidPodsPrintsTableAndExitsOne) {
  ReachOptions o;
  o.files = {data("pod-and-invalid-policy.yaml")};
  CmdRun r = run(runReach, o);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("NetworkPolicy x/bad-port"));
  // The valid pod is still judged, without the invalid policy.
  EXPECT_EQ(r.out,
            "    x/a\n"
            "x/a   .\n");
  o.output = "json";
  EXPECT_EQ(run(runReach, o).code, 1);
}

TEST(ReachCommand, ValidButEmptyExitsZero) {
  ReachOptions o;
  o.files = {data("no-pods.yaml")};
  CmdRun r = run(runReach, o);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "palisade reach: no pods in the manifests\n");
  EXPECT_EQ(r.out, "");
}

TEST(ReachCommand, UnreadableFileExitsOne) {
  ReachOptions o;
  o.files = {data("no-such-file.yaml")};
  CmdRun r = run(runReach, o);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no-such-file.yaml"));
}

TEST(ReachTable, PadsToTheLongestName) {
  EXPECT_EQ(renderReachTable({"ns/long", "n/b"}, {{true, false}, {false, true}}),
            "        ns/long     n/b\n"
            "ns/long       .       X\n"
            "n/b           X       .\n");
}

ExplainOptions explainOpts(std::string from, std::string to, int32_t port) {
  ExplainOptions o;
  o.files = {data("cluster.yaml")};
  o.from = std::move(from);
  o.to = std::move(to);
  o.port = port;
  return o;
}

TEST(ExplainCommand, AllowedFlowNamesTheRule) {
  CmdRun r = run(runExplain, explainOpts("x/b", "x/a", 8080));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("x/b -> x/a TCP/8080: ALLOWED"));
  EXPECT_THAT(r.out, HasSubstr("egress of x/b: not isolated"));
  EXPECT_THAT(r.out, HasSubstr("ingress of x/a: allowed by x/allow-from-b rule 0"));
}

TEST(ExplainCommand, DeniedFlowNamesTheIsolatingPolicy) {
  CmdRun r = run(runExplain, explainOpts("y/a", "10.0.1.1", 8080));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("DENIED"));
  EXPECT_THAT(r.out, HasSubstr("isolated by [x/allow-from-b]"));
}

TEST(ExplainCommand, SelfTrafficCarriesTheNote) {
  CmdRun r = run(runExplain, explainOpts("x/b", "x/b", 80));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("never leaves the pod's network namespace"));
}

TEST(ExplainCommand, UnknownPodIsExitTwo) {
  CmdRun r = run(runExplain, explainOpts("x/nope", "x/a", 80));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown pod x/nope"));
  r = run(runExplain, explainOpts("x/a", "z/zz", 80));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("--to"));
}

TEST(ExplainCommand, ServiceResolvesNamedTargetPort) {
  CmdRun r = run(runExplain, explainOpts("x/b", "svc/x/web", 80));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 backend(s)"));
  EXPECT_THAT(r.out, HasSubstr("backend x/a 10.0.1.1 TCP/8080"));
  EXPECT_THAT(r.out, HasSubstr("allowed by x/allow-from-b rule 0"));
  r = run(runExplain, explainOpts("y/a", "svc/x/web", 80));
  EXPECT_THAT(r.out, HasSubstr("DENIED"));
}

TEST(ExplainCommand, ServiceHairpinIsJudged) {
  CmdRun r = run(runExplain, explainOpts("x/a", "svc/x/web", 80));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("hairpin"));
  EXPECT_THAT(r.out, HasSubstr("DENIED"));
}

TEST(ExplainCommand, ExternalNameIsNotJudged) {
  CmdRun r = run(runExplain, explainOpts("x/b", "svc/x/ext", 5432));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("db.example.com"));
  EXPECT_THAT(r.out, HasSubstr("not judged"));
}

TEST(ExplainCommand, UnknownServiceOrPortIsExitTwo) {
  CmdRun r = run(runExplain, explainOpts("x/b", "svc/x/nope", 80));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("no Service x/nope"));
  r = run(runExplain, explainOpts("x/b", "svc/x/web", 81));
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("has no port 81/TCP"));
}

TEST(ExplainCommand, JsonCarriesBothDirections) {
  ExplainOptions o = explainOpts("x/b", "x/a", 8080);
  o.output = "json";
  CmdRun r = run(runExplain, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"allowed\":true"));
  EXPECT_THAT(r.out, HasSubstr("\"egress\":{\"outcome\":\"not-isolated\""));
  EXPECT_THAT(r.out, HasSubstr("\"ingress\":{\"outcome\":\"allowed\""));
  EXPECT_THAT(r.out, HasSubstr("{\"policy\":\"x/allow-from-b\",\"rule\":0}"));
}

ExplainOptions tiersOpts(const std::string& from, const std::string& to, int32_t port) {
  ExplainOptions o = explainOpts(from, to, port);
  o.files = {data("cluster-tiers.yaml")};
  return o;
}

TEST(ExplainCommand, AdminDenyNamesTierPolicyAndRule) {
  CmdRun r = run(runExplain, tiersOpts("y/a", "x/a", 8080));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("DENIED"));
  EXPECT_THAT(r.out, HasSubstr("egress of y/a: denied by Admin ClusterNetworkPolicy guard-red "
                               "rule 0 \"no-red-http\" (Deny)"));
}

TEST(ExplainCommand, BaselineDenyAppliesWhenNoNetworkPolicyDecides) {
  CmdRun r = run(runExplain, tiersOpts("x/b", "y/a", 80));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ingress of y/a: denied by Baseline ClusterNetworkPolicy "
                               "blue-default-deny rule 0 \"deny-all\" (Deny)"));
  ExplainOptions o = tiersOpts("x/b", "y/a", 80);
  o.output = "json";
  r = run(runExplain, o);
  EXPECT_THAT(r.out, HasSubstr("\"decided_by\":{\"tier\":\"Baseline\",\"kind\":"
                               "\"ClusterNetworkPolicy\",\"policy\":\"blue-default-deny\","
                               "\"rule\":0,\"name\":\"deny-all\",\"action\":\"Deny\"}"));
}

TEST(CompileCommand, TierProgramsCarryTheirProvenance) {
  CompileOptions o;
  o.files = {data("cluster-tiers.yaml")};
  o.node = "";
  CmdRun r = run(runCompile, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"TIER_ADMIN\""));
  EXPECT_THAT(r.out, HasSubstr("\"TIER_BASELINE\""));
  EXPECT_THAT(r.out, HasSubstr("no-red-http"));
  o.output = "nft";
  r = run(runCompile, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("goto after_admin_egress"));
  EXPECT_THAT(r.out, HasSubstr("Admin ClusterNetworkPolicy guard-red egress rule 0 no-red-http"));
}

TEST(CompileCommand, PrintsRulesetJson) {
  CompileOptions o;
  o.files = {data("cluster.yaml")};
  o.node = "";
  CmdRun r = run(runCompile, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"endpoints\""));
  EXPECT_THAT(r.out, HasSubstr("allow-from-b"));
}

TEST(CompileCommand, PrintsNftText) {
  CompileOptions o;
  o.files = {data("cluster.yaml")};
  o.node = "";
  o.output = "nft";
  CmdRun r = run(runCompile, o);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("table inet palisade"));
}

TEST(CompileCommand, UnrenderableRulesetIsAnErrorOnStderr) {
  // The compiler never makes this; a broken IR (a rule naming a port set the
  // ruleset does not have) is what the renderer refuses.
  ir::Ruleset bad;
  ir::Program* prog = bad.add_programs();
  prog->set_id(1);
  prog->set_direction(ir::INGRESS);
  prog->add_rules()->set_port_set(7);
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(printRuleset(bad, "nft", out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_THAT(err.str(), HasSubstr("palisade compile: rendering the ruleset as nft: "));
  EXPECT_THAT(err.str(), HasSubstr("unknown port set 7"));
  EXPECT_THAT(err.str(), HasSubstr("EINVAL"));
  // JSON does not judge the IR: it prints it.
  std::ostringstream json;
  EXPECT_EQ(printRuleset(bad, "json", json, err), 0);
  EXPECT_THAT(json.str(), HasSubstr("\"portSet\": 7"));
}

}  // namespace
}  // namespace palisade::agent::cli
