// Renderer and diff: content-addressed names, pod churn = elements only, and
// random deltas applied to a model equal a fresh render.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "datapath/nft/diff.h"
#include "datapath/nft/render.h"
#include "datapath/nft/text.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

using testing::ip4;
using testing::RulesetBuilder;
using testing::sampleRuleset;

TableModel mustRender(const ir::Ruleset& rs, RenderOptions o = {}) {
  auto m = render(rs, o);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
  return m.ok() ? *m : TableModel{};
}

void expectSameModel(const TableModel& a, const TableModel& b) {
  ASSERT_EQ(a.sets.size(), b.sets.size());
  for (const auto& [name, s] : a.sets) {
    ASSERT_TRUE(b.sets.count(name)) << name;
    EXPECT_TRUE(s == b.sets.at(name)) << name;
  }
  ASSERT_EQ(a.chains.size(), b.chains.size());
  for (const auto& [name, c] : a.chains) {
    ASSERT_TRUE(b.chains.count(name)) << name;
    EXPECT_TRUE(c.sameContent(b.chains.at(name))) << name;
    EXPECT_EQ(c.rules, b.chains.at(name).rules) << name;
  }
}

/// Renumbers every id (as a second compile may) without changing meaning.
ir::Ruleset permuteIds(const ir::Ruleset& in, uint32_t seed) {
  ir::Ruleset out = in;
  std::mt19937 rng(seed);
  auto perm = [&](int n) {
    std::vector<uint32_t> p(n);
    for (int i = 0; i < n; ++i) p[i] = i + 1;
    std::shuffle(p.begin(), p.end(), rng);
    return p;  // old id i+1 → new id p[i]
  };
  auto pp = perm(in.peer_sets_size()), po = perm(in.port_sets_size()),
       pg = perm(in.programs_size());
  out.clear_peer_sets();
  out.clear_port_sets();
  out.clear_programs();
  out.mutable_peer_sets()->Reserve(in.peer_sets_size());
  std::vector<ir::PeerSet> peers(in.peer_sets_size());
  for (const auto& p : in.peer_sets())
    peers[pp[p.id() - 1] - 1] = p, peers[pp[p.id() - 1] - 1].set_id(pp[p.id() - 1]);
  for (auto& p : peers) *out.add_peer_sets() = p;
  std::vector<ir::PortSet> ports(in.port_sets_size());
  for (const auto& p : in.port_sets())
    ports[po[p.id() - 1] - 1] = p, ports[po[p.id() - 1] - 1].set_id(po[p.id() - 1]);
  for (auto& p : ports) *out.add_port_sets() = p;
  std::vector<ir::Program> progs(in.programs_size());
  for (const auto& p : in.programs()) {
    ir::Program q = p;
    q.set_id(pg[p.id() - 1]);
    for (auto& r : *q.mutable_rules()) {
      if (r.peer_set()) r.set_peer_set(pp[r.peer_set() - 1]);
      if (r.port_set()) r.set_port_set(po[r.port_set() - 1]);
    }
    progs[q.id() - 1] = q;
  }
  for (auto& p : progs) *out.add_programs() = p;
  for (auto& e : *out.mutable_endpoints()) {
    if (e.ingress_program()) e.set_ingress_program(pg[e.ingress_program() - 1]);
    if (e.egress_program()) e.set_egress_program(pg[e.egress_program() - 1]);
  }
  return out;
}

TEST(NftRender, LayoutOfSampleRuleset) {
  TableModel m = mustRender(sampleRuleset());
  EXPECT_TRUE(m.chains.count("postrouting"));
  EXPECT_TRUE(m.chains.count("input"));
  EXPECT_EQ(m.chains.at("postrouting").hook->priority, 95);
  EXPECT_EQ(m.chains.at("input").hook->priority, 101);
  // 2 ingress programs + 1 egress program.
  int ingress = 0, egress = 0;
  for (const auto& [n, c] : m.chains) {
    ingress += n.rfind("ingress_", 0) == 0;
    egress += n.rfind("egress_", 0) == 0;
  }
  EXPECT_EQ(ingress, 2);
  EXPECT_EQ(egress, 1);
  EXPECT_EQ(m.sets.at("ingress_dispatch_v4").jumps.size(), 3u);
  EXPECT_EQ(m.sets.at("ingress_dispatch_v6").jumps.size(), 1u);
  EXPECT_EQ(m.sets.at("egress_dispatch_v4").jumps.size(), 2u);
  EXPECT_EQ(m.sets.at("node_v4").ranges.size(), 1u);
  // Base chain order per DESIGN §5.
  const auto& rules = m.chains.at("postrouting").rules;
  ASSERT_EQ(rules.size(), 8u);
  EXPECT_EQ(rules[0].kind, RuleModel::Kind::CtEstablishedAccept);
  EXPECT_EQ(rules[1].kind, RuleModel::Kind::NeighbourDiscoveryAccept);
  EXPECT_EQ(rules[2].kind, RuleModel::Kind::AddrInSetAccept);
  EXPECT_EQ(rules[4].set, "egress_dispatch_v4");
  EXPECT_EQ(rules[6].set, "ingress_dispatch_v4");
}

TEST(NftRender, NamesDoNotDependOnIds) {
  ir::Ruleset rs = sampleRuleset();
  TableModel a = mustRender(rs);
  for (uint32_t seed = 1; seed < 6; ++seed) {
    TableModel b = mustRender(permuteIds(rs, seed));
    expectSameModel(a, b);
    EXPECT_TRUE(diff(a, b).empty()) << diff(a, b).summary();
  }
}

TEST(NftRender, DanglingIdsAreErrors) {
  ir::Ruleset rs = sampleRuleset();
  rs.mutable_programs(0)->mutable_rules(0)->set_peer_set(99);
  auto m = render(rs);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("unknown peer set 99"), std::string::npos);
}

TEST(NftRender, RejectUsesForwardAndOutput) {
  RenderOptions o;
  o.deny = DenyAction::Reject;
  TableModel m = mustRender(sampleRuleset(), o);
  EXPECT_FALSE(m.chains.count("postrouting"));
  EXPECT_TRUE(m.chains.count("forward"));
  EXPECT_TRUE(m.chains.count("output"));
  std::string text = renderText(m);
  EXPECT_NE(text.find("reject with tcp reset"), std::string::npos);
  EXPECT_NE(text.find("reject with icmpx admin-prohibited"), std::string::npos);
}

TEST(NftDiff, PodAddRemoveRelabelAreElementsOnly) {
  ir::Ruleset before = sampleRuleset();
  TableModel m0 = mustRender(before);

  // Add a pod: endpoint + its address in the peer set of the web selector.
  ir::Ruleset added = before;
  auto* e = added.add_endpoints();
  *e = added.endpoints(0);
  e->set_name("db-2");
  e->set_ipv4(0, ip4("10.0.2.20"));
  auto* v4 = added.mutable_peer_sets(0)->add_v4();
  v4->set_address(ip4("10.0.2.20"));
  v4->set_prefix_len(32);
  Delta d1 = diff(m0, mustRender(added));
  EXPECT_TRUE(d1.elementsOnly()) << d1.summary();
  EXPECT_EQ(d1.elementChanges(), 3u) << d1.summary();  // 2 dispatch + 1 peer range

  // Remove a pod.
  ir::Ruleset removed = before;
  removed.mutable_endpoints()->DeleteSubrange(1, 1);
  Delta d2 = diff(m0, mustRender(removed));
  EXPECT_TRUE(d2.elementsOnly()) << d2.summary();
  EXPECT_EQ(d2.elementChanges(), 1u);

  // Relabel: cache moves from deny-all to db program; peer set shrinks.
  ir::Ruleset relabel = before;
  relabel.mutable_endpoints(2)->set_ingress_program(1);
  relabel.mutable_peer_sets(1)->mutable_v4()->DeleteSubrange(1, 1);
  Delta d3 = diff(m0, mustRender(relabel));
  EXPECT_TRUE(d3.elementsOnly()) << d3.summary();
  EXPECT_EQ(d3.elementChanges(), 3u) << d3.summary();  // map remove+add, one range

  // A policy change changes chains.
  ir::Ruleset policy = before;
  policy.mutable_programs(0)->mutable_rules()->RemoveLast();
  Delta d4 = diff(m0, mustRender(policy));
  EXPECT_FALSE(d4.elementsOnly());
  EXPECT_EQ(d4.add_chains.size(), 1u);
  EXPECT_EQ(d4.delete_chains.size(), 1u);
}

TEST(NftDiff, RandomDeltasApplyToFreshRender) {
  std::mt19937 rng(42);
  RulesetBuilder b;
  std::vector<uint32_t> peer_ids;
  for (int i = 0; i < 6; ++i) peer_ids.push_back(b.peerSet({}));
  uint32_t ports = b.portSet({{ir::TCP, 1, 1000}, {ir::UDP, 53, 53}});
  std::vector<uint32_t> progs;
  for (int i = 0; i < 6; ++i)
    progs.push_back(b.program(i % 2 ? ir::EGRESS : ir::INGRESS,
                              {{peer_ids[i], ports, "ns/p" + std::to_string(i), 0},
                               {peer_ids[(i + 1) % 6], 0, "ns/p" + std::to_string(i), 1}},
                              {"ns/p" + std::to_string(i)}));
  b.nodeAddress("10.255.0.1");
  ir::Ruleset rs = b.rs;
  TableModel model = mustRender(rs);
  for (int step = 0; step < 300; ++step) {
    ir::Ruleset next = rs;
    int what = rng() % 4;
    uint32_t addr = ip4("10.0.0.0") + (rng() % 512);
    if (what == 0) {  // add a pod with random programs
      auto* e = next.add_endpoints();
      e->set_namespace_("ns");
      e->set_name("pod" + std::to_string(step));
      e->add_ipv4(addr);
      e->set_ingress_program(progs[(rng() % 3) * 2]);
      if (rng() % 2) e->set_egress_program(progs[(rng() % 3) * 2 + 1]);
    } else if (what == 1 && next.endpoints_size() > 0) {  // remove a pod
      next.mutable_endpoints()->DeleteSubrange(rng() % next.endpoints_size(), 1);
    } else if (what == 2 && next.endpoints_size() > 0) {  // relabel
      auto* e = next.mutable_endpoints(rng() % next.endpoints_size());
      e->set_ingress_program(progs[(rng() % 3) * 2]);
    } else {  // peer set churn: replace the whole set with random prefixes
      auto* p = next.mutable_peer_sets(rng() % next.peer_sets_size());
      p->clear_v4();
      std::vector<uint32_t> addrs;
      for (int k = 0, n = rng() % 8; k < n; ++k) addrs.push_back(ip4("10.0.0.0") + rng() % 256 * 4);
      std::sort(addrs.begin(), addrs.end());
      addrs.erase(std::unique(addrs.begin(), addrs.end()), addrs.end());
      for (uint32_t a : addrs) {
        auto* c = p->add_v4();
        c->set_address(a);
        c->set_prefix_len(rng() % 2 ? 32 : 31);
      }
    }
    TableModel fresh = mustRender(next);
    Delta d = diff(model, fresh);
    EXPECT_TRUE(d.elementsOnly()) << "step " << step << ": " << d.summary();
    apply(model, d);
    expectSameModel(model, fresh);
    if (::testing::Test::HasFailure()) return;
    rs = next;
  }
}

TEST(NftText, RendersLoadableSyntax) {
  std::string text = renderText(mustRender(sampleRuleset()));
  EXPECT_EQ(text.rfind("table inet palisade {\n", 0), 0u);
  EXPECT_NE(text.find("type filter hook postrouting priority srcnat - 5; policy accept;"),
            std::string::npos);
  EXPECT_NE(text.find("type filter hook input priority 101; policy accept;"), std::string::npos);
  EXPECT_NE(text.find("ct state established,related accept"), std::string::npos);
  EXPECT_NE(text.find("ip6 hoplimit 255 icmpv6 type 133-137 accept"), std::string::npos);
  EXPECT_NE(text.find("ip saddr vmap @egress_dispatch_v4"), std::string::npos);
  EXPECT_NE(text.find("elements = { 10.0.1.0/24 }"), std::string::npos);
  EXPECT_NE(text.find("elements = { 172.16.0.5, 192.168.0.0/16 }"), std::string::npos);
  EXPECT_NE(text.find("tcp . 80, tcp . 8000-8080"), std::string::npos);
  EXPECT_NE(text.find("meta l4proto . th dport @ports_"), std::string::npos);
  EXPECT_NE(text.find("comment \"shop/allow-db ingress rule 0\""), std::string::npos);
  EXPECT_NE(text.find("counter drop"), std::string::npos);
}

TEST(NftText, FormatsRanges) {
  EXPECT_EQ(formatRange(KeyType::Ipv4, v4Prefix(ip4("10.1.0.0"), 16)), "10.1.0.0/16");
  EXPECT_EQ(formatRange(KeyType::Ipv4, {ip4("10.0.0.1"), ip4("10.0.0.5")}), "10.0.0.1-10.0.0.5");
  EXPECT_EQ(formatRange(KeyType::Ipv4, v4Prefix(0, 0)), "0.0.0.0/0");
  EXPECT_EQ(formatRange(KeyType::Ipv6, v6Prefix(0, 0)), "::/0");
  EXPECT_EQ(formatRange(KeyType::ProtoService, {(U128(17) << 16) | 53, (U128(17) << 16) | 53}),
            "udp . 53");
}

}  // namespace
}  // namespace palisade::datapath::nft
