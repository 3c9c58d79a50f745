#include "datapath/nft/readback.h"

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <functional>

#include "datapath/nft/batch.h"
#include "datapath/nft/handles.h"
#include "datapath/nft/rule_digest.h"

namespace palisade::datapath::nft {
namespace {

constexpr uint32_t kTableAttrOwner = NFTNL_TABLE_OWNER;

std::vector<uint8_t> buildRequest(uint16_t type, uint16_t flags, uint32_t seq,
                                  const std::function<void(nlmsghdr*)>& payload) {
  std::vector<uint8_t> buf(8192);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buf.data()), type,
                            type == NFT_MSG_GETGEN ? AF_UNSPEC : NFPROTO_INET, flags, seq);
  if (payload) payload(nlh);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

std::optional<KeyType> keyTypeOf(uint32_t nft_type, uint32_t len) {
  if (nft_type == nftKeyType(KeyType::Ipv4) || (nft_type == 0 && len == 4)) return KeyType::Ipv4;
  if (nft_type == nftKeyType(KeyType::Ipv6) || (nft_type == 0 && len == 16)) return KeyType::Ipv6;
  if (nft_type == nftKeyType(KeyType::ProtoService)) return KeyType::ProtoService;
  return std::nullopt;
}

/// The comment TLV of chain user data (type 0, NUL-terminated string).
std::string commentOf(const void* data, uint32_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t off = 0;
  while (data && off + 2 <= len) {
    uint8_t type = p[off], l = p[off + 1];
    if (off + 2 + l > len) break;
    if (type == NFTNL_UDATA_CHAIN_COMMENT && l > 0)
      return std::string(reinterpret_cast<const char*>(p + off + 2),
                         strnlen(reinterpret_cast<const char*>(p + off + 2), l));
    off += 2 + l;
  }
  return "";
}

}  // namespace

Result<uint32_t> readGeneration(Transport& t, uint32_t& seq) {
  auto req = buildRequest(NFT_MSG_GETGEN, NLM_F_ACK, seq++, nullptr);
  auto replies = t.request(req);
  if (!replies) return replies.error().context("reading generation id");
  for (const auto& r : *replies) {
    GenPtr g = makeGen();
    if (nftnl_gen_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), g.get()) == 0)
      return nftnl_gen_get_u32(g.get(), NFTNL_GEN_ID);
  }
  return Error(EPROTO, "reading generation id: no answer");
}

namespace {

/// Rebuilds intervals from rbtree start/end elements or pipapo key/key_end;
/// a hash set's keys are one-key ranges.
void collectElements(nftnl_set* s, SetModel& m) {
  struct Point {
    U128 key;
    bool end;
  };
  std::vector<Point> points;
  nftnl_set_elems_iter* it = nftnl_set_elems_iter_create(s);
  for (nftnl_set_elem* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
    uint32_t len = 0;
    const void* key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);
    if (!key) continue;
    U128 k = decodeKey(m.key, key, len);
    if (m.is_map) {
      const char* chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
      const bool go = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT) &&
                      int32_t(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)) == NFT_GOTO;
      m.jumps[k] = Jump{chain ? chain : "", "", go};
      continue;
    }
    if (!m.interval) {
      m.ranges.push_back({k, k});
      continue;
    }
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_KEY_END)) {
      uint32_t elen = 0;
      const void* kend = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY_END, &elen);
      m.ranges.push_back({k, decodeKey(m.key, kend, elen)});
      continue;
    }
    bool end = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) &&
               (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END);
    points.push_back({k, end});
  }
  nftnl_set_elems_iter_destroy(it);
  // An end at k closes the interval before a start at k: order ends first.
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.key != b.key ? a.key < b.key : (a.end && !b.end);
  });
  std::optional<U128> open;
  for (const Point& p : points) {
    if (!p.end) {
      if (open) m.ranges.push_back({*open, p.key - 1});  // never from us; keep it visible
      open = p.key;
    } else if (open) {
      m.ranges.push_back({*open, p.key - 1});
      open.reset();
    }
  }
  if (open) m.ranges.push_back({*open, keyMaxValue(m.key)});
  std::sort(m.ranges.begin(), m.ranges.end());
}

Result<ReadbackResult> readOnce(Transport& t, const std::string& table, uint32_t& seq) {
  ReadbackResult out;
  TablePtr tab = makeTable();
  nftnl_table_set_str(tab.get(), NFTNL_TABLE_NAME, table.c_str());
  auto treq = buildRequest(NFT_MSG_GETTABLE, NLM_F_ACK, seq++,
                           [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, tab.get()); });
  auto treply = t.request(treq);
  if (!treply) {
    if (treply.error().code() == ENOENT) return out;
    return treply.error().context("reading table inet " + table);
  }
  TableModel m;
  m.name = table;
  for (const auto& r : *treply) {
    TablePtr got = makeTable();
    if (nftnl_table_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), got.get()) == 0) {
      m.flags = nftnl_table_get_u32(got.get(), NFTNL_TABLE_FLAGS);
      if (nftnl_table_is_set(got.get(), kTableAttrOwner))
        out.owner = nftnl_table_get_u32(got.get(), kTableAttrOwner);
    }
  }

  // Sets and maps.
  SetPtr filter = makeSet();
  nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, table.c_str());
  auto sreq = buildRequest(NFT_MSG_GETSET, NLM_F_DUMP, seq++, [&](nlmsghdr* nlh) {
    nftnl_set_nlmsg_build_payload(nlh, filter.get());
  });
  auto sreply = t.request(sreq);
  if (!sreply) return sreply.error().context("listing sets of inet " + table);
  for (const auto& r : *sreply) {
    SetPtr s = makeSet();
    if (nftnl_set_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), s.get()) != 0) continue;
    const char* tname = nftnl_set_get_str(s.get(), NFTNL_SET_TABLE);
    if (!tname || table != tname) continue;
    const char* sname = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
    if (!sname) continue;  // a set without a name is no answer we can diff
    SetModel sm;
    sm.name = sname;
    uint32_t flags = nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS);
    sm.is_map = flags & NFT_SET_MAP;
    sm.interval = sm.is_map || (flags & NFT_SET_INTERVAL) != 0;  // maps: n/a, left at the default
    auto key = keyTypeOf(nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_TYPE),
                         nftnl_set_get_u32(s.get(), NFTNL_SET_KEY_LEN));
    if (!key || flags & NFT_SET_ANONYMOUS) continue;  // not one of ours: diff leaves it alone
    sm.key = *key;
    sm.origin = "kernel";
    auto ereq = buildRequest(NFT_MSG_GETSETELEM, NLM_F_DUMP, seq++, [&](nlmsghdr* nlh) {
      SetPtr q = makeSet();
      nftnl_set_set_str(q.get(), NFTNL_SET_TABLE, table.c_str());
      nftnl_set_set_str(q.get(), NFTNL_SET_NAME, sm.name.c_str());
      nftnl_set_elems_nlmsg_build_payload(nlh, q.get());
    });
    auto ereply = t.request(ereq);
    if (!ereply) return ereply.error().context("listing elements of set " + sm.name);
    SetPtr elems = makeSet();
    for (const auto& er : *ereply)
      nftnl_set_elems_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(er.data()), elems.get());
    collectElements(elems.get(), sm);
    m.sets[sm.name] = std::move(sm);
  }

  // Chains: names, hooks, comments.
  ChainPtr cfilter = makeChain();
  nftnl_chain_set_str(cfilter.get(), NFTNL_CHAIN_TABLE, table.c_str());
  auto creq = buildRequest(NFT_MSG_GETCHAIN, NLM_F_DUMP, seq++, [&](nlmsghdr* nlh) {
    nftnl_chain_nlmsg_build_payload(nlh, cfilter.get());
  });
  auto creply = t.request(creq);
  if (!creply) return creply.error().context("listing chains of inet " + table);
  for (const auto& r : *creply) {
    ChainPtr c = makeChain();
    if (nftnl_chain_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), c.get()) != 0)
      continue;
    const char* tname = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE);
    if (!tname || table != tname) continue;
    const char* cname = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
    if (!cname) continue;
    ChainModel cm;
    cm.name = cname;
    if (nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM))
      cm.hook = Hook{nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM),
                     nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO)};
    uint32_t len = 0;
    const void* ud = nftnl_chain_get_data(c.get(), NFTNL_CHAIN_USERDATA, &len);
    if (ud) cm.comment = commentOf(ud, len);
    if (cm.hook && nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY))
      cm.policy = nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY);
    cm.origin = "kernel";
    cm.rule_digests.emplace();
    m.chains[cm.name] = std::move(cm);
  }

  // Rules, as digests (rule_digest.h): one dump for the whole table, in order.
  RulePtr rfilter = makeRule();
  nftnl_rule_set_str(rfilter.get(), NFTNL_RULE_TABLE, table.c_str());
  auto rreq = buildRequest(NFT_MSG_GETRULE, NLM_F_DUMP, seq++, [&](nlmsghdr* nlh) {
    nftnl_rule_nlmsg_build_payload(nlh, rfilter.get());
  });
  auto rreply = t.request(rreq);
  if (!rreply) return rreply.error().context("listing rules of inet " + table);
  for (const auto& r : *rreply) {
    RulePtr rule = makeRule();
    if (nftnl_rule_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), rule.get()) != 0)
      continue;
    const char* tname = nftnl_rule_get_str(rule.get(), NFTNL_RULE_TABLE);
    const char* chain = nftnl_rule_get_str(rule.get(), NFTNL_RULE_CHAIN);
    if (!tname || !chain || table != tname) continue;
    auto c = m.chains.find(chain);
    if (c != m.chains.end()) c->second.rule_digests->push_back(ruleDigest(rule.get()));
  }
  out.table = std::move(m);
  return out;
}

}  // namespace

Result<ReadbackResult> readTable(Transport& t, const std::string& table, uint32_t& seq) {
  constexpr int kAttempts = 5;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    auto before = readGeneration(t, seq);
    if (!before) return before.error();
    auto r = readOnce(t, table, seq);
    if (!r) return r.error();
    auto after = readGeneration(t, seq);
    if (!after) return after.error();
    if (*before == *after) {
      r->generation = *after;
      r->attempts = attempt;
      return r;
    }
  }
  return Error(EAGAIN, "reading table inet " + table + ": ruleset kept changing");
}

Result<std::map<std::string, Counter>> readCounters(Transport& t, const std::string& table,
                                                    uint32_t& seq) {
  RulePtr filter = makeRule();
  nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table.c_str());
  auto req = buildRequest(NFT_MSG_GETRULE, NLM_F_DUMP, seq++, [&](nlmsghdr* nlh) {
    nftnl_rule_nlmsg_build_payload(nlh, filter.get());
  });
  auto reply = t.request(req);
  if (!reply) return reply.error().context("listing rules of inet " + table);
  std::map<std::string, Counter> out;
  for (const auto& r : *reply) {
    RulePtr rule = makeRule();
    if (nftnl_rule_nlmsg_parse(reinterpret_cast<const nlmsghdr*>(r.data()), rule.get()) != 0)
      continue;
    const char* tname = nftnl_rule_get_str(rule.get(), NFTNL_RULE_TABLE);
    const char* cname = nftnl_rule_get_str(rule.get(), NFTNL_RULE_CHAIN);
    if (!tname || !cname || table != tname) continue;
    std::string chain = cname;
    nftnl_expr_iter* it = nftnl_expr_iter_create(rule.get());
    for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
      const char* ename = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
      if (!ename || std::strcmp(ename, "counter") != 0) continue;
      Counter& c = out[chain];
      c.packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
      c.bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
    }
    nftnl_expr_iter_destroy(it);
  }
  return out;
}

}  // namespace palisade::datapath::nft
