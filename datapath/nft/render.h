#pragma once
// datapath::nft::render: ir::Ruleset → TableModel (table `inet palisade`).
//
//   postrouting (filter, hook postrouting, priority srcnat - 5 = 95, policy accept)
//   input       (filter, hook input,       priority srcnat + 1 = 101, policy accept)
//   ┌──────────────────────────────────────────────────────────────────────────┐
//   │ ct state established,related accept                                      │
//   │ ip6 hoplimit 255 icmpv6 type 133-137 accept   (neighbour discovery)      │
//   │ ip  saddr @node_v4 accept          ip6 saddr @node_v6 accept   (host)    │
//   │ ip  saddr vmap @egress_dispatch_v4 ─┐  ip6 ... @egress_dispatch_v6       │
//   │ ip  daddr vmap @ingress_dispatch_v4 │  ip6 ... @ingress_dispatch_v6 ─┐   │
//   │ (policy accept)                     │                                │   │
//   └─────────────────────────────────────┼────────────────────────────────┼───┘
//                       jump (pod address)▼                     jump      ▼
//   chain egress_<hash>                          chain ingress_<hash>
//   ┌──────────────────────────────────────┐     ┌──────────────────────────────────────┐
//   │ ip daddr @peers_<h>_v4               │     │ ip saddr @peers_<h>_v4               │
//   │   meta l4proto . th dport @ports_<h> │     │   meta l4proto . th dport @ports_<h> │
//   │   return            (one per IR rule │     │   return                             │
//   │ ip6 daddr @peers_<h>_v6 ... return    and   │ ip6 saddr @peers_<h>_v6 ... return   │
//   │ counter drop  (or reject)            │     │ counter drop  (or reject)            │
//   └──────────────────────────────────────┘     └──────────────────────────────────────┘
//   `return` = allowed in this direction: back to the base chain, which goes on
//   to the ingress dispatch and finally accepts.
//
// With --deny-action reject the kernel refuses `reject` under postrouting, so
// the postrouting chain is replaced by `forward` and `output` base chains at
// priority filter (0) with the same rules (after prerouting DNAT; IPVS traffic
// leaves through output).
//
// Names are content-addressed so that two compiles of the same cluster give the
// same names, although IR ids are not stable:
//  - ports_<hash of the port ranges>;
//  - peers_<hash of the rules that reference the set>_v4/_v6: the (policy,
//    direction, rule index, port set) of every referencing rule, not the
//    addresses, so pod churn changes set elements, never names;
//  - ingress_/egress_<hash of the chain's rules, deny action and comment>.
// A pod change therefore yields set-element and dispatch-element changes only.
#include "datapath/nft/model.h"
#include "datapath/nft/queue_rules.h"
#include "proto/base/result.h"
#include "proto/ir.h"

namespace palisade::datapath::nft {

enum class DenyAction : uint8_t { Drop, Reject };

struct RenderOptions {
  DenyAction deny = DenyAction::Drop;
  uint32_t table_flags = 0;  // owner/persist, as the probes allow
  QueueRules queue;          // NFQUEUE rules (queue_rules.h); none by default
};

struct RenderNames;  // render_parts.h

/// Renders the whole table. Fails on a malformed ruleset (dangling ids).
/// `names`, when given, receives the names given to the IR objects (the delta
/// path renders later changes against them).
Result<TableModel> render(const ir::Ruleset& ruleset, const RenderOptions& options = {},
                          RenderNames* names = nullptr);

/// Address helpers shared with the text renderer and readback.
U128 v6Value(uint64_t high, uint64_t low);
/// The [first, last] interval of a prefix.
Range v4Prefix(uint32_t address, uint32_t prefix_len);
Range v6Prefix(U128 address, uint32_t prefix_len);

}  // namespace palisade::datapath::nft
