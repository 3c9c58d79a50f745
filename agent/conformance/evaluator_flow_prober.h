#pragma once
// The reference FlowProber: policy::evaluate over the state by identity (the
// source pod and its address, the destination pod or a bare address), and
// the same flow through compile(state, "") and the IR evaluator by address.
// A disagreement between the two is an error of that probe ("ir evaluator
// disagrees: ..."), as EvaluatorProber does for matrix cases.
#include "agent/conformance/flow_prober.h"

namespace palisade::agent::conformance {

class EvaluatorFlowProber : public FlowProber {
 public:
  FlowProbeReport probe(const policy::ClusterState& state,
                        const std::vector<FlowProbe>& probes) override;
};

}  // namespace palisade::agent::conformance
