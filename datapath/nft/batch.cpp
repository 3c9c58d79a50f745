#include "datapath/nft/batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "datapath/nft/elements.h"
#include "datapath/nft/handles.h"
#include "datapath/nft/queue_expr.h"
#include "datapath/nft/set_order.h"

namespace palisade::datapath::nft {

// ---- key encodings ----

uint32_t keyLen(KeyType key) {
  switch (key) {
    case KeyType::Ipv4:
      return 4;
    case KeyType::Ipv6:
      return 16;
    case KeyType::ProtoService:
      return 8;  // proto (1, padded to 4) . service (2, padded to 4)
  }
  return 0;
}

uint32_t nftKeyType(KeyType key) {
  switch (key) {
    case KeyType::Ipv4:
      return 7;
    case KeyType::Ipv6:
      return 8;
    case KeyType::ProtoService:
      return (12u << 6) | 13u;  // inet_proto . inet_service
  }
  return 0;
}

U128 keyMaxValue(KeyType key) {
  switch (key) {
    case KeyType::Ipv4:
      return 0xffffffffu;
    case KeyType::Ipv6:
      return ~U128(0);
    case KeyType::ProtoService:
      return (U128(0xff) << 16) | 0xffff;
  }
  return 0;
}

std::vector<uint8_t> encodeKey(KeyType key, U128 v) {
  std::vector<uint8_t> b(keyLen(key), 0);
  switch (key) {
    case KeyType::Ipv4:
      for (int i = 0; i < 4; ++i) b[i] = uint8_t(v >> (8 * (3 - i)));
      break;
    case KeyType::Ipv6:
      for (int i = 0; i < 16; ++i) b[i] = uint8_t(v >> (8 * (15 - i)));
      break;
    case KeyType::ProtoService:
      b[0] = uint8_t(v >> 16);
      b[4] = uint8_t(v >> 8);
      b[5] = uint8_t(v);
      break;
  }
  return b;
}

U128 decodeKey(KeyType key, const void* data, uint32_t len) {
  const auto* b = static_cast<const uint8_t*>(data);
  U128 v = 0;
  switch (key) {
    case KeyType::Ipv4:
    case KeyType::Ipv6:
      for (uint32_t i = 0; i < len && i < keyLen(key); ++i) v = (v << 8) | b[i];
      break;
    case KeyType::ProtoService:
      if (len >= 6) v = (U128(b[0]) << 16) | (U128(b[4]) << 8) | b[5];
      break;
  }
  return v;
}

// ---- the writer ----

std::string Batch::describe(uint32_t seq) const {
  if (seq == first_seq_) return "committing the batch";
  if (seq <= first_seq_ || seq - first_seq_ - 1 >= what_.size()) return "";
  return what_[seq - first_seq_ - 1];
}

void Batch::forEach(const std::function<void(const nlmsghdr*)>& fn) const {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(data());
  int len = static_cast<int>(size_);
  while (mnl_nlmsg_ok(nlh, len)) {
    fn(nlh);
    nlh = mnl_nlmsg_next(nlh, &len);
  }
}

class BatchWriter {
 public:
  // One element message: the 64 KiB element list plus names and headers.
  static constexpr size_t kElementMessageRoom = 65536 + 1024;

  explicit BatchWriter(const BatchOptions& o) : opts_(o) {
    b_.first_seq_ = o.first_seq;
    seq_ = o.first_seq;
    nftnl_batch_begin(reserve(256), seq_++);
    advance();
  }

  Batch finish() {
    // Errors are always acked; the one success ack, on the last message, tells
    // the transport the kernel got to the end (a per-message ack would overrun
    // the receive buffer on batches of 100k messages).
    if (last_msg_) reinterpret_cast<nlmsghdr*>(b_.buf_.get() + last_msg_)->nlmsg_flags |= NLM_F_ACK;
    b_.last_seq_ = seq_;
    nftnl_batch_end(reserve(256), seq_++);
    advance();
    return std::move(b_);
  }

  nlmsghdr* header(uint16_t type, uint16_t flags, std::string what, size_t room = 8192) {
    b_.what_.push_back(std::move(what));
    last_msg_ = b_.size_;
    return nftnl_nlmsg_build_hdr(reserve(room), type, NFPROTO_INET, flags, seq_++);
  }
  void advance() {
    auto* nlh = reinterpret_cast<nlmsghdr*>(b_.buf_.get() + b_.size_);
    b_.size_ += NLMSG_ALIGN(nlh->nlmsg_len);
  }

  /// `flags` empty: a NEWTABLE that only makes sure the table exists (the
  /// kernel leaves an existing table's flags alone when none are given).
  void table(const std::string& name, std::optional<uint32_t> flags, uint16_t type,
             std::string what) {
    TablePtr t = makeTable();
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, NFPROTO_INET);
    if (type == NFT_MSG_NEWTABLE && flags) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, *flags);
    auto* nlh = header(type, type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, std::move(what));
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    advance();
  }

  void set(const std::string& table, const SetModel& s) {
    SetPtr p = baseSet(table, s.name);
    nftnl_set_set_u32(p.get(), NFTNL_SET_KEY_TYPE, nftKeyType(s.key));
    nftnl_set_set_u32(p.get(), NFTNL_SET_KEY_LEN, keyLen(s.key));
    uint32_t flags = 0;
    if (s.is_map) {
      flags |= NFT_SET_MAP;
      nftnl_set_set_u32(p.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    } else if (s.interval) {
      flags |= NFT_SET_INTERVAL;
    }
    if (s.key == KeyType::ProtoService) {
      flags |= NFT_SET_CONCAT;
      uint8_t field_len[NFT_REG32_COUNT] = {1, 2};
      nftnl_set_set_data(p.get(), NFTNL_SET_DESC_CONCAT, field_len, sizeof field_len);
    }
    nftnl_set_set_u32(p.get(), NFTNL_SET_FLAGS, flags);
    nftnl_set_set_u32(p.get(), NFTNL_SET_ID, ++set_id_);  // the kernel requires one per new set
    new_set_ = s.name;
    auto* nlh = header(
        NFT_MSG_NEWSET, NLM_F_CREATE,
        std::string("adding ") + (s.is_map ? "map " : "set ") + s.name + " (" + s.origin + ")");
    nftnl_set_nlmsg_build_payload(nlh, p.get());
    advance();
  }

  /// DELRULE with a chain and no handle: every rule of the chain goes.
  void flushChain(const std::string& table, const std::string& chain, std::string what) {
    RulePtr r = makeRule();
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
    nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    auto* nlh = header(NFT_MSG_DELRULE, 0, std::move(what));
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
    advance();
  }

  void deleteObject(uint16_t type, const std::string& table, const std::string& name,
                    std::string what) {
    auto* nlh = header(type, 0, std::move(what));
    if (type == NFT_MSG_DELSET) {
      SetPtr p = baseSet(table, name);
      nftnl_set_nlmsg_build_payload(nlh, p.get());
    } else {
      ChainPtr c = baseChain(table, name);
      nftnl_chain_nlmsg_build_payload(nlh, c.get());
    }
    advance();
  }

  /// Interval elements: rbtree sets take a start and an end (last + 1, flagged
  /// INTERVAL_END) element; concatenations (pipapo) take KEY and KEY_END. A
  /// message ends at elements_per_message ranges or when its element list
  /// would pass 64 KiB (elements.h), whichever comes first.
  void ranges(const std::string& table, const std::string& set, KeyType key, bool interval,
              const std::vector<Range>& ranges, bool add, const std::string& origin) {
    const size_t per = opts_.elements_per_message;
    for (size_t i = 0; i < ranges.size();) {
      auto* nlh =
          header(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? NLM_F_CREATE : 0,
                 std::string(add ? "adding element to set " : "deleting element from set ") + set +
                     " (" + origin + ")",
                 kElementMessageRoom);
      ElementMessage m(nlh, table, set, set == new_set_ ? set_id_ : 0);
      for (; i < ranges.size() && m.count() < per; ++i) {
        bool ok = !interval                      ? m.addKey(key, ranges[i].first)
                  : key == KeyType::ProtoService ? m.addConcatRange(key, ranges[i])
                                                 : m.addInterval(key, ranges[i]);
        if (!ok) break;
      }
      m.finish();
      advance();
    }
  }

  void jumps(const std::string& table, const std::string& map, KeyType key,
             const std::vector<std::pair<U128, Jump>>& jumps, bool add) {
    const size_t per = opts_.elements_per_message;
    static const std::string kNoChain;
    for (size_t i = 0; i < jumps.size();) {
      // The description names the first pods; it is fixed before the count is known.
      std::string pods;
      for (size_t k = i; k < jumps.size() && k < i + 3; ++k)
        pods += (pods.empty() ? "" : ", ") + jumps[k].second.origin;
      auto* nlh = header(add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM, add ? NLM_F_CREATE : 0, "",
                         kElementMessageRoom);
      ElementMessage m(nlh, table, map);
      size_t first = i;
      for (; i < jumps.size() && m.count() < per; ++i) {
        if (!m.addJump(key, jumps[i].first, add ? jumps[i].second.chain : kNoChain,
                       jumps[i].second.go))
          break;
      }
      m.finish();
      advance();
      if (i - first > 3) pods += ", +" + std::to_string(i - first - 3) + " more";
      b_.what_.back() = std::string(add ? "adding element to map " : "deleting element from map ") +
                        map + " (" + pods + ")";
    }
  }

  void elementsOf(const std::string& table, const SetModel& s) {
    if (s.is_map) {
      std::vector<std::pair<U128, Jump>> v(s.jumps.begin(), s.jumps.end());
      jumps(table, s.name, s.key, v, true);
    } else {
      ranges(table, s.name, s.key, s.interval, s.ranges, true, s.origin);
    }
  }

  void chain(const std::string& table, const ChainModel& c) {
    ChainPtr p = baseChain(table, c.name);
    if (c.hook) {
      nftnl_chain_set_u32(p.get(), NFTNL_CHAIN_HOOKNUM, c.hook->num);
      nftnl_chain_set_s32(p.get(), NFTNL_CHAIN_PRIO, c.hook->priority);
      nftnl_chain_set_str(p.get(), NFTNL_CHAIN_TYPE, "filter");
      nftnl_chain_set_u32(p.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    }
    if (!c.comment.empty()) {
      UdataBufPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
      nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_CHAIN_COMMENT, c.comment.c_str());
      nftnl_chain_set_data(p.get(), NFTNL_CHAIN_USERDATA, nftnl_udata_buf_data(ud.get()),
                           nftnl_udata_buf_len(ud.get()));
    }
    auto* nlh =
        header(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "adding chain " + c.name + " (" + c.origin + ")");
    nftnl_chain_nlmsg_build_payload(nlh, p.get());
    advance();
  }

  void rules(const std::string& table, const ChainModel& c);

 private:
  char* reserve(size_t room) {
    if (b_.size_ + room > b_.capacity_) {
      size_t cap = std::max(b_.capacity_ * 2, b_.size_ + room + 65536);
      auto* p = static_cast<uint8_t*>(std::realloc(b_.buf_.release(), cap));
      if (!p) std::abort();  // out of memory: nothing sensible to do
      b_.buf_.reset(p);
      b_.capacity_ = cap;
    }
    std::memset(b_.buf_.get() + b_.size_, 0, sizeof(nlmsghdr) + sizeof(nfgenmsg));
    return reinterpret_cast<char*>(b_.buf_.get() + b_.size_);
  }
  static SetPtr baseSet(const std::string& table, const std::string& name) {
    SetPtr p = makeSet();
    nftnl_set_set_str(p.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(p.get(), NFTNL_SET_NAME, name.c_str());
    nftnl_set_set_u32(p.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
    return p;
  }
  static ChainPtr baseChain(const std::string& table, const std::string& name) {
    ChainPtr c = makeChain();
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
    return c;
  }

  BatchOptions opts_;
  Batch b_;
  uint32_t seq_ = 0;
  size_t last_msg_ = 0;
  uint32_t set_id_ = 0;
  std::string new_set_;  // the set created last, whose id is set_id_
};

// ---- rule lowering: the expressions nft itself emits for the same syntax ----
namespace {

ExprPtr meta(uint32_t key, uint32_t dreg) {
  ExprPtr e = makeExpr("meta");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, dreg);
  return e;
}
ExprPtr cmp(uint32_t sreg, uint32_t op, const void* data, uint32_t len) {
  ExprPtr e = makeExpr("cmp");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, sreg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, data, len);
  return e;
}
ExprPtr cmpU8(uint32_t sreg, uint8_t v) { return cmp(sreg, NFT_CMP_EQ, &v, 1); }
ExprPtr payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
  ExprPtr e = makeExpr("payload");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, dreg);
  return e;
}
// Rules are built as the kernel lists them back (rule_digest.h compares the
// two): a lookup's flags always said, registers by their 128-bit names where
// one starts.
ExprPtr lookup(const std::string& set, uint32_t sreg, bool vmap) {
  ExprPtr e = makeExpr("lookup");
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, set.c_str());
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, sreg);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, 0);
  if (vmap) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
  return e;
}
ExprPtr verdict(int32_t v) {
  ExprPtr e = makeExpr("immediate");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(v));
  return e;
}
ExprPtr gotoChain(const std::string& chain) {
  ExprPtr e = makeExpr("immediate");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(NFT_GOTO));
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, chain.c_str());
  return e;
}
ExprPtr reject(uint32_t type, uint8_t code) {
  ExprPtr e = makeExpr("reject");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, type);
  nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE, code);
  return e;
}

/// `ip saddr` / `ip6 daddr` ... into `reg`: nfproto check, then the payload load.
void addressLoad(nftnl_rule* r, Family f, Addr a, uint32_t reg) {
  addExpr(r, meta(NFT_META_NFPROTO, NFT_REG_1));
  addExpr(r, cmpU8(NFT_REG_1, f == Family::Ip6 ? NFPROTO_IPV6 : NFPROTO_IPV4));
  if (f == Family::Ip6)
    addExpr(r, payload(NFT_PAYLOAD_NETWORK_HEADER, a == Addr::Saddr ? 8 : 24, 16, reg));
  else
    addExpr(r, payload(NFT_PAYLOAD_NETWORK_HEADER, a == Addr::Saddr ? 12 : 16, 4, reg));
}

// NF_CT_STATE_BIT(...): the bits `ct state` tests.
constexpr uint32_t kCtEstablished = 0x2, kCtRelated = 0x4, kCtNew = 0x8;

/// `ct state <states>`: the connection's state bit is one of `mask`.
void ctStateIn(nftnl_rule* r, uint32_t mask) {
  ExprPtr ct = makeExpr("ct");
  nftnl_expr_set_u32(ct.get(), NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
  nftnl_expr_set_u32(ct.get(), NFTNL_EXPR_CT_DREG, NFT_REG_1);
  addExpr(r, std::move(ct));
  ExprPtr bw = makeExpr("bitwise");
  uint32_t zero = 0;
  nftnl_expr_set_u32(bw.get(), NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
  nftnl_expr_set_u32(bw.get(), NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
  nftnl_expr_set_u32(bw.get(), NFTNL_EXPR_BITWISE_LEN, 4);
  nftnl_expr_set(bw.get(), NFTNL_EXPR_BITWISE_MASK, &mask, 4);
  nftnl_expr_set(bw.get(), NFTNL_EXPR_BITWISE_XOR, &zero, 4);
  addExpr(r, std::move(bw));
  addExpr(r, cmp(NFT_REG_1, NFT_CMP_NEQ, &zero, 4));
}

/// `meta l4proto . th dport @set`: two 32-bit registers, one concatenated key.
/// The first is NFT_REG32_00, which is NFT_REG_1 and listed as such.
void protoPortLookup(nftnl_rule* r, const std::string& set) {
  addExpr(r, meta(NFT_META_L4PROTO, NFT_REG_1));
  addExpr(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01));
  addExpr(r, lookup(set, NFT_REG_1, false));
}

void lowerRule(nftnl_rule* r, const RuleModel& m) {
  using K = RuleModel::Kind;
  switch (m.kind) {
    case K::CtEstablishedAccept:
      ctStateIn(r, kCtEstablished | kCtRelated);
      addExpr(r, verdict(NF_ACCEPT));
      break;
    case K::NeighbourDiscoveryAccept: {
      // What nft emits for `ip6 hoplimit 255 icmpv6 type 133-137 accept`.
      addExpr(r, meta(NFT_META_NFPROTO, NFT_REG_1));
      addExpr(r, cmpU8(NFT_REG_1, NFPROTO_IPV6));
      addExpr(r, payload(NFT_PAYLOAD_NETWORK_HEADER, 7, 1, NFT_REG_1));
      addExpr(r, cmpU8(NFT_REG_1, 255));
      addExpr(r, meta(NFT_META_L4PROTO, NFT_REG_1));
      addExpr(r, cmpU8(NFT_REG_1, IPPROTO_ICMPV6));
      addExpr(r, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1));
      uint8_t first = kNdFirstType, last = kNdLastType;
      addExpr(r, cmp(NFT_REG_1, NFT_CMP_GTE, &first, 1));
      addExpr(r, cmp(NFT_REG_1, NFT_CMP_LTE, &last, 1));
      addExpr(r, verdict(NF_ACCEPT));
      break;
    }
    case K::AddrInSetAccept:
      addressLoad(r, m.family, m.addr, NFT_REG_1);
      addExpr(r, lookup(m.set, NFT_REG_1, false));
      addExpr(r, verdict(NF_ACCEPT));
      break;
    case K::DispatchVmap:
      addressLoad(r, m.family, m.addr, NFT_REG_1);
      addExpr(r, lookup(m.set, NFT_REG_1, true));
      break;
    case K::AllowReturn:
    case K::MatchDrop:
    case K::MatchGoto:
      if (!m.set.empty()) {
        addressLoad(r, m.family, m.addr, NFT_REG_1);
        addExpr(r, lookup(m.set, NFT_REG_1, false));
      }
      if (!m.ports.empty()) protoPortLookup(r, m.ports);
      if (m.kind == K::AllowReturn) {
        addExpr(r, verdict(NFT_RETURN));
      } else if (m.kind == K::MatchDrop) {
        addExpr(r, makeExpr("counter"));
        addExpr(r, verdict(NF_DROP));
      } else {
        addExpr(r, gotoChain(m.target));
      }
      break;
    case K::DenyDrop:
      addExpr(r, makeExpr("counter"));
      addExpr(r, verdict(NF_DROP));
      break;
    case K::DenyRejectTcp:
      addExpr(r, meta(NFT_META_L4PROTO, NFT_REG_1));
      addExpr(r, cmpU8(NFT_REG_1, IPPROTO_TCP));
      addExpr(r, makeExpr("counter"));
      addExpr(r, reject(NFT_REJECT_TCP_RST, 0));
      break;
    case K::DenyRejectOther:
      addExpr(r, makeExpr("counter"));
      addExpr(r, reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_ADMIN_PROHIBITED));
      break;
    case K::QueueUnknown: {
      // A new connection, in the pod CIDR and not a known address:
      // `ct state new ip saddr @a ip saddr != @b queue`.
      ctStateIn(r, kCtNew);
      addressLoad(r, m.family, m.addr, NFT_REG_1);
      addExpr(r, lookup(m.set, NFT_REG_1, false));
      ExprPtr not_known = lookup(m.unless, NFT_REG_1, false);
      nftnl_expr_set_u32(not_known.get(), NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
      addExpr(r, std::move(not_known));
      addExpr(r, queueExpression(m.queue));
      break;
    }
    case K::QueueAddrInSet:
      ctStateIn(r, kCtNew);
      addressLoad(r, m.family, m.addr, NFT_REG_1);
      addExpr(r, lookup(m.set, NFT_REG_1, false));
      addExpr(r, queueExpression(m.queue));
      break;
    case K::QueueServicePort:
      ctStateIn(r, kCtNew);
      addressLoad(r, m.family, m.addr, NFT_REG_1);
      addExpr(r, lookup(m.set, NFT_REG_1, false));
      protoPortLookup(r, m.ports);
      addExpr(r, queueExpression(m.queue));
      break;
  }
}

}  // namespace

RulePtr buildRule(const std::string& table, const std::string& chain, const RuleModel& m) {
  RulePtr r = makeRule();
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  lowerRule(r.get(), m);
  if (!m.comment.empty()) {
    UdataBufPtr ud(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    nftnl_udata_put_strz(ud.get(), NFTNL_UDATA_RULE_COMMENT, m.comment.c_str());
    nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud.get()),
                        nftnl_udata_buf_len(ud.get()));
  }
  return r;
}

void BatchWriter::rules(const std::string& table, const ChainModel& c) {
  for (const RuleModel& m : c.rules) {
    RulePtr r = buildRule(table, c.name, m);
    auto* nlh = header(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                       "adding rule to chain " + c.name + " (" + m.origin + ")");
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
    advance();
  }
}

// ---- the three batches ----

namespace {
void addEverything(BatchWriter& w, const TableModel& m) {
  // Each set's elements right after it: named by its batch id (elements.h).
  for (const SetModel* s : setsInCreationOrder(m)) {
    w.set(m.name, *s);
    if (!s->is_map) w.elementsOf(m.name, *s);
  }
  for (const auto& [name, c] : m.chains) w.chain(m.name, c);
  for (const auto& [name, c] : m.chains) w.rules(m.name, c);
  for (const auto& [name, s] : m.sets)
    if (s.is_map) w.elementsOf(m.name, s);
}
}  // namespace

Batch buildReplace(const TableModel& m, const BatchOptions& o) {
  BatchWriter w(o);
  // add + delete makes the delete succeed whether or not the table exists;
  // the first add names no flags, since the owner and persist flags of a live
  // table cannot change in place (a table left by another agent, --table-
  // ownership changed): the delete and the second add change them atomically.
  w.table(m.name, std::nullopt, NFT_MSG_NEWTABLE, "adding table inet " + m.name);
  w.table(m.name, 0, NFT_MSG_DELTABLE, "replacing table inet " + m.name);
  w.table(m.name, m.flags, NFT_MSG_NEWTABLE, "adding table inet " + m.name);
  addEverything(w, m);
  return w.finish();
}

Batch buildDelta(const Delta& d, const BatchOptions& o) {
  BatchWriter w(o);
  if (d.table_flags)
    w.table(d.table, *d.table_flags, NFT_MSG_NEWTABLE, "updating flags of table inet " + d.table);
  // Sets the new chains use, and their elements.
  for (const auto& s : d.delete_sets)
    for (const auto& a : d.add_sets)
      if (a.name == s) w.deleteObject(NFT_MSG_DELSET, d.table, s, "deleting set " + s);
  for (const auto& s : d.add_sets) w.set(d.table, s);
  for (const auto& s : d.add_sets)
    if (!s.is_map) w.elementsOf(d.table, s);
  // Element changes: removals first, so an interval can be re-added in a new shape.
  for (const auto& e : d.elements) {
    if (e.is_map) continue;
    w.ranges(d.table, e.set, e.key, e.interval, e.remove_ranges, false, e.origin);
    w.ranges(d.table, e.set, e.key, e.interval, e.add_ranges, true, e.origin);
  }
  // New chains, then base chains replaced in place (delete + add in one batch).
  for (const auto& c : d.add_chains) w.chain(d.table, c);
  for (const auto& c : d.add_chains) w.rules(d.table, c);
  for (const auto& c : d.replace_chains) {
    w.deleteObject(NFT_MSG_DELCHAIN, d.table, c.name, "replacing chain " + c.name);
    w.chain(d.table, c);
    w.rules(d.table, c);
  }
  // Chains whose rules drifted: flushed and refilled in place (a program chain
  // cannot be deleted while the dispatch maps jump to it).
  for (const auto& c : d.rewrite_chains) {
    w.flushChain(d.table, c.name, "rewriting the rules of chain " + c.name);
    w.rules(d.table, c);
  }
  // Dispatch: now every target chain exists.
  for (const auto& e : d.elements) {
    if (!e.is_map) continue;
    w.jumps(d.table, e.set, e.key, e.remove_jumps, false);
    w.jumps(d.table, e.set, e.key, e.add_jumps, true);
  }
  for (const auto& s : d.add_sets)
    if (s.is_map) w.elementsOf(d.table, s);
  // Last, what nothing refers to any more.
  for (const auto& c : d.delete_chains)
    w.deleteObject(NFT_MSG_DELCHAIN, d.table, c, "deleting chain " + c);
  for (const auto& s : d.delete_sets) {
    bool readded = false;
    for (const auto& a : d.add_sets) readded |= a.name == s;
    if (!readded) w.deleteObject(NFT_MSG_DELSET, d.table, s, "deleting set " + s);
  }
  return w.finish();
}

Batch buildDeleteTable(const std::string& table, const BatchOptions& o) {
  BatchWriter w(o);
  w.table(table, 0, NFT_MSG_DELTABLE, "deleting table inet " + table);
  return w.finish();
}

}  // namespace palisade::datapath::nft
