#pragma once
// policy::compile: ClusterState + node → ir::Ruleset (proto/palisade/v1/ir.proto).
//
// Local endpoints are the node's pods (every pod when `node` is empty: the
// dry-run view of the whole cluster). Programs are deduplicated: endpoints
// whose selecting policies and resolved rules are the same share one program.
// Peer sets are shared by identical peer lists; port sets by identical port
// lists. Named ports resolve per destination pod: on ingress against the
// local endpoint (part of the program's identity), on egress against each
// peer pod (one rule per resolved port number, same provenance).
#include <string_view>

#include "policy/state/cluster_state.h"
#include "proto/ir.h"

namespace palisade::policy {

/// Compiles the ruleset of `node` ("" = every pod is local).
ir::Ruleset compile(const ClusterState& state, std::string_view node);

}  // namespace palisade::policy
