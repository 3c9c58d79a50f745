// The shape of compiled rulesets: sharing, canonical sets, named ports,
// provenance, which pods are endpoints.
#include "policy/compile/compile.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/policy/support/builders.h"
#include "tests/policy/support/ruleset_canon.h"

namespace palisade::policy {
namespace {

using namespace palisade::policy::testing;

const ir::Endpoint& endpoint(const ir::Ruleset& rs, const std::string& ns,
                             const std::string& name) {
  for (const auto& e : rs.endpoints()) {
    if (e.namespace_() == ns && e.name() == name) return e;
  }
  ADD_FAILURE() << "no endpoint " << ns << "/" << name;
  static ir::Endpoint none;
  return none;
}

class CompileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.upsertNamespace(makeNamespace("x", {{"team", "a"}}));
    state_.upsertNamespace(makeNamespace("y", {{"team", "b"}}));
    state_.upsertPod(
        makePod("x", "a", {{"app", "web"}}, {"10.0.1.1"}, {{"http", 8080, Protocol::TCP}}, "n1"));
    state_.upsertPod(
        makePod("x", "b", {{"app", "web"}}, {"10.0.1.2"}, {{"http", 8080, Protocol::TCP}}, "n1"));
    state_.upsertPod(
        makePod("x", "c", {{"app", "web"}}, {"10.0.1.3"}, {{"http", 9090, Protocol::TCP}}, "n1"));
    state_.upsertPod(makePod("y", "a", {{"app", "db"}}, {"10.0.2.1", "fd00::2:1"}, {}, "n2"));
  }
  ClusterState state_;
};

TEST_F(CompileTest, OnlyTheNodesPodsAreEndpoints) {
  const ir::Ruleset n1 = compile(state_, "n1");
  EXPECT_EQ(n1.endpoints_size(), 3);
  EXPECT_EQ(n1.node().name(), "n1");
  const ir::Ruleset n2 = compile(state_, "n2");
  ASSERT_EQ(n2.endpoints_size(), 1);
  EXPECT_EQ(n2.endpoints(0).ipv4_size(), 1);
  EXPECT_EQ(n2.endpoints(0).ipv6_size(), 1);
  EXPECT_EQ(compile(state_, "").endpoints_size(), 4);  // dry-run: every pod
}

TEST_F(CompileTest, HostNetworkPodsAreNotEndpointsAndPendingPodsAre) {
  Pod host = makePod("x", "host", {{"app", "web"}}, {"192.168.0.1"}, {}, "n1");
  host.host_network = true;
  state_.upsertPod(host);
  state_.upsertPod(makePod("x", "new", {{"app", "web"}}, {}, {}, "n1"));
  const ir::Ruleset rs = compile(state_, "n1");
  EXPECT_EQ(rs.endpoints_size(), 4);
  EXPECT_EQ(endpoint(rs, "x", "new").state(), ir::Endpoint::PENDING);
  EXPECT_EQ(endpoint(rs, "x", "a").state(), ir::Endpoint::READY);
}

TEST_F(CompileTest, PodsWithTheSamePoliciesShareOneProgram) {
  state_.upsertPolicy(makePolicy("x", "from-b", {},
                                 std::vector{rule({nsPeer(sel({{"team", "b"}}))}, {port(80)})},
                                 std::vector<NetworkPolicyRule>{}));
  const ir::Ruleset rs = compile(state_, "n1");
  EXPECT_EQ(rs.programs_size(), 2);  // one ingress, one egress for all three pods
  const uint32_t in = endpoint(rs, "x", "a").ingress_program();
  EXPECT_NE(in, 0u);
  EXPECT_EQ(endpoint(rs, "x", "b").ingress_program(), in);
  EXPECT_EQ(endpoint(rs, "x", "c").ingress_program(), in);
  const ir::Program& p = rs.programs(static_cast<int>(in - 1));
  EXPECT_EQ(p.direction(), ir::INGRESS);
  ASSERT_EQ(p.rules_size(), 1);
  EXPECT_EQ(p.rules(0).provenance().policy_namespace(), "x");
  EXPECT_EQ(p.rules(0).provenance().policy_name(), "from-b");
  EXPECT_EQ(p.rules(0).provenance().rule_index(), 0u);
  ASSERT_EQ(p.isolated_by_size(), 1);
  EXPECT_EQ(p.isolated_by(0).name(), "from-b");
  // The egress program has no rules: deny all.
  const ir::Program& e = rs.programs(static_cast<int>(endpoint(rs, "x", "a").egress_program() - 1));
  EXPECT_EQ(e.rules_size(), 0);
  EXPECT_EQ(peerSetText(rs, p.rules(0).peer_set()), "10.0.2.1/32 fd00::2:1/128 ");
  EXPECT_EQ(portSetText(rs, p.rules(0).port_set()), "6:80-80 ");
}

TEST_F(CompileTest, IdenticalPeersShareOnePeerSet) {
  state_.upsertPolicy(makePolicy("x", "one", sel({{"app", "web"}}),
                                 std::vector{rule({nsPeer(sel({{"team", "b"}}))}, {port(80)})},
                                 {}));
  state_.upsertPolicy(makePolicy("x", "two", sel({{"app", "web"}}),
                                 std::vector{rule({nsPeer(sel({{"team", "b"}}))}, {port(443)})},
                                 {}));
  const ir::Ruleset rs = compile(state_, "n1");
  EXPECT_EQ(rs.peer_sets_size(), 1);
  EXPECT_EQ(rs.port_sets_size(), 2);
}

TEST_F(CompileTest, IpBlockExceptsBecomeNonOverlappingPrefixes) {
  state_.upsertPolicy(
      makePolicy("x", "block", {}, {},
                 std::vector{rule({blockPeer("10.0.0.0/16", {"10.0.1.0/24", "10.0.128.0/17"}),
                                   blockPeer("fd00::/32", {"fd00::/48"})})}));
  const ir::Ruleset rs = compile(state_, "n1");
  ASSERT_EQ(rs.peer_sets_size(), 1);
  EXPECT_EQ(peerSetText(rs, 1),
            "10.0.0.0/24 10.0.2.0/23 10.0.4.0/22 10.0.8.0/21 10.0.16.0/20 10.0.32.0/19 "
            "10.0.64.0/18 fd00:0:1::/48 fd00:0:2::/47 fd00:0:4::/46 fd00:0:8::/45 "
            "fd00:0:10::/44 fd00:0:20::/43 fd00:0:40::/42 fd00:0:80::/41 fd00:0:100::/40 "
            "fd00:0:200::/39 fd00:0:400::/38 fd00:0:800::/37 fd00:0:1000::/36 fd00:0:2000::/35 "
            "fd00:0:4000::/34 fd00:0:8000::/33 ");
}

TEST_F(CompileTest, PodAddressesInsideABlockAreNotRepeated) {
  state_.upsertPolicy(
      makePolicy("y", "mixed", {}, std::vector{rule({blockPeer("10.0.1.0/31"), nsPeer({})})}, {}));
  const ir::Ruleset rs = compile(state_, "n2");
  // x/a (10.0.1.1) is inside the /31; x/b and x/c are not.
  EXPECT_EQ(peerSetText(rs, 1), "10.0.1.0/31 10.0.1.2/32 10.0.1.3/32 10.0.2.1/32 fd00::2:1/128 ");
}

TEST_F(CompileTest, IngressNamedPortsSplitProgramsByResolvedNumber) {
  state_.upsertPolicy(makePolicy("x", "http", {}, std::vector{rule({}, {namedPort("http")})}, {}));
  const ir::Ruleset rs = compile(state_, "n1");
  const uint32_t a = endpoint(rs, "x", "a").ingress_program();
  EXPECT_EQ(endpoint(rs, "x", "b").ingress_program(), a);
  const uint32_t c = endpoint(rs, "x", "c").ingress_program();
  EXPECT_NE(c, a);
  EXPECT_EQ(portSetText(rs, rs.programs(static_cast<int>(a - 1)).rules(0).port_set()),
            "6:8080-8080 ");
  EXPECT_EQ(portSetText(rs, rs.programs(static_cast<int>(c - 1)).rules(0).port_set()),
            "6:9090-9090 ");
}

TEST_F(CompileTest, EgressNamedPortsBecomeOneRulePerNumber) {
  state_.upsertPolicy(makePolicy("y", "to-http", {}, {},
                                 std::vector{rule({nsPeer({})}, {namedPort("http"), port(53)})}));
  const ir::Ruleset rs = compile(state_, "n2");
  const ir::Program& p = rs.programs(static_cast<int>(endpoint(rs, "y", "a").egress_program() - 1));
  ASSERT_EQ(p.rules_size(), 3);
  std::vector<std::string> rules;
  for (const auto& r : p.rules()) {
    EXPECT_EQ(r.provenance().rule_index(), 0u);
    rules.push_back(peerSetText(rs, r.peer_set()) + "| " + portSetText(rs, r.port_set()));
  }
  EXPECT_EQ(rules[0], "10.0.1.1/32 10.0.1.2/32 10.0.1.3/32 10.0.2.1/32 fd00::2:1/128 | 6:53-53 ");
  EXPECT_EQ(rules[1], "10.0.1.1/32 10.0.1.2/32 | 6:8080-8080 ");
  EXPECT_EQ(rules[2], "10.0.1.3/32 | 6:9090-9090 ");
}

TEST_F(CompileTest, PortsMergeAndProtocolOnlyMeansEveryPort) {
  state_.upsertPolicy(makePolicy(
      "x", "ports", {},
      std::vector{rule({}, {portRange(80, 90), port(85), port(91), anyPort(Protocol::UDP)})}, {}));
  const ir::Ruleset rs = compile(state_, "n1");
  EXPECT_EQ(portSetText(rs, 1), "6:80-91 17:0-65535 ");
}

TEST_F(CompileTest, UnresolvableIngressNamedPortLeavesThePodIsolatedWithNoRule) {
  state_.upsertPolicy(makePolicy("y", "grpc", {}, std::vector{rule({}, {namedPort("grpc")})}, {}));
  const ir::Ruleset rs = compile(state_, "n2");
  const auto& e = endpoint(rs, "y", "a");
  ASSERT_NE(e.ingress_program(), 0u);
  EXPECT_EQ(rs.programs(static_cast<int>(e.ingress_program() - 1)).rules_size(), 0);
}

TEST_F(CompileTest, NodeAddressesAndPodCidrsComeFromTheNodeObject) {
  Node node;
  node.meta.name = "n1";
  node.addresses = {ip("192.168.1.10"), ip("fd01::10")};
  node.pod_cidrs = {cidr("10.0.1.0/24")};
  state_.upsertNode(node);
  const ir::Ruleset rs = compile(state_, "n1");
  ASSERT_EQ(rs.node().addresses_v4_size(), 1);
  EXPECT_EQ(IpAddress::v4(rs.node().addresses_v4(0)).toString(), "192.168.1.10");
  EXPECT_EQ(rs.node().addresses_v6_size(), 1);
  ASSERT_EQ(rs.node().pod_cidrs_v4_size(), 1);
  EXPECT_EQ(cidrText(rs.node().pod_cidrs_v4(0)), "10.0.1.0/24");
}

TEST_F(CompileTest, CompileIsDeterministic) {
  state_.upsertPolicy(makePolicy("x", "http", {}, std::vector{rule({}, {namedPort("http")})},
                                 std::vector{rule({nsPeer({})})}));
  EXPECT_EQ(compile(state_, "n1").SerializeAsString(), compile(state_, "n1").SerializeAsString());
}

// The datapath names kernel sets by ir::PeerSet.key, so the key must not
// depend on the order the agent happened to intern label strings in (an
// agent restart replays the watch in another order) and must tell sets apart.
TEST(CompileKeys, PeerSetKeysDoNotDependOnInterningOrderAndTellSetsApart) {
  auto keys = [](bool tier_first) {
    ClusterState state;
    // Intern "tier" before "app", or after: selector terms are ordered by symbol.
    LabelMap first = tier_first ? LabelMap{{"tier", "front"}} : LabelMap{{"app", "web"}};
    state.upsertPod(makePod("x", "seed", first, {"10.0.0.9"}, {}, "n1"));
    state.upsertNamespace(makeNamespace("x", {{"team", "a"}}));
    state.upsertPod(makePod("x", "w", {{"app", "web"}, {"tier", "front"}}, {"10.0.1.1"},
                            {{"http", 80, Protocol::TCP}}, "n1"));
    state.upsertPolicy(
        makePolicy("x", "p", {},
                   std::vector{rule({podPeer(sel({{"app", "web"}, {"tier", "front"}}))}),
                               rule({bothPeer(sel({{"team", "a"}}), sel({{"tier", "front"}}))}),
                               rule({podPeer(sel({{"app", "web"}})), blockPeer("10.9.0.0/16")})},
                   std::vector{rule({podPeer(sel({{"app", "web"}}))}, {namedPort("http")})}));
    std::vector<std::pair<std::string, bool>> out;
    const ir::Ruleset rs = compile(state, "n1");
    for (const auto& ps : rs.peer_sets()) out.emplace_back(ps.key(), ps.hosts_only());
    std::sort(out.begin(), out.end());
    return out;
  };
  const auto a = keys(false), b = keys(true);
  EXPECT_EQ(a, b);
  ASSERT_GE(a.size(), 4u);
  for (size_t i = 1; i < a.size(); ++i) EXPECT_NE(a[i - 1].first, a[i].first);
  // Pod selectors alone hold pod addresses only; the ipBlock peer makes prefixes.
  for (const auto& [key, hosts_only] : a)
    EXPECT_EQ(hosts_only, key.find("cidrs") == std::string::npos) << key;
}

}  // namespace
}  // namespace palisade::policy
