// Batch builder: the bytes parse back with libnftnl into the objects of the
// model; a fake transport scripts kernel acks and errors.
#include "datapath/nft/batch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <functional>
#include <map>

#include "datapath/nft/handles.h"
#include "datapath/nft/programmer.h"
#include "datapath/nft/render.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

using testing::ip4;
using testing::sampleRuleset;

/// Walks attributes without libmnl's C macros (they assign void* to nlattr*).
template <class F>
void forEachAttr(const void* start, int len, F f) {
  const auto* a = static_cast<const nlattr*>(start);
  while (mnl_attr_ok(a, len)) {
    f(a);
    len -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
  }
}
template <class F>
void forEachMsgAttr(const nlmsghdr* nlh, F f) {
  forEachAttr(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)),
              static_cast<int>(nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(nfgenmsg))), f);
}
/// The set an element message names, by name or by the id of a set created
/// earlier in the batch (`ids`: id → name).
std::string elemSetName(const nlmsghdr* nlh, const std::map<uint32_t, std::string>& ids) {
  std::string n;
  forEachMsgAttr(nlh, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET) n = mnl_attr_get_str(a);
    if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET_ID) {
      auto it = ids.find(ntohl(mnl_attr_get_u32(a)));
      n = it == ids.end() ? "unknown set id" : it->second;
    }
  });
  return n;
}

uint16_t msgType(const nlmsghdr* nlh) { return NFNL_MSG_TYPE(nlh->nlmsg_type); }

struct Parsed {
  std::vector<uint16_t> types;
  std::map<std::string, uint32_t> set_flags;
  std::map<std::string, uint32_t> set_key_type;
  std::map<std::string, size_t> elements;                       // raw element count per set (add)
  std::map<std::string, std::vector<std::string>> chain_rules;  // chain → expr names per rule
  std::map<std::string, uint32_t> chain_hook;
  std::vector<std::string> lookups;
  std::map<uint32_t, uint16_t> seq_type;
  std::map<uint32_t, std::string> set_ids;  // NFTA_SET_ID → name
};

Parsed parse(const Batch& b) {
  Parsed p;
  b.forEach([&](const nlmsghdr* nlh) {
    p.types.push_back(nlh->nlmsg_type);
    p.seq_type[nlh->nlmsg_seq] = msgType(nlh);
    switch (msgType(nlh)) {
      case NFT_MSG_NEWSET: {
        SetPtr s = makeSet();
        ASSERT_EQ(nftnl_set_nlmsg_parse(nlh, s.get()), 0);
        std::string n = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
        p.set_flags[n] = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
        p.set_key_type[n] = nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE);
        p.set_ids[nftnl_set_get_u32(s.get(), NFTNL_SET_ID)] = n;
        break;
      }
      case NFT_MSG_NEWSETELEM: {
        // libnftnl numbers element nests 1, 2, 3... when building but expects
        // NFTA_LIST_ELEM on parse, so walk the attributes with libmnl instead.
        std::string n = elemSetName(nlh, p.set_ids);
        forEachMsgAttr(nlh, [&](const nlattr* a) {
          if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS) return;
          forEachAttr(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a),
                      [&](const nlattr*) { ++p.elements[n]; });
        });
        break;
      }
      case NFT_MSG_NEWCHAIN: {
        ChainPtr c = makeChain();
        ASSERT_EQ(nftnl_chain_nlmsg_parse(nlh, c.get()), 0);
        std::string n = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
        p.chain_rules[n];
        if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM))
          p.chain_hook[n] = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM);
        break;
      }
      case NFT_MSG_NEWRULE: {
        RulePtr r = makeRule();
        ASSERT_EQ(nftnl_rule_nlmsg_parse(nlh, r.get()), 0);
        std::string exprs;
        auto* it = nftnl_expr_iter_create(r.get());
        for (auto* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
          std::string name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
          exprs += name + " ";
          if (name == "lookup") p.lookups.push_back(nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET));
        }
        nftnl_expr_iter_destroy(it);
        p.chain_rules[nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)].push_back(exprs);
        break;
      }
      default:
        break;
    }
  });
  return p;
}

TEST(NftBatch, ReplaceParsesBackToTheModel) {
  auto m = render(sampleRuleset());
  ASSERT_TRUE(m.ok());
  Batch b = buildReplace(*m, {100, 1024});
  Parsed p = parse(b);
  ASSERT_GE(p.types.size(), 6u);
  EXPECT_EQ(p.types.front(), NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(p.types.back(), NFNL_MSG_BATCH_END);
  EXPECT_EQ(msgType(reinterpret_cast<const nlmsghdr*>(b.data())), NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(p.seq_type[101], NFT_MSG_NEWTABLE);
  EXPECT_EQ(p.seq_type[102], NFT_MSG_DELTABLE);
  EXPECT_EQ(p.seq_type[103], NFT_MSG_NEWTABLE);
  EXPECT_EQ(b.firstSeq(), 100u);
  EXPECT_EQ(b.lastSeq(), 100u + b.messageCount() + 1);

  EXPECT_EQ(p.set_flags.size(), m->sets.size());
  for (const auto& [name, s] : m->sets) {
    ASSERT_TRUE(p.set_flags.count(name)) << name;
    if (s.is_map) {
      EXPECT_TRUE(p.set_flags[name] & NFT_SET_MAP);
      EXPECT_EQ(p.elements[name], s.jumps.size()) << name;
    } else {
      EXPECT_TRUE(p.set_flags[name] & NFT_SET_INTERVAL);
    }
    if (s.key == KeyType::ProtoService) {
      EXPECT_TRUE(p.set_flags[name] & NFT_SET_CONCAT);
      EXPECT_EQ(p.set_key_type[name], (12u << 6) | 13u);
      EXPECT_EQ(p.elements[name], s.ranges.size());  // key + key_end: one element each
    }
  }
  // Peer set 192.168.0.0/16 + 172.16.0.5: two intervals → 4 rbtree elements.
  size_t four = 0;
  for (const auto& [name, n] : p.elements) four += name.rfind("peers_", 0) == 0 && n == 4;
  EXPECT_GE(four, 1u);

  ASSERT_EQ(p.chain_rules.size(), m->chains.size());
  for (const auto& [name, c] : m->chains)
    EXPECT_EQ(p.chain_rules[name].size(), c.rules.size()) << name;
  EXPECT_EQ(p.chain_hook["postrouting"], 4u);  // NF_INET_POST_ROUTING
  EXPECT_EQ(p.chain_hook["input"], 1u);
  EXPECT_EQ(p.chain_rules["postrouting"][0], "ct bitwise cmp immediate ");
  // Neighbour discovery: nfproto, hop limit, l4proto, icmpv6 type range.
  EXPECT_EQ(p.chain_rules["postrouting"][1],
            "meta cmp payload cmp meta cmp payload cmp cmp immediate ");
  EXPECT_EQ(p.chain_rules["postrouting"][4], "meta cmp payload lookup ");
  for (const auto& l : p.lookups) EXPECT_TRUE(m->sets.count(l)) << l;
  // A program rule with peers and ports: nfproto, saddr, lookup, l4proto . dport, lookup, return.
  bool found = false;
  for (const auto& [name, rules] : p.chain_rules)
    for (const auto& r : rules)
      found |= r == "meta cmp payload lookup meta payload lookup immediate ";
  EXPECT_TRUE(found);

  EXPECT_NE(b.describe(101).find("adding table inet palisade"), std::string::npos);
  EXPECT_EQ(b.describe(100), "committing the batch");
}

TEST(NftBatch, LargeSetsAreSplitAcrossMessages) {
  testing::RulesetBuilder rb;
  std::vector<std::string> cidrs;
  for (int i = 0; i < 5000; ++i)
    cidrs.push_back("10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1");
  uint32_t peers = rb.peerSet(cidrs);
  rb.program(ir::INGRESS, {{peers, 0, "a/b", 0}});
  auto m = render(rb.rs);
  ASSERT_TRUE(m.ok());
  Batch b = buildReplace(*m, {1, 1000});
  Parsed p = parse(b);
  size_t elem_msgs = 0;
  for (auto t : p.types) elem_msgs += NFNL_MSG_TYPE(t) == NFT_MSG_NEWSETELEM;
  EXPECT_EQ(elem_msgs, 5u);  // 5000 intervals / 1000 per message
  size_t total = 0;
  for (const auto& [name, n] : p.elements) total += n;
  EXPECT_EQ(total, 10000u);  // start + end per host
}

/// A fake kernel: answers each batch with `script`, or acks its last message.
class FakeTransport final : public Transport {
 public:
  std::function<std::vector<Ack>(const std::vector<const nlmsghdr*>&)> script;
  std::vector<std::vector<uint8_t>> batches;

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t> batch) override {
    batches.emplace_back(batch.begin(), batch.end());
    std::vector<const nlmsghdr*> msgs;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(batches.back().data());
    int len = static_cast<int>(batches.back().size());
    while (mnl_nlmsg_ok(nlh, len)) {
      msgs.push_back(nlh);
      nlh = mnl_nlmsg_next(nlh, &len);
    }
    if (script) return script(msgs);
    return std::vector<Ack>{{msgs[msgs.size() - 2]->nlmsg_seq, 0, ""}};
  }
  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t>) override {
    return Error(EOPNOTSUPP, "fake");
  }
  uint32_t portId() const override { return 1; }
};

TEST(NftProgrammer, FirstSyncReplacesThenDeltas) {
  auto fake = std::make_unique<FakeTransport>();
  FakeTransport* f = fake.get();
  Programmer prog(std::move(fake), {});
  ir::Ruleset rs = sampleRuleset();
  auto r1 = prog.sync(rs);
  ASSERT_TRUE(r1.ok()) << r1.error().str();
  EXPECT_EQ(r1->kind, SyncReport::Kind::Replace);
  // Unchanged: nothing sent.
  auto r2 = prog.sync(rs);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->kind, SyncReport::Kind::Unchanged);
  EXPECT_EQ(f->batches.size(), 1u);
  // One pod removed: a small element batch.
  rs.mutable_endpoints()->DeleteSubrange(1, 1);
  auto r3 = prog.sync(rs);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->kind, SyncReport::Kind::Delta);
  EXPECT_TRUE(r3->elements_only);
  EXPECT_EQ(r3->messages, 1u);
  ASSERT_EQ(f->batches.size(), 2u);
  const auto* msg = reinterpret_cast<const nlmsghdr*>(f->batches[1].data());
  int len = static_cast<int>(f->batches[1].size());
  msg = mnl_nlmsg_next(msg, &len);
  EXPECT_EQ(NFNL_MSG_TYPE(msg->nlmsg_type), NFT_MSG_DELSETELEM);
  EXPECT_TRUE(msg->nlmsg_flags & NLM_F_ACK);  // the last message asks for the success ack
}

TEST(NftProgrammer, ErrorAckNamesTheIrObject) {
  auto fake = std::make_unique<FakeTransport>();
  FakeTransport* f = fake.get();
  Programmer prog(std::move(fake), {});
  ir::Ruleset rs = sampleRuleset();
  ASSERT_TRUE(prog.sync(rs).ok());
  TableModel before = *prog.current();

  // Reject the first element added to a peer set.
  f->script = [](const std::vector<const nlmsghdr*>& msgs) {
    for (const auto* m : msgs) {
      if (NFNL_MSG_TYPE(m->nlmsg_type) != NFT_MSG_NEWSETELEM) continue;
      std::string name = elemSetName(m, {});  // a delta: existing sets, by name
      if (name.rfind("peers_", 0) == 0) return std::vector<Ack>{{m->nlmsg_seq, EINVAL, ""}};
    }
    return std::vector<Ack>{};
  };
  auto* v4 = rs.mutable_peer_sets(0)->add_v4();
  v4->set_address(ip4("10.9.9.9"));
  v4->set_prefix_len(32);
  auto r = prog.sync(rs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), EINVAL);
  std::string msg = r.error().str();
  EXPECT_NE(msg.find("programming table inet palisade: adding element to set peers_"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(program 1 rule 0, policy shop/allow-db): EINVAL"), std::string::npos) << msg;
  // A rejection means the kernel is not what we believed: the model is
  // forgotten, and the next program is a full resynchronisation, never the
  // same stale delta again.
  EXPECT_FALSE(prog.current().has_value());
  f->script = nullptr;
  auto again = prog.sync(rs);
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_EQ(again->kind, SyncReport::Kind::Replace);
  EXPECT_FALSE(diff(before, *prog.current()).empty());

  // EPERM says what is missing.
  f->script = [](const std::vector<const nlmsghdr*>& msgs) {
    return std::vector<Ack>{{msgs[1]->nlmsg_seq, EPERM, ""}};
  };
  auto r2 = prog.replace(rs);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().str().find("CAP_NET_ADMIN"), std::string::npos);

  // No ack at all: state unknown, next sync replaces.
  f->script = [](const std::vector<const nlmsghdr*>&) { return std::vector<Ack>{}; };
  rs.mutable_endpoints()->DeleteSubrange(0, 1);
  auto r3 = prog.sync(rs);
  ASSERT_FALSE(r3.ok());
  EXPECT_FALSE(prog.current().has_value());
  f->script = nullptr;
  auto r4 = prog.sync(rs);
  ASSERT_TRUE(r4.ok());
  EXPECT_EQ(r4->kind, SyncReport::Kind::Replace);
}

TEST(NftProgrammer, CommitFailureIsReportedOnBegin) {
  auto fake = std::make_unique<FakeTransport>();
  fake->script = [](const std::vector<const nlmsghdr*>& msgs) {
    return std::vector<Ack>{{msgs[0]->nlmsg_seq, EOPNOTSUPP, "reject not allowed here"}};
  };
  Programmer prog(std::move(fake), {});
  auto r = prog.sync(sampleRuleset());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("committing the batch [reject not allowed here]"),
            std::string::npos)
      << r.error().str();
}

}  // namespace
}  // namespace palisade::datapath::nft
