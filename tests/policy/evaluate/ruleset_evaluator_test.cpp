// RulesetEvaluator::create checks the prefixes it indexes: an ir::Ruleset may
// come from a checkpoint file, and a prefix length past the address length is
// an error naming the set and the element, never an empty optional
// dereferenced.
#include "policy/evaluate/ruleset_evaluator.h"

#include <gtest/gtest.h>

#include "tests/datapath/ruleset_builder.h"

namespace palisade::policy {
namespace {

using palisade::datapath::testing::RulesetBuilder;

/// b (10.8.0.3 / fd00::3) isolated for ingress: allowed from the peer set `peers`.
ir::Ruleset withPeers(const std::vector<std::string>& peers) {
  RulesetBuilder b;
  const uint32_t set = b.peerSet(peers, "ipBlock from a checkpoint");
  const uint32_t in = b.program(ir::INGRESS, {{set, 0, "ns/allow", 0}}, {"ns/allow"});
  b.endpoint("ns", "b", "10.8.0.3", in, 0);
  return b.rs;
}

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(RulesetEvaluatorCreate, ValidPrefixesAreIndexed) {
  const ir::Ruleset rs = withPeers({"10.9.0.0/16", "10.8.0.2/32", "fd00::/64"});
  auto e = RulesetEvaluator::create(rs);
  ASSERT_TRUE(e) << e.error().str();
  EXPECT_TRUE(e->allows(ip("10.9.200.1"), ip("10.8.0.3"), Protocol::TCP, 80));
  EXPECT_TRUE(e->allows(ip("10.8.0.2"), ip("10.8.0.3"), Protocol::TCP, 80));
  EXPECT_FALSE(e->allows(ip("10.10.0.1"), ip("10.8.0.3"), Protocol::TCP, 80));
}

TEST(RulesetEvaluatorCreate, Ipv4PrefixLongerThan32IsAnError) {
  const ir::Ruleset rs = withPeers({"10.9.0.0/16", "10.0.0.0/33"});
  auto e = RulesetEvaluator::create(rs);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), EINVAL);
  const std::string& m = e.error().message();
  EXPECT_NE(m.find("peer set 1"), std::string::npos) << m;
  EXPECT_NE(m.find("ipBlock from a checkpoint"), std::string::npos) << m;
  EXPECT_NE(m.find("v4[1]"), std::string::npos) << m;
  EXPECT_NE(m.find("10.0.0.0/33"), std::string::npos) << m;
}

TEST(RulesetEvaluatorCreate, Ipv6PrefixLongerThan128IsAnError) {
  const ir::Ruleset rs = withPeers({"fd00::/129"});
  auto e = RulesetEvaluator::create(rs);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("v6[0]: invalid CIDR fd00::/129"), std::string::npos)
      << e.error().message();
}

TEST(RulesetEvaluatorCreate, OneShotEvaluateReportsTheSameError) {
  const ir::Ruleset rs = withPeers({"10.0.0.0/40"});
  auto v = evaluate(rs, ip("10.0.0.1"), ip("10.8.0.3"), Protocol::TCP, 80);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().message().find("10.0.0.0/40"), std::string::npos) << v.error().message();
  auto good =
      evaluate(withPeers({"10.0.0.0/8"}), ip("10.0.0.1"), ip("10.8.0.3"), Protocol::TCP, 80);
  ASSERT_TRUE(good) << good.error().str();
  EXPECT_TRUE(good->allowed);
}

}  // namespace
}  // namespace palisade::policy
