// The delta path (Programmer::apply, delta_render.h): after any sequence of
// pod changes the programmer's model equals a fresh full render of the final
// ruleset, pod changes send element messages only, and what a delta cannot
// express takes the full path.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <algorithm>

#include "datapath/nft/programmer.h"
#include "tests/datapath/delta_churn.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

using testing::DeltaChurn;
using testing::ip4;
using testing::RulesetBuilder;

/// Acks every batch (or rejects the next `reject` ones) and keeps the message
/// types of each.
class AckingTransport final : public Transport {
 public:
  std::vector<std::vector<uint16_t>> types;  // per batch, BEGIN/END excluded
  int reject = 0;

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t> batch) override {
    std::vector<uint8_t> copy(batch.begin(), batch.end());
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
    int len = static_cast<int>(copy.size());
    std::vector<uint16_t> t;
    uint32_t last_seq = 0;
    while (mnl_nlmsg_ok(nlh, len)) {
      uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
      if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && nlh->nlmsg_type != NFNL_MSG_BATCH_END) {
        t.push_back(type);
        last_seq = nlh->nlmsg_seq;
      }
      nlh = mnl_nlmsg_next(nlh, &len);
    }
    types.push_back(std::move(t));
    if (reject > 0) {
      --reject;
      return std::vector<Ack>{{last_seq, EINVAL, ""}, {last_seq, 0, ""}};
    }
    return std::vector<Ack>{{last_seq, 0, ""}};
  }
  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t>) override {
    return Error(EOPNOTSUPP, "fake");
  }
  uint32_t portId() const override { return 1; }
};

struct Harness {
  AckingTransport* transport = nullptr;
  std::unique_ptr<Programmer> prog;
  explicit Harness(ProgrammerOptions options = {}) {
    auto t = std::make_unique<AckingTransport>();
    transport = t.get();
    prog = std::make_unique<Programmer>(std::move(t), std::move(options));
  }
};

/// Empty when the programmer's model is what a full render of `rs` gives.
std::string tableDifference(const TableModel& have, const ir::Ruleset& rs,
                            const RenderOptions& options = {}) {
  auto want = render(rs, options);
  if (!want) return "render failed: " + want.error().str();
  std::string out;
  for (const auto& [name, s] : want->sets) {
    auto it = have.sets.find(name);
    if (it == have.sets.end())
      out += "missing set " + name + "; ";
    else if (!(it->second == s))
      out += "set " + name + " differs (" + std::to_string(it->second.elementCount()) + " vs " +
             std::to_string(s.elementCount()) + " elements); ";
  }
  for (const auto& [name, s] : have.sets)
    if (!want->sets.count(name)) out += "extra set " + name + "; ";
  for (const auto& [name, c] : want->chains) {
    auto it = have.chains.find(name);
    if (it == have.chains.end())
      out += "missing chain " + name + "; ";
    else if (!it->second.sameContent(c) || it->second.rules != c.rules)
      out += "chain " + name + " differs; ";
  }
  for (const auto& [name, c] : have.chains)
    if (!want->chains.count(name)) out += "extra chain " + name + "; ";
  return out;
}

bool elementMessagesOnly(const std::vector<uint16_t>& types) {
  for (uint16_t t : types)
    if (t != NFT_MSG_NEWSETELEM && t != NFT_MSG_DELSETELEM) return false;
  return true;
}

/// 300 rounds of random pod churn (and, with `policy_events`, policy, cluster
/// policy and namespace changes) through Programmer::apply; after each the
/// model must equal a full render with the same options.
void churnKeepsTheModelEqualToAFullRender(const ProgrammerOptions& options,
                                          bool policy_events = false) {
  DeltaChurn churn(1'000, 11, policy_events);
  Harness h(options);
  RenderOptions ro;
  ro.deny = options.deny;
  ro.queue = options.queue;
  ASSERT_TRUE(h.prog->sync(churn.ruleset()).ok());
  int through_delta = 0, element_batches = 0, steps = 300;
  for (int step = 0; step < steps; ++step) {
    // Every fifth round coalesces three changes into one batch, as the agent does.
    std::vector<ir::RulesetDelta> deltas{churn.step()};
    std::string what = churn.lastStep();
    if (step % 5 == 4)
      for (int k = 0; k < 2; ++k) deltas.push_back(churn.step()), what += ", " + churn.lastStep();
    const ir::Ruleset& rs = churn.ruleset();
    size_t batches = h.transport->types.size();
    auto r = h.prog->apply(rs, deltas);
    ASSERT_TRUE(r.ok()) << "step " << step << " (" << what << "): " << r.error().str();
    ASSERT_EQ(tableDifference(*h.prog->current(), rs, ro), "")
        << "step " << step << " (" << what << ")";
    if (!r->from_ir_delta) continue;
    ++through_delta;
    bool new_objects = false;
    for (const auto& d : deltas)
      new_objects |= d.new_programs_size() > 0 || d.new_port_sets_size() > 0;
    if (h.transport->types.size() > batches && !new_objects) {
      ++element_batches;
      EXPECT_TRUE(elementMessagesOnly(h.transport->types.back())) << "step " << step;
      EXPECT_TRUE(r->elements_only);
    }
  }
  // The full path is for recompiles (a named port number no rule had yet;
  // with policy events also compaction, when unused programs pile up).
  EXPECT_GT(through_delta, steps * 9 / 10);
  EXPECT_GT(element_batches, policy_events ? steps / 5 : steps / 3);
}

TEST(NftDeltaRender, RandomPodChurnKeepsTheModelEqualToAFullRender) {
  churnKeepsTheModelEqualToAFullRender({});
}

TEST(NftDeltaRender, RandomPolicyAndNamespaceChurnKeepsTheModelEqualToAFullRender) {
  // New programs on existing sets must not rename them (sets are named by
  // key): policy changes go through the delta path like pod changes.
  churnKeepsTheModelEqualToAFullRender({}, /*policy_events=*/true);
}

TEST(NftDeltaRender, RandomPodChurnKeepsTheQueueSetsToo) {
  // pods_* and known_* (queue_rules.h) follow the endpoints through deltas.
  ProgrammerOptions o;
  o.queue.pending_pods = o.queue.all_local_pods = o.queue.untranslated_services = true;
  o.queue.services.vips_v4 = {ip4("10.96.0.10")};
  o.queue.services.ports = {uint32_t(6) << 16 | 80};
  churnKeepsTheModelEqualToAFullRender(o);
}

TEST(NftDeltaRender, NewQueueRulesTakeTheFullPath) {
  DeltaChurn churn(200, 3);
  ProgrammerOptions o;
  o.queue.untranslated_services = true;
  Harness h(o);
  ASSERT_TRUE(h.prog->sync(churn.ruleset()).ok());
  o.queue.services.vips_v4 = {ip4("10.96.0.10")};
  h.prog->setQueueRules(o.queue);
  std::vector<ir::RulesetDelta> deltas{churn.step()};
  auto r = h.prog->apply(churn.ruleset(), deltas);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_EQ(r->full_because, "queue rules changed");
  EXPECT_EQ(h.prog->current()->sets.at("service_vips_v4").ranges.size(), 1u);
  deltas = {churn.step()};
  r = h.prog->apply(churn.ruleset(), deltas);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
}

TEST(NftDeltaRender, AdjacentAddressesMergeAsRenderMergesThem) {
  RulesetBuilder b;
  uint32_t peers = b.peerSet({"10.0.1.0/24"}, "pods {app=web}");
  uint32_t in = b.program(ir::INGRESS, {{peers, 0, "shop/allow-web", 0}}, {"shop/allow-web"});
  b.endpoint("shop", "db", "10.0.9.1", in, 0);
  ir::Ruleset rs = b.rs;
  rs.set_revision(1);
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());

  // 10.0.2.0 joins: render merges it with the /24 into one interval.
  ir::RulesetDelta d;
  d.set_from_revision(1);
  d.set_to_revision(2);
  auto* psd = d.add_peer_sets();
  psd->set_id(peers);
  psd->add_add_v4()->set_address(ip4("10.0.2.0"));
  psd->mutable_add_v4(0)->set_prefix_len(32);
  auto* c = rs.mutable_peer_sets(0)->add_v4();
  *c = psd->add_v4(0);
  rs.set_revision(2);
  auto r = h.prog->apply(rs, std::span(&d, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(r->element_changes, 2u);  // the /24 out, [10.0.1.0, 10.0.2.0] in
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");

  // And leaves again: the /24 is back on its own.
  ir::RulesetDelta back;
  back.set_from_revision(2);
  back.set_to_revision(3);
  auto* out = back.add_peer_sets();
  out->set_id(peers);
  *out->add_remove_v4() = *c;
  rs.mutable_peer_sets(0)->mutable_v4()->RemoveLast();
  rs.set_revision(3);
  r = h.prog->apply(rs, std::span(&back, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");
  EXPECT_TRUE(elementMessagesOnly(h.transport->types.back()));
}

TEST(NftDeltaRender, APodSetIsAHashSetWhoseAdjacentKeysStayApart) {
  RulesetBuilder b;
  uint32_t peers = b.peerSet({"10.0.1.1", "10.0.1.2"}, "pods {app=web}");
  b.rs.mutable_peer_sets(int(peers) - 1)->set_hosts_only(true);
  uint32_t in = b.program(ir::INGRESS, {{peers, 0, "shop/allow-web", 0}}, {"shop/allow-web"});
  b.endpoint("shop", "db", "10.0.9.1", in, 0);
  ir::Ruleset rs = b.rs;
  rs.set_revision(1);
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());
  auto set_of = [&]() -> const SetModel* {
    for (const auto& [name, s] : h.prog->current()->sets)
      if (name.rfind("peers_", 0) == 0 && s.key == KeyType::Ipv4) return &s;
    return nullptr;
  };
  ASSERT_NE(set_of(), nullptr);
  EXPECT_FALSE(set_of()->interval);
  EXPECT_EQ(set_of()->ranges.size(), 2u);  // two keys, not one interval

  // A delta of one host address added to or removed from the set.
  auto hostDelta = [&](uint64_t from, const char* address, bool add) {
    ir::RulesetDelta d;
    d.set_from_revision(from);
    d.set_to_revision(from + 1);
    auto* psd = d.add_peer_sets();
    psd->set_id(peers);
    auto* c = add ? psd->add_add_v4() : psd->add_remove_v4();
    c->set_address(ip4(address));
    c->set_prefix_len(32);
    return d;
  };
  // 10.0.1.3 joins and 10.0.1.1 leaves: one key in, one key out, nothing merged.
  ir::RulesetDelta d = hostDelta(1, "10.0.1.3", true);
  const ir::Ipv4Cidr* add = &d.peer_sets(0).add_v4(0);
  *d.mutable_peer_sets(0)->add_remove_v4() = rs.peer_sets(0).v4(0);
  auto* set = rs.mutable_peer_sets(0);
  set->mutable_v4()->DeleteSubrange(0, 1);
  *set->add_v4() = *add;
  rs.set_revision(2);
  auto r = h.prog->apply(rs, std::span(&d, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(r->element_changes, 2u);
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");
  EXPECT_EQ(set_of()->ranges.size(), 2u);

  // Removing a key the set does not hold is a contradiction: the full path.
  ir::RulesetDelta bad = hostDelta(2, "10.0.1.9", false);
  rs.set_revision(3);
  r = h.prog->apply(rs, std::span(&bad, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");
}

/// shop/db (10.0.9.1), isolated for ingress by shop/allow-web, which admits
/// the one pod of `pods {app=web}` (10.0.1.1).
struct Shop {
  ir::Ruleset rs;
  uint32_t web = 0;        // the peer set
  uint32_t allow_web = 0;  // db's ingress program
  explicit Shop(uint64_t revision) {
    RulesetBuilder b;
    web = b.peerSet({"10.0.1.1"}, "pods {app=web}");
    allow_web = b.program(ir::INGRESS, {{web, 0, "shop/allow-web", 0}}, {"shop/allow-web"});
    b.endpoint("shop", "db", "10.0.9.1", allow_web, 0);
    rs = b.rs;
    rs.set_revision(revision);
  }
};

TEST(NftDeltaRender, WhatADeltaCannotExpressTakesTheFullPath) {
  Shop shop(5);
  ir::Ruleset rs = shop.rs;
  const uint32_t peers = shop.web;
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());

  // A delta that does not start at the programmed revision.
  ir::RulesetDelta gap;
  gap.set_from_revision(3);
  gap.set_to_revision(6);
  rs.set_revision(6);
  auto r = h.prog->apply(rs, std::span(&gap, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_EQ(r->full_because, "revisions do not chain");

  // A second endpoint on the same address: render keeps the first one.
  ir::RulesetDelta same;
  same.set_from_revision(6);
  same.set_to_revision(7);
  ir::Endpoint twin = rs.endpoints(0);
  twin.set_name("db-twin");
  twin.set_ingress_program(0);
  *same.add_upserted_endpoints() = twin;
  *rs.add_endpoints() = twin;
  rs.set_revision(7);
  r = h.prog->apply(rs, std::span(&same, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_EQ(r->full_because, "endpoints would share an address");
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");

  // A delta that removes an address the set does not hold.
  rs.mutable_endpoints()->RemoveLast();
  ASSERT_TRUE(h.prog->sync(rs).ok());
  ir::RulesetDelta wrong;
  wrong.set_from_revision(7);
  wrong.set_to_revision(8);
  auto* psd = wrong.add_peer_sets();
  psd->set_id(peers);
  psd->add_remove_v4()->set_address(ip4("10.0.1.77"));
  psd->mutable_remove_v4(0)->set_prefix_len(32);
  rs.set_revision(8);
  r = h.prog->apply(rs, std::span(&wrong, 1));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_NE(r->full_because.find("does not hold"), std::string::npos) << r->full_because;
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");
}

TEST(NftDeltaRender, NewProgramsGetRenderNamesAndANewUseOfASetKeepsItsName) {
  Shop shop(1);
  ir::Ruleset rs = shop.rs;
  const uint32_t web = shop.web;
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());

  // A pod selected by allow-web and deny-egress: a new egress program, a new
  // peer set and port set it uses, and a new ingress program reusing `web`.
  auto step = [&](uint64_t from, auto&& build) {
    ir::RulesetDelta d;
    d.set_from_revision(from);
    d.set_to_revision(from + 1);
    build(d);
    rs.set_revision(from + 1);
    return h.prog->apply(rs, std::span(&d, 1));
  };
  auto program = [&](ir::Direction dir, std::vector<testing::RuleSpec> rules,
                     std::vector<std::string> isolated, ir::RulesetDelta& d) {
    RulesetBuilder nb;
    nb.rs = rs;
    uint32_t id = nb.program(dir, rules, isolated);
    rs = nb.rs;
    *d.add_new_programs() = rs.programs(int(id) - 1);
    return id;
  };
  auto r = step(1, [&](ir::RulesetDelta& d) {
    RulesetBuilder nb;
    nb.rs = rs;
    uint32_t dns = nb.peerSet({"10.0.0.10"}, "kube-dns");
    uint32_t port = nb.portSet({{ir::UDP, 53, 53}});
    rs = nb.rs;
    *d.add_new_peer_sets() = rs.peer_sets(int(dns) - 1);
    *d.add_new_port_sets() = rs.port_sets(int(port) - 1);
    uint32_t eg =
        program(ir::EGRESS, {{dns, port, "shop/deny-egress", 0}}, {"shop/deny-egress"}, d);
    uint32_t in2 = program(ir::INGRESS, {{web, 0, "shop/allow-web", 0}, {0, port, "shop/dns", 0}},
                           {"shop/allow-web", "shop/dns"}, d);
    ir::Endpoint* e = rs.add_endpoints();
    e->set_namespace_("shop");
    e->set_name("api");
    e->add_ipv4(ip4("10.0.9.2"));
    e->set_ingress_program(in2);
    e->set_egress_program(eg);
    *d.add_upserted_endpoints() = *e;
  });
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_FALSE(r->elements_only);  // new sets and chains, before the jumps to them
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");

  // Another policy's rule now shares `web`: a set is named by what it holds
  // (its key), not by its uses, so the new program is one more chain and no
  // existing set or chain is renamed.
  const size_t sets_before = h.prog->current()->sets.size();
  r = step(2, [&](ir::RulesetDelta& d) {
    program(ir::INGRESS, {{web, 0, "shop/other", 2}}, {"shop/other"}, d);
  });
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(h.prog->current()->sets.size(), sets_before);
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");
}

TEST(NftDeltaRender, RetiredProgramsAndSetsLeaveTheTableInTheSameDelta) {
  Shop shop(1);
  ir::Ruleset rs = shop.rs;
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());
  const size_t sets = h.prog->current()->sets.size(), chains = h.prog->current()->chains.size();

  // shop/api arrives with an egress program of its own and a peer set only it uses.
  ir::RulesetDelta add;
  add.set_from_revision(1);
  add.set_to_revision(2);
  RulesetBuilder nb;
  nb.rs = rs;
  const uint32_t dns = nb.peerSet({"10.0.0.10"}, "kube-dns");
  const uint32_t eg = nb.program(ir::EGRESS, {{dns, 0, "shop/dns", 0}}, {"shop/dns"});
  nb.endpoint("shop", "api", "10.0.9.2", 0, eg);
  rs = nb.rs;
  rs.set_revision(2);
  *add.add_new_peer_sets() = rs.peer_sets(int(dns) - 1);
  *add.add_new_programs() = rs.programs(int(eg) - 1);
  *add.add_upserted_endpoints() = rs.endpoints(rs.endpoints_size() - 1);
  auto r = h.prog->apply(rs, std::span(&add, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(h.prog->current()->sets.size(), sets + 2);  // dns v4 and v6
  EXPECT_EQ(h.prog->current()->chains.size(), chains + 1);

  // It goes, and the compiler retires what only it used, in the same delta.
  ir::RulesetDelta gone;
  gone.set_from_revision(2);
  gone.set_to_revision(3);
  auto* ref = gone.add_removed_endpoints();
  ref->set_namespace_("shop");
  ref->set_name("api");
  rs.mutable_endpoints()->RemoveLast();
  ir::Program& p = *rs.mutable_programs(int(eg) - 1);
  p.clear_rules();
  p.clear_isolated_by();
  p.set_retired(true);
  ir::PeerSet& ps = *rs.mutable_peer_sets(int(dns) - 1);
  ps.clear_v4();
  ps.set_retired(true);
  gone.add_retired_programs(eg);
  gone.add_retired_peer_sets(dns);
  rs.set_revision(3);
  r = h.prog->apply(rs, std::span(&gone, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_EQ(tableDifference(*h.prog->current(), rs), "");  // render skips the retired
  EXPECT_EQ(h.prog->current()->sets.size(), sets);
  EXPECT_EQ(h.prog->current()->chains.size(), chains);
  // The dispatch entry went before the chain it jumped to, in one batch.
  const auto& types = h.transport->types.back();
  auto first = [&](uint16_t t) { return std::find(types.begin(), types.end(), t) - types.begin(); };
  EXPECT_LT(first(NFT_MSG_DELSETELEM), first(NFT_MSG_DELCHAIN));
  EXPECT_LT(first(NFT_MSG_DELCHAIN), first(NFT_MSG_DELSET));
}

TEST(NftDeltaRender, ARejectedBatchIsNeverResentTheNextApplyResynchronises) {
  Shop shop(1);
  ir::Ruleset rs = shop.rs;
  const uint32_t in = shop.allow_web;
  Harness h;
  ASSERT_TRUE(h.prog->sync(rs).ok());
  const TableModel before = *h.prog->current();

  ir::RulesetDelta add;
  add.set_from_revision(1);
  add.set_to_revision(2);
  ir::Endpoint web;
  web.set_namespace_("shop");
  web.set_name("web");
  web.add_ipv4(ip4("10.0.9.2"));
  web.set_ingress_program(in);
  *add.add_upserted_endpoints() = web;
  ir::Ruleset next = rs;
  *next.add_endpoints() = web;
  next.set_revision(2);

  // A rejection means the kernel is not what the model says (issue 11): the
  // model is forgotten, and the same delta is never sent again on top of it.
  h.transport->reject = 1;
  auto r = h.prog->apply(next, std::span(&add, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(h.prog->current().has_value());

  r = h.prog->apply(next, std::span(&add, 1));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(r->from_ir_delta);
  EXPECT_FALSE(r->full_because.empty());
  ASSERT_TRUE(h.prog->current().has_value());
  EXPECT_EQ(tableDifference(*h.prog->current(), next), "");
  EXPECT_FALSE(h.prog->current()->sets.at("ingress_dispatch_v4") ==
               before.sets.at("ingress_dispatch_v4"));
}

}  // namespace
}  // namespace palisade::datapath::nft
