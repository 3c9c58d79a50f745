// The incremental compiler against the full compile: after every random pod
// change its ruleset must enforce exactly what a fresh compile enforces, and
// its deltas, applied by a consumer, must reproduce its ruleset.
#include "policy/compile/incremental.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "policy/compile/compile.h"
#include "tests/policy/support/builders.h"
#include "tests/policy/support/ruleset_canon.h"

namespace palisade::policy {
namespace {

using namespace palisade::policy::testing;

/// What a datapath holds after applying deltas: set elements by set id and
/// endpoints by name.
struct DeltaConsumer {
  std::map<uint32_t, std::set<std::string>> sets;
  std::map<std::string, std::pair<uint32_t, uint32_t>> endpoints;

  void load(const ir::Ruleset& rs) {
    sets.clear();
    endpoints.clear();
    for (const auto& s : rs.peer_sets()) addSet(s);
    for (const auto& e : rs.endpoints()) addEndpoint(e);
  }
  void addSet(const ir::PeerSet& s) {
    auto& elems = sets[s.id()];
    for (const auto& c : s.v4()) elems.insert(cidrText(c));
    for (const auto& c : s.v6()) elems.insert(cidrText(c));
  }
  void addEndpoint(const ir::Endpoint& e) {
    endpoints[e.namespace_() + "/" + e.name()] = {e.ingress_program(), e.egress_program()};
  }
  void apply(const ir::RulesetDelta& d) {
    for (const auto& s : d.new_peer_sets()) addSet(s);
    for (const auto& pd : d.peer_sets()) {
      auto& elems = sets[pd.id()];
      for (const auto& c : pd.remove_v4()) EXPECT_EQ(elems.erase(cidrText(c)), 1u);
      for (const auto& c : pd.remove_v6()) EXPECT_EQ(elems.erase(cidrText(c)), 1u);
      for (const auto& c : pd.add_v4()) EXPECT_TRUE(elems.insert(cidrText(c)).second);
      for (const auto& c : pd.add_v6()) EXPECT_TRUE(elems.insert(cidrText(c)).second);
    }
    for (const auto& e : d.upserted_endpoints()) addEndpoint(e);
    for (const auto& r : d.removed_endpoints()) endpoints.erase(r.namespace_() + "/" + r.name());
  }
  bool operator==(const DeltaConsumer&) const = default;
};

class IncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_.upsertNamespace(makeNamespace("x", {{"team", "a"}}));
    state_.upsertNamespace(makeNamespace("y", {{"team", "b"}}));
    state_.upsertNamespace(makeNamespace("z", {{"team", "a"}, {"env", "prod"}}));
    const std::vector<NetworkPolicyRule> none;
    state_.upsertPolicy(makePolicy("x", "deny-all", {}, none, none));
    state_.upsertPolicy(
        makePolicy("x", "web", sel({{"app", "web"}}),
                   std::vector{rule({nsPeer(sel({{"team", "a"}}))}, {port(80)}),
                               rule({podPeer(sel({{"app", "db"}}))}, {namedPort("http")})},
                   std::vector{rule({bothPeer({}, sel({{"app", "db"}}))}, {namedPort("http")}),
                               rule({blockPeer("10.0.0.0/16", {"10.0.2.0/24"})})}));
    state_.upsertPolicy(
        makePolicy("y", "db", sel({{"app", "db"}}),
                   std::vector{rule({podPeer(expr("app", SelectorOperator::In, {"web", "api"})),
                                     nsPeer(sel({{"env", "prod"}}))})},
                   {}));
    state_.upsertPolicy(
        makePolicy("z", "egress", {}, {},
                   std::vector{rule({nsPeer(expr("team", SelectorOperator::Exists))},
                                    {namedPort("http"), port(53, Protocol::UDP)}),
                               rule({blockPeer("fd00::/32")})}));
  }

  Pod randomPod(std::mt19937& rng, const std::string& ns, const std::string& name) {
    static const std::vector<std::string> apps = {"web", "db", "api", "cache"};
    static const std::vector<std::string> nodes = {"n1", "n2"};
    LabelMap labels{{"app", apps[rng() % apps.size()]}};
    if (rng() % 2) labels["tier"] = "front";
    std::vector<std::string> ips;
    const int host = static_cast<int>(rng() % 40) + 1;
    ips.push_back("10.0." + std::to_string(rng() % 3 + 1) + "." + std::to_string(host));
    if (rng() % 3 == 0) ips.push_back("fd00::" + std::to_string(host));
    if (rng() % 8 == 0) ips.clear();  // not yet addressed
    // Two numbers for the same name, so egress named ports form two groups;
    // a third appears rarely, forcing a new group.
    const int http = rng() % 10 == 0 ? 9000 : (rng() % 2 ? 80 : 8080);
    return makePod(ns, name, labels, ips, {{"http", http, Protocol::TCP}},
                   nodes[rng() % nodes.size()]);
  }

  ClusterState state_;
};

class IncrementalChurnTest : public IncrementalTest,
                             public ::testing::WithParamInterface<unsigned> {};

TEST_P(IncrementalChurnTest, RandomPodChurnMatchesFullCompileAndDeltasReplay) {
  std::mt19937 rng(GetParam());
  const std::vector<std::string> namespaces = {"x", "y", "z"};
  for (int i = 0; i < 20; ++i) {
    const std::string ns = namespaces[rng() % 3];
    state_.upsertPod(randomPod(rng, ns, "p" + std::to_string(i)));
  }
  IncrementalCompiler compiler(state_, "n1");
  DeltaConsumer consumer;
  consumer.load(compiler.ruleset());

  int element_only = 0, full = 0;
  for (int step = 0; step < 400; ++step) {
    const std::string ns = namespaces[rng() % 3];
    const std::string name = "p" + std::to_string(rng() % 30);
    ir::RulesetDelta delta;
    switch (rng() % 3) {
      case 0:
        delta = compiler.upsertPod(randomPod(rng, ns, name));
        break;
      case 1:
        delta = compiler.removePod(ns, name);
        break;
      default:
        delta = compiler.mergePodLabels(ns, name, {{"app", rng() % 2 ? "web" : "db"}});
        break;
    }
    const ir::Ruleset& rs = compiler.ruleset();
    ASSERT_EQ(canon(rs), canon(compile(state_, "n1"))) << "step " << step;
    if (delta.full()) {
      ++full;
      consumer.load(rs);
    } else {
      ++element_only;
      EXPECT_EQ(delta.to_revision(), delta.from_revision() + 1);
      consumer.apply(delta);
      DeltaConsumer expected;
      expected.load(rs);
      ASSERT_TRUE(consumer == expected) << "step " << step;
    }
  }
  // Nearly all pod churn must be expressible as element changes.
  EXPECT_GT(element_only, 350);
  EXPECT_GT(full, 0);  // the rare new named-port number did occur
}

INSTANTIATE_TEST_SUITE_P(Seeds, IncrementalChurnTest, ::testing::Values(42u, 7u, 1234u));

TEST_F(IncrementalTest, RelabelTouchesOnlySetElements) {
  state_.upsertPod(makePod("x", "w", {{"app", "web"}}, {"10.0.1.1"}, {}, "n1"));
  state_.upsertPod(
      makePod("y", "d", {{"app", "db"}}, {"10.0.2.1"}, {{"http", 80, Protocol::TCP}}, "n2"));
  IncrementalCompiler compiler(state_, "n1");
  const int programs = compiler.ruleset().programs_size();
  const ir::RulesetDelta d = compiler.mergePodLabels("y", "d", {{"app", "web"}});
  EXPECT_FALSE(d.full());
  EXPECT_EQ(d.new_programs_size(), 0);
  EXPECT_GT(d.peer_sets_size(), 0);
  EXPECT_EQ(compiler.ruleset().programs_size(), programs);
}

TEST_F(IncrementalTest, PolicyChangeRecompilesFully) {
  state_.upsertPod(makePod("x", "w", {{"app", "web"}}, {"10.0.1.1"}, {}, "n1"));
  IncrementalCompiler compiler(state_, "n1");
  const ir::RulesetDelta d = compiler.change([](ClusterState& s) { s.removePolicy("x", "web"); });
  EXPECT_TRUE(d.full());
  EXPECT_EQ(canon(compiler.ruleset()), canon(compile(state_, "n1")));
}

}  // namespace
}  // namespace palisade::policy
