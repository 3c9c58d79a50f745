// Element messages: every element list stays under the 16-bit nest length,
// and the bytes parse back with libnftnl into exactly the model's elements.
#include "datapath/nft/elements.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <map>

#include "datapath/nft/batch.h"
#include "datapath/nft/handles.h"
#include "datapath/nft/render.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::datapath::nft {
namespace {

/// IPv6 is the heavy case: 16-byte keys; 1,024 dispatch entries are ~75 KB.
TableModel bigV6Table(int pods) {
  testing::RulesetBuilder rb;
  std::vector<std::string> peers;
  // Odd host numbers: no two addresses adjacent, so no intervals merge.
  for (int i = 0; i < pods; ++i)
    peers.push_back("fd00:10:" + std::to_string(i / 1000) +
                    "::" + std::to_string(2 * (i % 1000) + 1));
  uint32_t set = rb.peerSet(peers);
  uint32_t ports = rb.portSet({{ir::TCP, 80, 80}, {ir::UDP, 53, 53}, {ir::TCP, 8000, 8080}});
  uint32_t in = rb.program(ir::INGRESS, {{set, ports, "ns/allow", 0}}, {"ns/allow"});
  uint32_t eg = rb.program(ir::EGRESS, {{set, 0, "ns/egress", 0}}, {"ns/egress"});
  for (const auto& ip : peers) rb.endpoint("ns", "p" + ip, ip, in, eg);
  auto m = render(rb.rs);
  EXPECT_TRUE(m.ok());
  return std::move(*m);
}

struct ElementCounts {
  std::map<std::string, size_t> per_set;  // elements parsed back, by set
  size_t messages = 0;
  size_t max_list_bytes = 0;
};

ElementCounts parseElements(const Batch& b) {
  ElementCounts out;
  std::map<uint32_t, std::string> set_ids;  // sets created in the batch: id → name
  b.forEach([&](const nlmsghdr* nlh) {
    if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSET) {
      SetPtr s = makeSet();
      EXPECT_EQ(nftnl_set_nlmsg_parse(nlh, s.get()), 0);
      set_ids[nftnl_set_get_u32(s.get(), NFTNL_SET_ID)] =
          nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
      return;
    }
    if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM) return;
    ++out.messages;
    // The element list must end exactly where the message ends: a wrapped
    // 16-bit length would end it early.
    const auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
    int len = static_cast<int>(nlh->nlmsg_len - MNL_NLMSG_HDRLEN - MNL_ALIGN(sizeof(nfgenmsg)));
    while (mnl_attr_ok(a, len)) {
      if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS) {
        size_t to_end =
            reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len - reinterpret_cast<const char*>(a);
        EXPECT_EQ(a->nla_len, to_end);
        out.max_list_bytes = std::max<size_t>(out.max_list_bytes, a->nla_len);
      }
      len -= static_cast<int>(MNL_ALIGN(a->nla_len));
      a = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(a) + MNL_ALIGN(a->nla_len));
    }
    SetPtr s = makeSet();
    EXPECT_EQ(nftnl_set_elems_nlmsg_parse(nlh, s.get()), 0);
    // A set created earlier in the batch is named by its id (elements.h).
    std::string name = nftnl_set_is_set(s.get(), NFTNL_SET_NAME)
                           ? nftnl_set_get_str(s.get(), NFTNL_SET_NAME)
                           : set_ids[nftnl_set_get_u32(s.get(), NFTNL_SET_ID)];
    nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s.get());
    for (auto* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it))
      ++out.per_set[name];
    nftnl_set_elems_iter_destroy(it);
  });
  return out;
}

TEST(NftElements, ListsStayUnder64KiBAndEveryElementParsesBack) {
  TableModel m = bigV6Table(5000);
  Batch b = buildReplace(m);
  ElementCounts c = parseElements(b);
  EXPECT_LE(c.max_list_bytes, 65535u);
  EXPECT_GT(c.max_list_bytes, 60000u);  // messages are filled, not split needlessly
  for (const auto& [name, s] : m.sets) {
    // rbtree intervals: a start and an end element each (the end is omitted
    // only for a range ending at the top of the key space).
    size_t want = s.is_map
                      ? s.jumps.size()
                      : (s.key == KeyType::ProtoService ? s.ranges.size() : 2 * s.ranges.size());
    EXPECT_EQ(c.per_set[name], want) << name;
  }
  EXPECT_EQ(m.sets.at("ingress_dispatch_v6").jumps.size(), 5000u);
}

TEST(NftElements, PerMessageCountStillApplies) {
  TableModel m = bigV6Table(300);
  BatchOptions o;
  o.elements_per_message = 100;
  ElementCounts c = parseElements(buildReplace(m, o));
  // 300 peers (v6 set) + 300 + 300 dispatch entries, 3 port ranges: 3 + 3 + 3 + 1.
  EXPECT_EQ(c.messages, 10u);
}

TEST(NftElements, KeysInRegisterLayout) {
  uint8_t b[16];
  ASSERT_EQ(encodeKeyTo(KeyType::Ipv4, 0x0a000102, b), 4u);
  EXPECT_EQ(std::vector<uint8_t>(b, b + 4), (std::vector<uint8_t>{10, 0, 1, 2}));
  ASSERT_EQ(encodeKeyTo(KeyType::ProtoService, (U128(6) << 16) | 8080, b), 8u);
  EXPECT_EQ(std::vector<uint8_t>(b, b + 8), (std::vector<uint8_t>{6, 0, 0, 0, 0x1f, 0x90, 0, 0}));
  ASSERT_EQ(encodeKeyTo(KeyType::Ipv6, U128(1), b), 16u);
  EXPECT_EQ(b[15], 1);
  EXPECT_EQ(b[0], 0);
  // The same bytes as the vector encoder readback decodes.
  for (U128 v : {U128(0), U128(0x0a000102), (U128(17) << 16) | 53})
    for (KeyType k : {KeyType::Ipv4, KeyType::ProtoService}) {
      uint32_t len = encodeKeyTo(k, v, b);
      EXPECT_EQ(std::vector<uint8_t>(b, b + len), encodeKey(k, v));
    }
}

}  // namespace
}  // namespace palisade::datapath::nft
