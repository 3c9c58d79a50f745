#pragma once
// The rules that send new connections to the packet queue (datapath/queue),
// added to the base chains after host traffic and before the dispatch maps:
//
//   ct state established,related accept            (replies never reach the queue)
//   ip saddr @node_v4 accept                        (host traffic)
//   ip  saddr @pod_cidrs_v4 ip  saddr != @known_v4 queue   ┐ pending pods: an address of
//   ip  daddr @pod_cidrs_v4 ip  daddr != @known_v4 queue   │ this node's pod CIDR that the
//   ip6 ... (same for v6)                                  ┘ agent does not know yet
//   ip  saddr @pods_v4 queue   ip daddr @pods_v4 queue      user-space mode: every local pod
//   ip saddr vmap @egress_dispatch_v4 ...
//
// known_* = local pod addresses and node addresses; pods_* = local pod
// addresses. All off by default: without queue rules the table is unchanged.
#include "datapath/nft/model.h"
#include "palisade/v1/ir.pb.h"

namespace palisade::datapath::nft {

struct QueueRules {
  bool pending_pods = false;    // queue new connections of unknown pod-CIDR addresses
  bool all_local_pods = false;  // user-space mode: queue every new connection of local pods
  QueueTarget target;
  bool enabled() const { return pending_pods || all_local_pods; }
  bool operator==(const QueueRules&) const = default;
};

/// Adds the queue sets to `table` and the queue rules to `base` (before the
/// first dispatch rule). Does nothing when `rules` is not enabled.
void addQueueRules(const ::palisade::ir::v1::Ruleset& ruleset, const QueueRules& rules,
                   TableModel& table, std::vector<RuleModel>& base);

}  // namespace palisade::datapath::nft
