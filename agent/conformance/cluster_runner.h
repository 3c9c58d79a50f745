#pragma once
// Runs cluster-netpol cases (README sections 3-4): builds the topology as a
// ClusterState, admits the `initial` objects, then for each step in order
// deletes, applies, relabels, checks that every `reject` object is refused,
// resolves the probes to addresses and grades a FlowProber's outcomes.
// Steps accumulate; a step whose changes cannot be made ends the case (later
// steps would run against the wrong state).
#include <string>
#include <vector>

#include "agent/conformance/cluster_case_file.h"
#include "agent/conformance/flow_prober.h"
#include "agent/conformance/runner.h"
#include "policy/state/cluster_state.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance {

/// Resolves a probe against `state`: the source pod's address of the probe's
/// family; for the destination the pod's (a host-network pod's is its node's),
/// the node's first of the family, or the written address. Fails when a pod or
/// node has no address of the family.
Result<FlowProbe> resolveProbe(const Probe& probe, const policy::ClusterState& state);

/// Runs one parsed case. `detail` lists every failure, one per line:
/// `step 2 "name": probe (line 57) x/a -> y/b TCP/80 IPv4: expected deny, got allow
/// (egress: ...; ingress: ...)`.
CaseResult runClusterCase(const ClusterCaseFile& c, FlowProber& prober);

}  // namespace palisade::agent::conformance
