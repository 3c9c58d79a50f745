#pragma once
// The statement that hands a packet to NFQUEUE, in the two forms kernels have:
//
//   native:  nft `queue` expression        [queue num N total T flags bypass,fanout]
//   compat:  xtables NFQUEUE target, rev 3  [target name NFQUEUE rev 3 info xt_NFQ_info_v3]
//            through nft_compat (what iptables-nft emits for -j NFQUEUE)
//
// The kernel this project runs on has only the compat form (the probe says
// which one exists; the agent logs its choice). Both take the same three
// parameters, so the rest of the datapath does not care.
#include <cstdint>

#include "datapath/nft/handles.h"
#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

/// The expression for `target` (the rule takes it).
ExprPtr queueExpression(const QueueTarget& target);

}  // namespace palisade::datapath::nft
