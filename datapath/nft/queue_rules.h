#pragma once
// The rules that send new connections to the packet queue (datapath/queue),
// added to the base chains after host traffic and before the dispatch maps:
//
//   ct state established,related accept            (replies never reach the queue)
//   ip saddr @node_v4 accept                        (host traffic)
//   ip  saddr @pod_cidrs_v4 ip  saddr != @known_v4 queue   ┐ pending pods: an address of
//   ip  daddr @pod_cidrs_v4 ip  daddr != @known_v4 queue   │ this node's pod CIDR that the
//   ip6 ... (same for v6)                                  ┘ agent does not know yet
//   ip  daddr @service_vips_v4 meta l4proto . th dport @service_ports queue  ┐ Service traffic
//   ip  daddr @node_v4 meta l4proto . th dport @node_ports queue            ┘ not translated
//   ip6 ... (same for v6)
//   ip  saddr @pods_v4 queue   ip daddr @pods_v4 queue      user-space mode: every local pod
//   ip saddr vmap @egress_dispatch_v4 ...
//
// Every queue rule starts `ct state new` (left out above): an invalid or
// untracked packet is no connection to decide, and goes on to the dispatch maps.
// known_* = local pod addresses and node addresses; pods_* = local pod
// addresses. All off by default: without queue rules the table is unchanged.
//
// A Service's virtual address is still the destination at our chains only
// when no proxy translated the connection (kube-proxy has not programmed the
// Service yet, or none runs): DNAT happens before postrouting, and IPVS takes
// its packets before our input chain. Addresses and ports are matched
// separately (two small sets rather than one per address . port): a packet
// to a virtual address on another Service's port reaches the queue too and
// is simply decided by its policy there.
#include "datapath/nft/model.h"
#include "proto/ir.h"

namespace palisade::datapath::nft {

/// Where untranslated Service traffic can arrive (agent/queue/service_table.h).
struct ServiceMatch {
  std::vector<uint32_t> vips_v4;  // ClusterIPs, external and load-balancer IPs (host order)
  std::vector<U128> vips_v6;
  std::vector<uint32_t> ports;       // their service ports: protocol << 16 | port
  std::vector<uint32_t> node_ports;  // NodePorts on this node's addresses: protocol << 16 | port
  bool operator==(const ServiceMatch&) const = default;
};

struct QueueRules {
  bool pending_pods = false;           // queue new connections of unknown pod-CIDR addresses
  bool all_local_pods = false;         // user-space mode: queue every new connection of local pods
  bool untranslated_services = false;  // queue new connections still aimed at a Service
  ServiceMatch services;               // with untranslated_services; may be empty
  QueueTarget target;
  bool enabled() const { return pending_pods || all_local_pods || untranslated_services; }
  bool operator==(const QueueRules&) const = default;
};

/// Adds the queue sets to `table` and the queue rules to `base` (before the
/// first dispatch rule). Does nothing when `rules` is not enabled.
void addQueueRules(const ir::Ruleset& ruleset, const QueueRules& rules, TableModel& table,
                   std::vector<RuleModel>& base);

}  // namespace palisade::datapath::nft
