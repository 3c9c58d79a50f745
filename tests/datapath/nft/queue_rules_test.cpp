// Queue rules (queue_rules.h): off by default, placed before the dispatch
// maps, their sets filled from the ruleset, lowered to the compat NFQUEUE
// target (or the native queue expression) and rendered as nft text.
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>

#include <cstring>

#include "datapath/nft/batch.h"
#include "datapath/nft/handles.h"
#include "datapath/nft/render.h"
#include "datapath/nft/text.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

using testing::ip4;

ir::Ruleset ruleset() {
  testing::RulesetBuilder b;
  b.endpoint("ns", "a", "10.8.0.2", 0, 0);
  b.endpoint("ns", "b", "fd00::2", 0, 0);
  b.nodeAddress("10.8.0.1");
  auto* c = b.rs.mutable_node()->add_pod_cidrs_v4();
  c->set_address(ip4("10.8.0.0"));
  c->set_prefix_len(24);
  return b.rs;
}

TEST(NftQueueRules, OffByDefault) {
  auto t = render(ruleset());
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->sets.count("pods_v4"));
  EXPECT_FALSE(t->sets.count("known_v4"));
  for (const auto& r : t->chains.at("postrouting").rules)
    EXPECT_TRUE(r.kind != RuleModel::Kind::QueueUnknown &&
                r.kind != RuleModel::Kind::QueueAddrInSet);
}

TEST(NftQueueRules, PendingAndUserspaceRulesBeforeDispatch) {
  RenderOptions o;
  o.queue.pending_pods = true;
  o.queue.all_local_pods = true;
  o.queue.target = {2, 4, true, false};
  auto t = render(ruleset(), o);
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_EQ(t->sets.at("pod_cidrs_v4").ranges, (std::vector<Range>{v4Prefix(ip4("10.8.0.0"), 24)}));
  // known = pods + node addresses; pods = pods only.
  EXPECT_EQ(t->sets.at("known_v4").ranges,
            (std::vector<Range>{{ip4("10.8.0.1"), ip4("10.8.0.2")}}));
  EXPECT_EQ(t->sets.at("pods_v4").ranges, (std::vector<Range>{{ip4("10.8.0.2"), ip4("10.8.0.2")}}));
  EXPECT_EQ(t->sets.at("pods_v6").ranges.size(), 1u);
  const auto& rules = t->chains.at("postrouting").rules;
  size_t first_queue = rules.size(), first_dispatch = rules.size(), queues = 0;
  for (size_t i = 0; i < rules.size(); ++i) {
    bool q = rules[i].kind == RuleModel::Kind::QueueUnknown ||
             rules[i].kind == RuleModel::Kind::QueueAddrInSet;
    if (q) {
      ++queues;
      first_queue = std::min(first_queue, i);
      EXPECT_EQ(rules[i].queue, o.queue.target);
    }
    if (rules[i].kind == RuleModel::Kind::DispatchVmap)
      first_dispatch = std::min(first_dispatch, i);
  }
  EXPECT_EQ(queues, 8u);  // pending: v4/v6 x saddr/daddr; user-space: the same
  EXPECT_LT(first_queue, first_dispatch);
  EXPECT_EQ(rules[0].kind, RuleModel::Kind::CtEstablishedAccept);
  // The layout hash (adopt compares it) changes with the queue rules.
  auto plain = render(ruleset());
  EXPECT_NE(plain->chains.at("postrouting").comment, t->chains.at("postrouting").comment);

  std::string text = renderText(*t);
  EXPECT_NE(text.find("ct state new ip saddr @pod_cidrs_v4 ip saddr != @known_v4 queue flags "
                      "bypass,fanout to 2-5"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ct state new ip6 daddr @pods_v6 queue flags bypass,fanout to 2-5"),
            std::string::npos);
}

/// The expressions of every rule of `chain` in the replace batch, by name.
std::vector<std::vector<std::string>> ruleExprs(const Batch& b, const std::string& chain,
                                                std::vector<std::vector<uint8_t>>* tg_info) {
  std::vector<std::vector<std::string>> out;
  b.forEach([&](const nlmsghdr* nlh) {
    if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWRULE) return;
    RulePtr r = makeRule();
    ASSERT_EQ(nftnl_rule_nlmsg_parse(nlh, r.get()), 0);
    if (chain != nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)) return;
    std::vector<std::string> names;
    nftnl_expr_iter* it = nftnl_expr_iter_create(r.get());
    for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
      names.push_back(nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
      if (names.back() == "target" && tg_info) {
        EXPECT_STREQ(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "NFQUEUE");
        EXPECT_EQ(nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV), 3u);
        uint32_t len = 0;
        const auto* p = static_cast<const uint8_t*>(nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len));
        tg_info->emplace_back(p, p + len);
      }
    }
    nftnl_expr_iter_destroy(it);
    out.push_back(std::move(names));
  });
  return out;
}

TEST(NftQueueRules, CompatTargetCarriesQueueNumbersAndFlags) {
  RenderOptions o;
  o.queue.pending_pods = true;
  o.queue.target = {3, 2, true, false};
  auto t = render(ruleset(), o);
  ASSERT_TRUE(t.ok());
  std::vector<std::vector<uint8_t>> infos;
  auto rules = ruleExprs(buildReplace(*t, {}), "postrouting", &infos);
  size_t with_target = 0;
  for (const auto& names : rules) {
    if (names.empty() || names.back() != "target") continue;
    ++with_target;
    // ct state new, nfproto check, address load, lookup pod CIDRs, inverted lookup known, target.
    EXPECT_EQ(names, (std::vector<std::string>{"ct", "bitwise", "cmp", "meta", "cmp", "payload",
                                               "lookup", "lookup", "target"}));
  }
  EXPECT_EQ(with_target, 4u);
  ASSERT_EQ(infos.size(), 4u);
  ASSERT_EQ(infos[0].size(), 8u);  // xt_NFQ_info_v3, padded to 8
  uint16_t v[3];
  std::memcpy(v, infos[0].data(), sizeof v);
  EXPECT_EQ(v[0], 3);    // queuenum
  EXPECT_EQ(v[1], 2);    // queues_total
  EXPECT_EQ(v[2], 0x3);  // NFQ_FLAG_BYPASS | NFQ_FLAG_CPU_FANOUT
}

TEST(NftQueueRules, NativeQueueExpressionWhenTheKernelHasIt) {
  RenderOptions o;
  o.queue.all_local_pods = true;
  o.queue.target = {0, 1, false, true};
  auto t = render(ruleset(), o);
  ASSERT_TRUE(t.ok());
  auto rules = ruleExprs(buildReplace(*t, {}), "input", nullptr);
  size_t native = 0;
  for (const auto& names : rules) native += !names.empty() && names.back() == "queue";
  EXPECT_EQ(native, 4u);
}

TEST(NftQueueRules, UntranslatedServiceTrafficGoesToTheQueue) {
  RenderOptions o;
  o.queue.untranslated_services = true;
  o.queue.target = {0, 1, false, false};
  uint32_t tcp80 = uint32_t(IPPROTO_TCP) << 16 | 80, udp53 = uint32_t(IPPROTO_UDP) << 16 | 53;
  o.queue.services.vips_v4 = {ip4("10.96.0.11"), ip4("10.96.0.10"), ip4("10.96.0.10")};
  o.queue.services.vips_v6 = {(U128(0xfd00) << 112) | 0xa};
  o.queue.services.ports = {udp53, tcp80, tcp80};
  o.queue.services.node_ports = {uint32_t(IPPROTO_TCP) << 16 | 30080};
  auto t = render(ruleset(), o);
  ASSERT_TRUE(t.ok()) << t.error().str();
  // Sorted, merged (adjacent addresses are one interval), duplicates gone.
  EXPECT_EQ(t->sets.at("service_vips_v4").ranges,
            (std::vector<Range>{{ip4("10.96.0.10"), ip4("10.96.0.11")}}));
  EXPECT_EQ(t->sets.at("service_vips_v6").ranges.size(), 1u);
  EXPECT_EQ(t->sets.at("service_ports").ranges,
            (std::vector<Range>{{tcp80, tcp80}, {udp53, udp53}}));
  EXPECT_EQ(t->sets.at("node_ports").key, KeyType::ProtoService);
  EXPECT_FALSE(t->sets.count("known_v4"));  // pending pods stay off

  std::vector<std::string> sets;
  for (const auto& r : t->chains.at("input").rules)
    if (r.kind == RuleModel::Kind::QueueServicePort) {
      EXPECT_EQ(r.addr, Addr::Daddr);
      sets.push_back(r.set + "/" + r.ports);
    }
  EXPECT_EQ(sets, (std::vector<std::string>{"service_vips_v4/service_ports",
                                            "service_vips_v6/service_ports", "node_v4/node_ports",
                                            "node_v6/node_ports"}));
  for (const auto& names : ruleExprs(buildReplace(*t, {}), "postrouting", nullptr)) {
    if (names.empty() || names.back() != "target") continue;
    // ct state new, nfproto check, daddr, lookup, l4proto, dport, lookup proto . port, target.
    EXPECT_EQ(names, (std::vector<std::string>{"ct", "bitwise", "cmp", "meta", "cmp", "payload",
                                               "lookup", "meta", "payload", "lookup", "target"}));
  }
  std::string text = renderText(*t);
  EXPECT_NE(text.find("ct state new ip daddr @service_vips_v4 meta l4proto . th dport "
                      "@service_ports queue to 0"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("ct state new ip6 daddr @node_v6 meta l4proto . th dport @node_ports queue to 0"),
      std::string::npos);

  // The addresses are set elements: new Services change elements, not the layout.
  RenderOptions more = o;
  more.queue.services.vips_v4.push_back(ip4("10.96.5.5"));
  auto t2 = render(ruleset(), more);
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(t2->chains.at("postrouting").comment, t->chains.at("postrouting").comment);
}

}  // namespace
}  // namespace palisade::datapath::nft
