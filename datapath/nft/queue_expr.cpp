#include "datapath/nft/queue_expr.h"

#include <linux/netfilter/nf_tables.h>

#include <cstdlib>

namespace palisade::datapath::nft {
namespace {

// include/uapi/linux/netfilter/xt_NFQUEUE.h, restated: the header drags in
// x_tables.h, which clashes with nf_tables.h in one translation unit.
constexpr uint16_t kNfqFlagBypass = 0x01;
constexpr uint16_t kNfqFlagCpuFanout = 0x02;
struct XtNfqInfoV3 {
  uint16_t queuenum;
  uint16_t queues_total;
  uint16_t flags;
};
// xt_entry_target payloads are padded to 8 bytes (XT_ALIGN).
constexpr size_t kXtInfoSize = (sizeof(XtNfqInfoV3) + 7) & ~size_t(7);

}  // namespace

ExprPtr queueExpression(const QueueTarget& t) {
  const bool fanout = t.count > 1;
  if (t.native) {
    ExprPtr e = makeExpr("queue");
    nftnl_expr_set_u16(e.get(), NFTNL_EXPR_QUEUE_NUM, t.first);
    nftnl_expr_set_u16(e.get(), NFTNL_EXPR_QUEUE_TOTAL, t.count);
    uint16_t flags =
        (t.bypass ? NFT_QUEUE_FLAG_BYPASS : 0) | (fanout ? NFT_QUEUE_FLAG_CPU_FANOUT : 0);
    nftnl_expr_set_u16(e.get(), NFTNL_EXPR_QUEUE_FLAGS, flags);
    return e;
  }
  ExprPtr e = makeExpr("target");
  nftnl_expr_set_str(e.get(), NFTNL_EXPR_TG_NAME, "NFQUEUE");
  nftnl_expr_set_u32(e.get(), NFTNL_EXPR_TG_REV, 3);
  // libnftnl frees the info buffer with the expression: it must come from malloc.
  auto* info = static_cast<XtNfqInfoV3*>(std::calloc(1, kXtInfoSize));
  if (!info) std::abort();
  info->queuenum = t.first;
  info->queues_total = t.count;
  info->flags =
      static_cast<uint16_t>((t.bypass ? kNfqFlagBypass : 0) | (fanout ? kNfqFlagCpuFanout : 0));
  nftnl_expr_set(e.get(), NFTNL_EXPR_TG_INFO, info, kXtInfoSize);
  return e;
}

}  // namespace palisade::datapath::nft
