// Every rule of DESIGN.md §3, on IPv4 and on IPv6. Each check runs both
// evaluators — the reference one over ClusterState and the one over the
// compiled ir::Ruleset — and fails if they disagree on anything.
#include <gtest/gtest.h>

#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"
#include "policy/evaluate/ruleset_evaluator.h"
#include "tests/policy/support/builders.h"

namespace palisade::policy {
namespace {

using namespace palisade::policy::testing;
using Outcome = DirectionVerdict::Outcome;

class SemanticsTest : public ::testing::TestWithParam<Family> {
 protected:
  bool v6() const { return GetParam() == Family::V6; }
  /// The address of pod number `host` in namespace number `net`.
  std::string addr(int net, int host) const {
    return v6() ? "fd00::" + std::to_string(net) + ":" + std::to_string(host)
                : "10.0." + std::to_string(net) + "." + std::to_string(host);
  }
  std::string block(const std::string& v4, const std::string& v6text) const {
    return v6() ? v6text : v4;
  }

  void SetUp() override {
    state_.upsertNamespace(makeNamespace("x", {{"team", "a"}}));
    state_.upsertNamespace(makeNamespace("y", {{"team", "b"}}));
    state_.upsertNamespace(makeNamespace("z"));
    const std::vector<ContainerPort> web_ports = {{"http", 8080, Protocol::TCP},
                                                  {"dns", 53, Protocol::UDP}};
    state_.upsertPod(makePod("x", "a", {{"app", "web"}}, {addr(1, 1)}, web_ports));
    state_.upsertPod(makePod("x", "b", {{"app", "db"}}, {addr(1, 2)}));
    state_.upsertPod(
        makePod("y", "a", {{"app", "web"}}, {addr(2, 1)}, {{"http", 9090, Protocol::TCP}}));
    state_.upsertPod(makePod("y", "b", {{"app", "db"}, {"tier", "back"}}, {addr(2, 2)}));
    state_.upsertPod(makePod("z", "a", {{"app", "web"}}, {addr(3, 1)}));
  }

  PodId pod(const std::string& name) const {
    const auto slash = name.find('/');
    return *state_.findPod(name.substr(0, slash), name.substr(slash + 1));
  }

  /// The verdict for src → dst; asserts the IR evaluator agrees.
  Verdict check(const std::string& src, const std::string& dst, int32_t port = 80,
                Protocol proto = Protocol::TCP) {
    Verdict ref = evaluate(state_, FlowEnd::ofPod(pod(src)), FlowEnd::ofPod(pod(dst)), proto, port);
    const ir::Ruleset rs = compile(state_, "");
    const auto evaluator = RulesetEvaluator::create(rs);
    EXPECT_TRUE(evaluator) << evaluator.error().str();
    if (!evaluator) return ref;
    const Verdict irv = evaluator->evaluate(state_.pod(pod(src)).ips.front(),
                                            state_.pod(pod(dst)).ips.front(), proto, port);
    EXPECT_EQ(ref.allowed, irv.allowed) << src << " -> " << dst;
    EXPECT_EQ(ref.egress.outcome, irv.egress.outcome) << src << " -> " << dst;
    EXPECT_EQ(ref.ingress.outcome, irv.ingress.outcome) << src << " -> " << dst;
    EXPECT_EQ(ref.egress.allowed_by, irv.egress.allowed_by);
    EXPECT_EQ(ref.ingress.allowed_by, irv.ingress.allowed_by);
    EXPECT_EQ(ref.egress.isolated_by, irv.egress.isolated_by);
    EXPECT_EQ(ref.ingress.isolated_by, irv.ingress.isolated_by);
    return ref;
  }
  bool allowed(const std::string& src, const std::string& dst, int32_t port = 80,
               Protocol proto = Protocol::TCP) {
    return check(src, dst, port, proto).allowed;
  }

  ClusterState state_;
};

TEST_P(SemanticsTest, NoPolicyAllowsEverything) {
  const Verdict v = check("x/a", "y/b");
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.egress.outcome, Outcome::NotIsolated);
  EXPECT_EQ(v.ingress.outcome, Outcome::NotIsolated);
  EXPECT_EQ(v.ingress.describe(), "not isolated");
}

TEST_P(SemanticsTest, IngressIsolationDeniesWithoutRules) {
  state_.upsertPolicy(makePolicy("x", "deny-all", {}, std::vector<NetworkPolicyRule>{}, {}));
  const Verdict v = check("y/a", "x/a");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.ingress.outcome, Outcome::Denied);
  EXPECT_EQ(v.ingress.describe(), "denied: isolated by [x/deny-all], no rule matched");
  EXPECT_EQ(v.egress.outcome, Outcome::NotIsolated);
  // Egress of x pods is untouched by an Ingress-only policy.
  EXPECT_TRUE(allowed("x/a", "y/a"));
}

TEST_P(SemanticsTest, EgressIsolationDeniesWithoutRules) {
  state_.upsertPolicy(makePolicy("x", "deny-egress", {}, {}, std::vector<NetworkPolicyRule>{}));
  const Verdict v = check("x/a", "y/a");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.egress.outcome, Outcome::Denied);
  EXPECT_TRUE(allowed("y/a", "x/a"));
}

TEST_P(SemanticsTest, BothDirectionsMustAllow) {
  // x/a may send anywhere, but y/b only accepts from its own namespace.
  state_.upsertPolicy(
      makePolicy("x", "egress-all", sel({{"app", "web"}}), {}, std::vector{rule({})}));
  state_.upsertPolicy(
      makePolicy("y", "same-ns", sel({{"app", "db"}}), std::vector{rule({podPeer({})})}, {}));
  const Verdict v = check("x/a", "y/b");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.egress.outcome, Outcome::Allowed);
  EXPECT_EQ(v.ingress.outcome, Outcome::Denied);
  EXPECT_TRUE(allowed("y/a", "y/b"));
}

TEST_P(SemanticsTest, PoliciesAreAdditive) {
  state_.upsertPolicy(makePolicy("x", "from-y", sel({{"app", "db"}}),
                                 std::vector{rule({nsPeer(sel({{"team", "b"}}))})}, {}));
  state_.upsertPolicy(
      makePolicy("x", "from-z", sel({{"app", "db"}}),
                 std::vector{rule({nsPeer(sel({{"kubernetes.io/metadata.name", "z"}}))})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/b"));
  EXPECT_TRUE(allowed("z/a", "x/b"));
  EXPECT_FALSE(allowed("x/a", "x/b"));
  const Verdict v = check("z/a", "x/b");
  EXPECT_EQ(v.ingress.describe(), "allowed by x/from-z rule 0");
  EXPECT_EQ(check("x/a", "x/b").ingress.isolated_by.size(), 2u);
}

TEST_P(SemanticsTest, EmptyRuleAllowsEverything) {
  state_.upsertPolicy(makePolicy("x", "allow-all", {}, std::vector{rule({})}, {}));
  EXPECT_TRUE(allowed("z/a", "x/a", 1234, Protocol::UDP));
  EXPECT_EQ(check("z/a", "x/a").ingress.outcome, Outcome::Allowed);
}

TEST_P(SemanticsTest, RuleNeedsPeerAndPortToMatch) {
  state_.upsertPolicy(makePolicy("x", "web-80", sel({{"app", "db"}}),
                                 std::vector{rule({podPeer(sel({{"app", "web"}}))}, {port(80)})},
                                 {}));
  EXPECT_TRUE(allowed("x/a", "x/b", 80));
  EXPECT_FALSE(allowed("x/a", "x/b", 81));
  EXPECT_FALSE(allowed("x/b", "x/b", 80));  // right port, wrong peer (itself: app=db)
}

TEST_P(SemanticsTest, PodSelectorAloneMeansPolicyNamespace) {
  state_.upsertPolicy(
      makePolicy("x", "web-only", {}, std::vector{rule({podPeer(sel({{"app", "web"}}))})}, {}));
  EXPECT_TRUE(allowed("x/a", "x/b"));
  EXPECT_FALSE(allowed("y/a", "x/b"));  // app=web, but in another namespace
  EXPECT_FALSE(allowed("z/a", "x/b"));
}

TEST_P(SemanticsTest, NamespaceSelectorAloneMeansEveryPodThere) {
  state_.upsertPolicy(
      makePolicy("x", "from-team-b", {}, std::vector{rule({nsPeer(sel({{"team", "b"}}))})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/b"));
  EXPECT_TRUE(allowed("y/b", "x/b"));
  EXPECT_FALSE(allowed("z/a", "x/b"));
  EXPECT_FALSE(allowed("x/a", "x/b"));
}

TEST_P(SemanticsTest, BothSelectorsInOnePeerAreAnded) {
  state_.upsertPolicy(
      makePolicy("x", "web-in-b", {},
                 std::vector{rule({bothPeer(sel({{"team", "b"}}), sel({{"app", "web"}}))})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/b"));
  EXPECT_FALSE(allowed("y/b", "x/b"));  // namespace matches, pod doesn't
  EXPECT_FALSE(allowed("z/a", "x/b"));  // pod matches, namespace doesn't
}

TEST_P(SemanticsTest, TwoPeersAreOred) {
  state_.upsertPolicy(makePolicy(
      "x", "web-or-b", {},
      std::vector{rule({nsPeer(sel({{"team", "b"}})), podPeer(sel({{"app", "web"}}))})}, {}));
  EXPECT_TRUE(allowed("y/b", "x/b"));
  EXPECT_TRUE(allowed("x/a", "x/b"));
  EXPECT_FALSE(allowed("z/a", "x/b"));
}

TEST_P(SemanticsTest, EmptySelectorsMatchEverything) {
  state_.upsertPolicy(makePolicy("x", "all-ns", {}, std::vector{rule({nsPeer({})})}, {}));
  EXPECT_TRUE(allowed("z/a", "x/b"));
  state_.upsertPolicy(makePolicy("y", "same-ns-all", {}, std::vector{rule({podPeer({})})}, {}));
  EXPECT_TRUE(allowed("y/a", "y/b"));
  EXPECT_FALSE(allowed("x/a", "y/b"));
}

TEST_P(SemanticsTest, MatchExpressionsOperators) {
  state_.upsertPolicy(
      makePolicy("y", "in", sel({{"app", "db"}}),
                 std::vector{rule({nsPeer(expr("team", SelectorOperator::In, {"a", "c"}))})}, {}));
  EXPECT_TRUE(allowed("x/a", "y/b"));
  EXPECT_FALSE(allowed("z/a", "y/b"));

  state_.upsertPolicy(
      makePolicy("y", "in", sel({{"app", "db"}}),
                 std::vector{rule({nsPeer(expr("team", SelectorOperator::NotIn, {"a"}))})}, {}));
  EXPECT_FALSE(allowed("x/a", "y/b"));
  EXPECT_TRUE(allowed("z/a", "y/b"));  // NotIn matches a namespace without the key
  EXPECT_TRUE(allowed("y/a", "y/b"));

  state_.upsertPolicy(
      makePolicy("y", "in", sel({{"app", "db"}}),
                 std::vector{rule({nsPeer(expr("team", SelectorOperator::Exists))})}, {}));
  EXPECT_TRUE(allowed("x/a", "y/b"));
  EXPECT_FALSE(allowed("z/a", "y/b"));

  state_.upsertPolicy(
      makePolicy("y", "in", sel({{"app", "db"}}),
                 std::vector{rule({nsPeer(expr("team", SelectorOperator::DoesNotExist))})}, {}));
  EXPECT_FALSE(allowed("x/a", "y/b"));
  EXPECT_TRUE(allowed("z/a", "y/b"));

  // Pod selector expressions too: the subject selector with an expression.
  state_.upsertPolicy(makePolicy("y", "in", expr("tier", SelectorOperator::Exists),
                                 std::vector<NetworkPolicyRule>{}, {}));
  EXPECT_FALSE(allowed("z/a", "y/b"));
  EXPECT_TRUE(allowed("z/a", "y/a"));  // y/a has no tier label: not selected
}

TEST_P(SemanticsTest, IpBlockWithExceptsOnEgress) {
  state_.upsertPolicy(makePolicy(
      "x", "egress-block", sel({{"app", "web"}}), {},
      std::vector{rule({blockPeer(
          block("10.0.0.0/16", "fd00::/64"),
          {block("10.0.2.2/32", "fd00::2:2/128"), block("10.0.3.0/24", "fd00::3:0/112")})})}));
  EXPECT_TRUE(allowed("x/a", "y/a"));
  EXPECT_FALSE(allowed("x/a", "y/b"));  // excepted host
  EXPECT_FALSE(allowed("x/a", "z/a"));  // excepted range
  EXPECT_TRUE(allowed("x/a", "x/b"));   // ipBlock matches pod addresses too
}

TEST_P(SemanticsTest, IpBlockOnIngressMatchesSourceAddress) {
  state_.upsertPolicy(
      makePolicy("y", "from-block", {},
                 std::vector{rule({blockPeer(block("10.0.1.0/24", "fd00::1:0/112"))})}, {}));
  EXPECT_TRUE(allowed("x/a", "y/a"));
  EXPECT_FALSE(allowed("z/a", "y/a"));
  // A bare address (not a pod) in the block is allowed by the same rule.
  const Verdict v = evaluate(state_, FlowEnd::ofAddress(ip(addr(1, 99))),
                             FlowEnd::ofPod(pod("y/a")), Protocol::TCP, 80);
  EXPECT_TRUE(v.allowed);
  EXPECT_EQ(v.egress.outcome, Outcome::NotEnforced);
}

TEST_P(SemanticsTest, ProtocolMustMatchAndDefaultsToTcp) {
  state_.upsertPolicy(
      makePolicy("x", "udp-53", {}, std::vector{rule({}, {port(53, Protocol::UDP)})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/a", 53, Protocol::UDP));
  EXPECT_FALSE(allowed("y/a", "x/a", 53, Protocol::TCP));
  EXPECT_FALSE(allowed("y/a", "x/a", 53, Protocol::SCTP));
  state_.upsertPolicy(
      makePolicy("x", "sctp", {}, std::vector{rule({}, {anyPort(Protocol::SCTP)})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/a", 9999, Protocol::SCTP));
  EXPECT_FALSE(allowed("y/a", "x/a", 9999, Protocol::TCP));
}

TEST_P(SemanticsTest, EndPortMakesARange) {
  state_.upsertPolicy(
      makePolicy("x", "range", {}, std::vector{rule({}, {portRange(8000, 8100)})}, {}));
  EXPECT_FALSE(allowed("y/a", "x/a", 7999));
  EXPECT_TRUE(allowed("y/a", "x/a", 8000));
  EXPECT_TRUE(allowed("y/a", "x/a", 8050));
  EXPECT_TRUE(allowed("y/a", "x/a", 8100));
  EXPECT_FALSE(allowed("y/a", "x/a", 8101));
}

TEST_P(SemanticsTest, IngressNamedPortResolvesAgainstDestination) {
  state_.upsertPolicy(makePolicy("x", "http", {}, std::vector{rule({}, {namedPort("http")})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/a", 8080));
  EXPECT_FALSE(allowed("y/a", "x/a", 80));
  EXPECT_FALSE(allowed("y/a", "x/b", 8080));  // x/b has no port named http: isolated, denied
  // The name must match the protocol too: dns is UDP on x/a.
  state_.upsertPolicy(
      makePolicy("x", "dns-tcp", {}, std::vector{rule({}, {namedPort("dns")})}, {}));
  EXPECT_FALSE(allowed("y/a", "x/a", 53, Protocol::TCP));
  state_.upsertPolicy(
      makePolicy("x", "dns-tcp", {}, std::vector{rule({}, {namedPort("dns", Protocol::UDP)})}, {}));
  EXPECT_TRUE(allowed("y/a", "x/a", 53, Protocol::UDP));
}

TEST_P(SemanticsTest, EgressNamedPortResolvesAgainstEachPeerPod) {
  // x/a has http=8080, y/a has http=9090.
  state_.upsertPolicy(
      makePolicy("z", "egress-http", {}, {}, std::vector{rule({nsPeer({})}, {namedPort("http")})}));
  EXPECT_TRUE(allowed("z/a", "x/a", 8080));
  EXPECT_FALSE(allowed("z/a", "x/a", 9090));
  EXPECT_TRUE(allowed("z/a", "y/a", 9090));
  EXPECT_FALSE(allowed("z/a", "y/a", 8080));
  EXPECT_FALSE(allowed("z/a", "x/b", 8080));  // no such name on x/b
}

TEST_P(SemanticsTest, NamedPortNeverMatchesABareAddress) {
  state_.upsertPolicy(makePolicy(
      "z", "egress-http", {}, {},
      std::vector{rule({blockPeer(block("10.0.0.0/8", "fd00::/16"))}, {namedPort("http")})}));
  EXPECT_TRUE(allowed("z/a", "x/a", 8080));  // a pod inside the block: resolves on it
  const Verdict v = evaluate(state_, FlowEnd::ofPod(pod("z/a")), FlowEnd::ofAddress(ip(addr(9, 9))),
                             Protocol::TCP, 8080);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.egress.outcome, Outcome::Denied);
}

TEST_P(SemanticsTest, SelfTrafficGetsAVerdictAndANote) {
  state_.upsertPolicy(makePolicy("x", "deny-all", {}, std::vector<NetworkPolicyRule>{}, {}));
  const Verdict v = check("x/a", "x/a");
  EXPECT_FALSE(v.allowed);
  ASSERT_EQ(v.notes.size(), 1u);
  EXPECT_NE(v.notes[0].find("outside any enforcement point"), std::string::npos);
}

TEST_P(SemanticsTest, OwnNodeTrafficIsAlwaysAllowed) {
  Node node;
  node.meta.name = "node-a";
  node.addresses.push_back(ip(addr(200, 1)));
  state_.upsertNode(node);
  state_.upsertPolicy(makePolicy("x", "deny-all", {}, std::vector<NetworkPolicyRule>{}, {}));
  const Verdict from_node = evaluate(state_, FlowEnd::ofAddress(ip(addr(200, 1))),
                                     FlowEnd::ofPod(pod("x/a")), Protocol::TCP, 80);
  EXPECT_TRUE(from_node.allowed);
  EXPECT_EQ(from_node.ingress.outcome, Outcome::NotEnforced);
  // A hostNetwork pod on the same node is the node.
  Pod host = makePod("kube-system", "agent", {{"app", "web"}}, {addr(200, 1)});
  host.host_network = true;
  state_.upsertPod(host);
  EXPECT_TRUE(evaluate(state_, FlowEnd::ofPod(pod("kube-system/agent")), FlowEnd::ofPod(pod("x/a")),
                       Protocol::TCP, 80)
                  .allowed);
  // Another node's address is judged like any other source.
  EXPECT_FALSE(evaluate(state_, FlowEnd::ofAddress(ip(addr(201, 1))), FlowEnd::ofPod(pod("x/a")),
                        Protocol::TCP, 80)
                   .allowed);
}

TEST_P(SemanticsTest, HostNetworkPodsAreNeverSubjectsAndPeersOnlyByAddress) {
  Pod host = makePod("x", "host", {{"app", "web"}}, {addr(200, 7)}, {}, "node-b");
  host.host_network = true;
  state_.upsertPod(host);
  state_.upsertPolicy(makePolicy("x", "deny-all", {}, std::vector<NetworkPolicyRule>{},
                                 std::vector<NetworkPolicyRule>{}));
  const Verdict to_host = evaluate(state_, FlowEnd::ofPod(pod("y/a")),
                                   FlowEnd::ofPod(pod("x/host")), Protocol::TCP, 80);
  EXPECT_TRUE(to_host.allowed);
  EXPECT_EQ(to_host.ingress.outcome, Outcome::NotEnforced);
  // podSelector app=web does not reach the hostNetwork pod; its address does.
  state_.upsertPolicy(makePolicy("y", "web", {}, std::vector{rule({nsPeer({})})}, {}));
  state_.upsertPolicy(
      makePolicy("y", "web", {}, std::vector{rule({bothPeer({}, sel({{"app", "web"}}))})}, {}));
  EXPECT_FALSE(
      evaluate(state_, FlowEnd::ofPod(pod("x/host")), FlowEnd::ofPod(pod("y/b")), Protocol::TCP, 80)
          .allowed);
  state_.upsertPolicy(
      makePolicy("y", "web", {},
                 std::vector{rule({blockPeer(block("10.0.200.0/24", "fd00::200:0/112"))})}, {}));
  EXPECT_TRUE(
      evaluate(state_, FlowEnd::ofPod(pod("x/host")), FlowEnd::ofPod(pod("y/b")), Protocol::TCP, 80)
          .allowed);
}

TEST_P(SemanticsTest, PodWithoutAddressIsStillASubjectByName) {
  state_.upsertPod(makePod("x", "pending", {{"app", "db"}}, {}));
  state_.upsertPolicy(makePolicy("x", "web-only", sel({{"app", "db"}}),
                                 std::vector{rule({podPeer(sel({{"app", "web"}}))})}, {}));
  EXPECT_TRUE(evaluate(state_, FlowEnd::ofPod(pod("x/a")), FlowEnd::ofPod(pod("x/pending")),
                       Protocol::TCP, 80)
                  .allowed);
  EXPECT_FALSE(evaluate(state_, FlowEnd::ofPod(pod("y/a")), FlowEnd::ofPod(pod("x/pending")),
                        Protocol::TCP, 80)
                   .allowed);
}

INSTANTIATE_TEST_SUITE_P(Families, SemanticsTest, ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) {
                           return info.param == Family::V4 ? std::string("IPv4")
                                                           : std::string("IPv6");
                         });

}  // namespace
}  // namespace palisade::policy
