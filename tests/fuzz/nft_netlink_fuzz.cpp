// libFuzzer target: what the kernel answers on the nftables netlink socket.
// The first byte picks what the rest is:
//   & 3 == 0 or 2: socket reads, each [u16 length][bytes], of a batch's acks
//                  (parseBatchAcks);
//   & 3 == 1:      socket reads answering readTable's and readCounters'
//                  requests as raw bytes: collectReplies judges every length,
//                  and only whole, well-formed replies get past it;
//   & 3 == 3:      a kernel table described by the input (table flags, sets
//                  of any key type and flags with their elements, chains with
//                  hooks, policies and comments, rules of lookups, compares,
//                  counters, verdicts ...), which answers every readback
//                  request by type, built with libnftnl as the kernel would
//                  send it, with dump errors and moving generations mixed in.
// The split is libnftnl's: its parsers exit(1) on an attribute of the wrong
// size ("kernel ABI is broken"), by design, since only the kernel talks on
// this socket. So raw bytes stop at our own framing checks (mode 1), and our
// decoding of what libnftnl returns (collectElements, keys, intervals, jumps,
// comments, rule digests, counters) is fuzzed on well-formed messages with
// fuzzed contents (mode 3). Neither may crash or read past a message;
// readTable either returns a table or an Error (ASan and UBSan judge the rest).
#include <endian.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "datapath/nft/handles.h"
#include "datapath/nft/netlink_replies.h"
#include "datapath/nft/readback.h"
#include "datapath/nft/transport.h"

namespace {

using palisade::Error;
using palisade::Result;
using namespace palisade::datapath::nft;

/// The reads of the input, each copied to its own 4-byte aligned buffer (as the socket's).
class Reads {
 public:
  Reads(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool next(std::vector<uint8_t>& out) {
    if (off_ + 2 > size_) return false;
    size_t len = size_t(data_[off_]) | size_t(data_[off_ + 1]) << 8;
    off_ += 2;
    len = std::min(len, size_ - off_);
    out.assign(data_ + off_, data_ + off_ + len);
    off_ += len;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t off_ = 0;
};

/// Mode 1: a Transport whose socket reads are the fuzz input, so the real
/// reply framing (collectReplies, parseBatchAcks) sees bytes the kernel might
/// have sent. What collectReplies passes on must be a whole message of the
/// read; libnftnl's parsers are not reached (see the top).
class RawTransport final : public Transport {
 public:
  explicit RawTransport(Reads& reads) : reads_(reads) {}

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t>) override {
    std::vector<Ack> acks;
    std::vector<uint8_t> buf;
    if (reads_.next(buf)) parseBatchAcks(buf, acks);
    return acks;
  }

  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t> msg) override {
    uint32_t seq = 0;
    std::memcpy(&seq, msg.data() + offsetof(nlmsghdr, nlmsg_seq), sizeof seq);
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> buf;
    while (reads_.next(buf)) {
      const size_t before = out.size();
      auto complete = collectReplies(buf, seq, out);
      for (size_t i = before; i < out.size(); ++i) {
        if (out[i].size() < sizeof(nlmsghdr) || out[i].size() > buf.size()) __builtin_trap();
        nlmsghdr h{};
        std::memcpy(&h, out[i].data(), sizeof h);
        if (h.nlmsg_len > out[i].size() || h.nlmsg_seq != seq) __builtin_trap();
      }
      if (!complete) return complete.error();
      if (*complete) break;
    }
    // Nothing past the framing: the requests get "no such table".
    return Error(ENOENT, "raw replies judged by collectReplies only");
  }

  uint32_t portId() const override { return 1; }

 private:
  Reads& reads_;
};

/// Mode 3's source of choices: bytes of the input, zeros once it runs out.
class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t u8() { return off_ < size_ ? data_[off_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | u8();
    return v;
  }
  uint64_t u64() { return uint64_t(u32()) << 32 | u32(); }
  bool flip() { return (u8() & 1) != 0; }
  /// A short name; "palisade" or a name used before often, so lookups meet.
  std::string name(const std::vector<std::string>& known) {
    uint8_t pick = u8();
    if (pick < 64 && !known.empty()) return known[pick % known.size()];
    if (pick < 96) return "palisade";
    std::string s;
    for (size_t n = pick % 12 + 1; n > 0; --n) s += char('!' + u8() % 94);
    return s;
  }
  std::vector<uint8_t> blob(size_t max) {
    std::vector<uint8_t> b(u8() % (max + 1));
    for (auto& c : b) c = u8();
    return b;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t off_ = 0;
};

// The key types palisade's sets use (render.cpp), and some it does not.
constexpr uint32_t kKeyTypes[] = {
    7, 8, 13, 0x1c0d, 0x1d0d, 7 << 12 | 12 << 6 | 13, 8 << 12 | 12 << 6 | 13, 0xffffff00, 0};

constexpr uint16_t kInet = 1;  // kInet (<linux/netfilter.h> clashes with <netinet/in.h>)

/// Mode 3: a kernel holding a table described by the input. Each request is
/// answered by its type, as the kernel would: messages built by libnftnl,
/// NLM_F_MULTI and NLMSG_DONE for dumps, an ack for the rest.
class DescribedKernel final : public Transport {
 public:
  explicit DescribedKernel(Choices& c) : c_(c) {
    table_exists_ = (c_.u8() & 7) != 0;
    table_flags_ = c_.u8() & 7;
    owner_ = c_.flip() ? std::optional<uint32_t>(c_.u32()) : std::nullopt;
    for (size_t n = c_.u8() % 5; n > 0; --n) names_.push_back(c_.name(names_));
  }

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t>) override {
    return Error(EIO, "none");
  }

  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t> msg) override {
    nlmsghdr req{};
    std::memcpy(&req, msg.data(), sizeof req);
    seq_ = req.nlmsg_seq;
    out_.clear();
    // Now and then the kernel refuses a dump (EINTR when the ruleset moved, ENOMEM).
    if (uint8_t e = c_.u8(); e < 8) return Error(e < 4 ? EINTR : e < 6 ? ENOMEM : EBUSY, "dump");
    switch (req.nlmsg_type & 0xff) {
      case NFT_MSG_GETGEN:
        return generation();
      case NFT_MSG_GETTABLE:
        return table();
      case NFT_MSG_GETSET:
        return sets();
      case NFT_MSG_GETSETELEM:
        return elements();
      case NFT_MSG_GETCHAIN:
        return chains();
      case NFT_MSG_GETRULE:
        return rules();
      default:
        return Error(EOPNOTSUPP, "request type");
    }
  }

  uint32_t portId() const override { return 1; }

 private:
  using Replies = Result<std::vector<std::vector<uint8_t>>>;

  nlmsghdr* header(uint16_t type) {
    buf_.assign(MNL_SOCKET_BUFFER_SIZE, 0);
    return nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(buf_.data()), type, kInet, NLM_F_MULTI,
                                 seq_);
  }
  void keep(const nlmsghdr* nlh) { out_.emplace_back(buf_.begin(), buf_.begin() + nlh->nlmsg_len); }

  Replies generation() {
    nlmsghdr* nlh = header(NFT_MSG_NEWGEN);
    nlh->nlmsg_flags = 0;
    mnl_attr_put_u32(nlh, NFTA_GEN_ID, htobe32(c_.u8() < 200 ? 7 : c_.u32()));
    keep(nlh);
    return out_;
  }

  Replies table() {
    if (!table_exists_) return Error(ENOENT, "no table");
    auto t = makeTable();
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, "palisade");
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kInet);
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, table_flags_);
    nlmsghdr* nlh = header(NFT_MSG_NEWTABLE);
    nlh->nlmsg_flags = 0;
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    if (owner_) mnl_attr_put_u32(nlh, NFTA_TABLE_OWNER, htobe32(*owner_));
    keep(nlh);
    return out_;
  }

  Replies sets() {
    for (const std::string& name : names_) {
      auto s = makeSet();
      nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, c_.u8() < 240 ? "palisade" : "other");
      nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
      uint32_t key = c_.u8() < 230 ? kKeyTypes[c_.u8() % std::size(kKeyTypes)] : c_.u32();
      nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, key);
      nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, c_.u8() % 41);
      uint32_t flags = c_.u8() & (NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | NFT_SET_INTERVAL |
                                  NFT_SET_MAP | NFT_SET_TIMEOUT | NFT_SET_CONCAT);
      nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
      if (flags & NFT_SET_MAP) {
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
        nftnl_set_set_u32(s.get(), NFTNL_SET_DATA_LEN, 0);
      }
      nlmsghdr* nlh = header(NFT_MSG_NEWSET);
      nftnl_set_nlmsg_build_payload(nlh, s.get());
      keep(nlh);
    }
    return done();
  }

  Replies elements() {
    // Whatever set was asked for, in zero to two messages (readback files
    // them under the set it asked for, as the kernel answers only that one).
    for (size_t part = c_.u8() % 3; part > 0; --part) {
      auto s = makeSet();
      nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, "palisade");
      nftnl_set_set_str(s.get(), NFTNL_SET_NAME, names_.empty() ? "x" : names_[0].c_str());
      for (size_t n = c_.u8() % 9; n > 0; --n) {
        nftnl_set_elem* e = nftnl_set_elem_alloc();
        auto key = c_.blob(40);
        if (!key.empty())
          nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), uint32_t(key.size()));
        if (c_.flip()) {
          auto end = c_.blob(40);
          if (!end.empty())
            nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, end.data(), uint32_t(end.size()));
        }
        if (c_.flip()) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, c_.u8() & 3);
        if (c_.u8() < 64) {
          nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
          nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, c_.name(names_).c_str());
        }
        nftnl_set_elem_add(s.get(), e);
      }
      nlmsghdr* nlh = header(NFT_MSG_NEWSETELEM);
      nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
      keep(nlh);
    }
    return done();
  }

  Replies chains() {
    for (size_t n = c_.u8() % 6; n > 0; --n) {
      auto ch = makeChain();
      nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TABLE, c_.u8() < 240 ? "palisade" : "other");
      std::string name = c_.name(names_);
      names_.push_back(name);
      nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_NAME, name.c_str());
      if (c_.flip()) {
        nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_HOOKNUM, c_.u8() % 6);
        nftnl_chain_set_s32(ch.get(), NFTNL_CHAIN_PRIO, int32_t(c_.u32()));
        nftnl_chain_set_str(ch.get(), NFTNL_CHAIN_TYPE, "filter");
        if (c_.flip()) nftnl_chain_set_u32(ch.get(), NFTNL_CHAIN_POLICY, c_.u8() % 3);
      }
      if (c_.flip()) {
        auto ud = c_.blob(64);  // libnftnl asserts on empty data
        if (!ud.empty())
          nftnl_chain_set_data(ch.get(), NFTNL_CHAIN_USERDATA, ud.data(), uint32_t(ud.size()));
      }
      nlmsghdr* nlh = header(NFT_MSG_NEWCHAIN);
      nftnl_chain_nlmsg_build_payload(nlh, ch.get());
      keep(nlh);
    }
    return done();
  }

  nftnl_expr* expression() {
    switch (c_.u8() % 8) {
      case 0: {
        nftnl_expr* e = nftnl_expr_alloc("lookup");
        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, c_.name(names_).c_str());
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, c_.u8() % 24);
        if (c_.flip()) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, 0);
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, c_.u8() & 1);
        return e;
      }
      case 1: {
        nftnl_expr* e = nftnl_expr_alloc("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, c_.u8() % 24);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, c_.u8() % 6);
        auto d = c_.blob(16);
        d.resize(std::max<size_t>(d.size(), 1));
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d.data(), uint32_t(d.size()));
        return e;
      }
      case 2: {
        nftnl_expr* e = nftnl_expr_alloc("counter");
        nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, c_.u64());
        nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, c_.u64());
        return e;
      }
      case 3: {
        nftnl_expr* e = nftnl_expr_alloc("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, 0);
        constexpr int kAccept = 1, kDrop = 0;  // NF_ACCEPT, NF_DROP
        const int verdicts[] = {kAccept, kDrop, NFT_RETURN, NFT_JUMP};
        int v = verdicts[c_.u8() % 4];
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, uint32_t(v));
        if (v == NFT_JUMP) nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, c_.name(names_).c_str());
        return e;
      }
      case 4: {
        nftnl_expr* e = nftnl_expr_alloc("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, c_.u8() % 32);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, c_.u8() % 24);
        return e;
      }
      case 5: {
        nftnl_expr* e = nftnl_expr_alloc("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, c_.u8() % 3);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, c_.u8());
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, c_.u8() % 17);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, c_.u8() % 24);
        return e;
      }
      case 6: {
        nftnl_expr* e = nftnl_expr_alloc("ct");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, c_.u8() % 32);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, c_.u8() % 24);
        return e;
      }
      default: {
        nftnl_expr* e = nftnl_expr_alloc("bitwise");
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, c_.u8() % 24);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, c_.u8() % 24);
        const uint32_t len = c_.u8() % 16 + 1;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        std::vector<uint8_t> mask(len), x(len);
        for (auto& b : mask) b = c_.u8();
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask.data(), len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x.data(), len);
        return e;
      }
    }
  }

  Replies rules() {
    for (size_t n = c_.u8() % 8; n > 0; --n) {
      auto r = makeRule();
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, c_.u8() < 240 ? "palisade" : "other");
      nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, c_.name(names_).c_str());
      nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kInet);
      for (size_t k = c_.u8() % 6; k > 0; --k)
        if (nftnl_expr* e = expression()) nftnl_rule_add_expr(r.get(), e);
      if (c_.flip()) {
        auto ud = c_.blob(64);
        if (!ud.empty())
          nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, ud.data(), uint32_t(ud.size()));
      }
      nlmsghdr* nlh = header(NFT_MSG_NEWRULE);
      nftnl_rule_nlmsg_build_payload(nlh, r.get());
      keep(nlh);
    }
    return done();
  }

  Replies done() {
    buf_.assign(MNL_SOCKET_BUFFER_SIZE, 0);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = NLMSG_DONE;
    nlh->nlmsg_flags = NLM_F_MULTI;
    nlh->nlmsg_seq = seq_;
    *static_cast<int*>(mnl_nlmsg_put_extra_header(nlh, sizeof(int))) = 0;
    // What the socket hands over, through the real framing check.
    std::vector<uint8_t> read;
    for (const auto& m : out_) {
      read.insert(read.end(), m.begin(), m.end());
      read.resize(NLMSG_ALIGN(read.size()));
    }
    read.insert(read.end(), buf_.begin(), buf_.begin() + nlh->nlmsg_len);
    std::vector<std::vector<uint8_t>> replies;
    auto complete = collectReplies(read, seq_, replies);
    if (!complete) return complete.error();
    if (!*complete || replies.size() != out_.size()) __builtin_trap();
    return replies;
  }

  Choices& c_;
  bool table_exists_ = true;
  uint32_t table_flags_ = 0;
  std::optional<uint32_t> owner_;
  std::vector<std::string> names_;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buf_;
  std::vector<std::vector<uint8_t>> out_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seq = 1;
  switch (data[0] & 3) {
    case 1: {
      Reads reads(data + 1, size - 1);
      RawTransport transport(reads);
      (void)readTable(transport, "palisade", seq);
      (void)readCounters(transport, "palisade", seq);
      return 0;
    }
    case 3: {
      Choices choices(data + 1, size - 1);
      DescribedKernel kernel(choices);
      (void)readTable(kernel, "palisade", seq);
      (void)readCounters(kernel, "palisade", seq);
      return 0;
    }
    default: {
      Reads reads(data + 1, size - 1);
      std::vector<uint8_t> buf;
      std::vector<Ack> acks;
      while (reads.next(buf)) {
        size_t before = acks.size();
        parseBatchAcks(buf, acks);
        // An ack is at least a header and an nlmsgerr.
        if ((acks.size() - before) * (sizeof(nlmsghdr) + sizeof(nlmsgerr)) > buf.size())
          __builtin_trap();
      }
      return 0;
    }
  }
}
