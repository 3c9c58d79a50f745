#pragma once
// Services as kube-proxy (nftables mode) makes them, in each lab node's
// namespace, in tables of the lab's own (`ip palisade_lab_svc`,
// `ip6 palisade_lab_svc`):
//
//   prerouting/output (nat, dstnat): ClusterIP . proto . port  ─vmap─▶ svc_K
//                                    fib daddr type local . proto . nodePort ─▶ np_K
//   np_K:   mark for masquerade; goto svc_K
//   svc_K:  numgen random mod N ─vmap─▶ ep_K_0 .. ep_K_{N-1}
//   ep_K_I: ip saddr <backend> mark for masquerade (hairpin); dnat to backend:targetPort
//   postrouting (nat, srcnat): mark 0x4000 ─▶ masquerade
//
// The policy table (`inet palisade`, postrouting at srcnat - 5) runs after
// the DNAT and before the masquerade, so it judges the real client and the
// real backend, as on a node.
#include <string>

#include "agent/lab/lab_state.h"

namespace palisade::agent::lab {

/// The nft script (one transaction: the tables are replaced whole).
std::string renderServiceScript(const LabState& lab);

/// Loads the script into every node namespace.
Status programServices(const LabState& lab);

/// Empties conntrack in every node namespace, so the next probe judges new
/// flows only (a UDP reply of an earlier allowed probe would match otherwise).
Status flushConntrack(const LabState& lab);

}  // namespace palisade::agent::lab
