#include "datapath/nft/probe.h"

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <thread>
#include <vector>

#include "datapath/nft/handles.h"
#include "datapath/nft/model.h"
#include "datapath/nft/transport.h"

namespace palisade::datapath::nft {
namespace {

/// A tiny batch for one probe: BEGIN, the given messages, END.
class ProbeBatch {
 public:
  explicit ProbeBatch(uint32_t seq) : seq_(seq) {
    nftnl_batch_begin(room(), seq_++);
    next();
  }
  nlmsghdr* msg(uint16_t type, uint16_t family, uint16_t flags) {
    return nftnl_nlmsg_build_hdr(room(), type, family, flags | NLM_F_ACK, seq_++);
  }
  void next() {
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf_.data() + size_);
    size_ += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  std::vector<uint8_t> finish() {
    nftnl_batch_end(room(), seq_++);
    next();
    buf_.resize(size_);
    return std::move(buf_);
  }

 private:
  char* room() {
    buf_.resize(size_ + 8192);
    return reinterpret_cast<char*>(buf_.data() + size_);
  }
  std::vector<uint8_t> buf_;
  size_t size_ = 0;
  uint32_t seq_;
};

struct Prober {
  Transport& t;
  std::string table;
  uint32_t seq = 1;
  bool denied = false;  // a probe got EPERM

  void addTable(ProbeBatch& b, uint16_t family, uint32_t flags) {
    TablePtr tab = makeTable();
    nftnl_table_set_str(tab.get(), NFTNL_TABLE_NAME, table.c_str());
    nftnl_table_set_u32(tab.get(), NFTNL_TABLE_FAMILY, family);
    nftnl_table_set_u32(tab.get(), NFTNL_TABLE_FLAGS, flags);
    nftnl_table_nlmsg_build_payload(b.msg(NFT_MSG_NEWTABLE, family, NLM_F_CREATE), tab.get());
    b.next();
  }
  void addChain(ProbeBatch& b, uint16_t family) {
    ChainPtr c = makeChain();
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, "probe");
    nftnl_chain_nlmsg_build_payload(b.msg(NFT_MSG_NEWCHAIN, family, NLM_F_CREATE), c.get());
    b.next();
  }
  void addRule(ProbeBatch& b, uint16_t family, ExprPtr&& e) {
    RulePtr r = makeRule();
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "probe");
    addExpr(r.get(), std::move(e));
    nftnl_rule_nlmsg_build_payload(b.msg(NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND),
                                   r.get());
    b.next();
  }
  /// Runs one probe batch; true when every message was accepted. Always
  /// deletes the throwaway table afterwards.
  bool run(uint16_t family, const std::function<void(ProbeBatch&)>& fill) {
    ProbeBatch b(seq);
    fill(b);
    auto bytes = b.finish();
    seq += 64;
    auto acks = t.sendBatch(bytes);
    bool ok = acks.ok();
    if (!ok && acks.error().code() == EPERM) denied = true;
    if (ok)
      for (const auto& a : *acks) {
        ok &= a.error == 0;
        denied |= a.error == EPERM;
      }
    ProbeBatch del(seq);
    TablePtr tab = makeTable();
    nftnl_table_set_str(tab.get(), NFTNL_TABLE_NAME, table.c_str());
    nftnl_table_nlmsg_build_payload(del.msg(NFT_MSG_DELTABLE, family, 0), tab.get());
    del.next();
    auto dbytes = del.finish();
    seq += 64;
    (void)t.sendBatch(dbytes);  // ENOENT when the probe batch failed: fine
    return ok;
  }
};

Result<Features> runProbes(const std::string& table, std::string where) {
  auto t = openMnlTransport();
  if (!t) return t.error().context("probing kernel features");
  Prober p{**t, table};
  Features f;
  f.where = std::move(where);
  f.table_owner =
      p.run(NFPROTO_INET, [&](ProbeBatch& b) { p.addTable(b, NFPROTO_INET, kTableFlagOwner); });
  f.table_persist = p.run(NFPROTO_INET, [&](ProbeBatch& b) {
    p.addTable(b, NFPROTO_INET, kTableFlagOwner | kTableFlagPersist);
  });
  f.concat_intervals = p.run(NFPROTO_INET, [&](ProbeBatch& b) {
    p.addTable(b, NFPROTO_INET, 0);
    SetPtr s = makeSet();
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, "ports");
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, (12u << 6) | 13u);
    nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, 8);
    nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, NFT_SET_INTERVAL | NFT_SET_CONCAT);
    nftnl_set_set_u32(s.get(), NFTNL_SET_ID, 1);
    uint8_t field_len[NFT_REG32_COUNT] = {1, 2};
    nftnl_set_set_data(s.get(), NFTNL_SET_DESC_CONCAT, field_len, sizeof field_len);
    nftnl_set_nlmsg_build_payload(b.msg(NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE), s.get());
    b.next();
    uint8_t first[8] = {6, 0, 0, 0, 0, 80, 0, 0}, last[8] = {6, 0, 0, 0, 0, 90, 0, 0};
    SetElemPtr e = makeSetElem();
    nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY, first, sizeof first);
    nftnl_set_elem_set(e.get(), NFTNL_SET_ELEM_KEY_END, last, sizeof last);
    addElem(s.get(), std::move(e));
    nftnl_set_elems_nlmsg_build_payload(b.msg(NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE),
                                        s.get());
    b.next();
  });
  f.native_queue = p.run(NFPROTO_INET, [&](ProbeBatch& b) {
    p.addTable(b, NFPROTO_INET, 0);
    p.addChain(b, NFPROTO_INET);
    ExprPtr q = makeExpr("queue");
    nftnl_expr_set_u16(q.get(), NFTNL_EXPR_QUEUE_NUM, 0);
    nftnl_expr_set_u16(q.get(), NFTNL_EXPR_QUEUE_TOTAL, 1);
    p.addRule(b, NFPROTO_INET, std::move(q));
  });
  f.compat_nfqueue = p.run(NFPROTO_IPV4, [&](ProbeBatch& b) {
    p.addTable(b, NFPROTO_IPV4, 0);
    p.addChain(b, NFPROTO_IPV4);
    ExprPtr x = makeExpr("target");
    nftnl_expr_set_str(x.get(), NFTNL_EXPR_TG_NAME, "NFQUEUE");
    nftnl_expr_set_u32(x.get(), NFTNL_EXPR_TG_REV, 3);
    // struct xt_NFQ_info_v3 { u16 queuenum; u16 queues_total; u16 flags; }, XT_ALIGNed.
    auto* info = static_cast<uint16_t*>(calloc(1, 8));
    info[1] = 1;
    nftnl_expr_set(x.get(), NFTNL_EXPR_TG_INFO, info, 8);  // libnftnl takes the buffer
    p.addRule(b, NFPROTO_IPV4, std::move(x));
  });
  // Refused for want of the capability, the probes say nothing about the kernel.
  if (p.denied)
    return Error(EPERM, "nftables refused the feature probes in " + f.where +
                            ": no CAP_NET_ADMIN (run as root or grant the capability)");
  return f;
}

}  // namespace

uint32_t Features::tableFlags() const {
  return table_owner && table_persist ? (kTableFlagOwner | kTableFlagPersist) : 0;
}

std::string Features::summary() const {
  std::string s = "queue: ";
  s += native_queue     ? "native queue expression"
       : compat_nfqueue ? "NFQUEUE via nft compat"
                        : "unavailable";
  s += "; concatenated interval sets: ";
  s += concat_intervals ? "yes" : "NO";
  s += "; table flags: ";
  s += tableFlags() ? "owner,persist" : table_owner ? "none (owner without persist)" : "none";
  s += " (probed in " + where + ")";
  return s;
}

Result<Features> probeFeatures() {
  std::optional<Result<Features>> out;
  // The netns belongs to this thread only; it disappears when the thread ends.
  std::thread th([&] {
    if (unshare(CLONE_NEWNET) == 0) out.emplace(runProbes("palisade_probe", "a throwaway netns"));
  });
  th.join();
  if (out) return *out;
  return runProbes("palisade_probe_" + std::to_string(getpid()), "a throwaway table in this netns");
}

Result<bool> probeQueueStatement() {
  auto f = probeFeatures();
  if (!f) return f.error().context("probing for NFQUEUE");
  if (!f->native_queue && !f->compat_nfqueue)
    return Error(EOPNOTSUPP,
                 "this kernel has neither the nft queue expression nor the xtables NFQUEUE "
                 "target (nft_compat)");
  return f->native_queue;
}

}  // namespace palisade::datapath::nft
