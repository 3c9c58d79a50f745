#pragma once
// Probing single flows of a cluster-netpol case (README section 4): each
// probe is one connection attempt from a pod's address to a pod's, a node's
// or an outside address. The runner resolves the case's names to addresses
// in the state; a prober says what happens to each flow. The reference
// prober asks the evaluators (evaluator_flow_prober.h); a lab prober sends
// real packets between network namespaces built from the same state.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/net/ip.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent::conformance {

/// One connection attempt, resolved: addresses of the probe's family.
struct FlowProbe {
  policy::PodId src_pod = policy::kInvalidId;
  policy::IpAddress src;
  /// A `namespace/pod` destination (a host-network pod too: its address is
  /// its node's); none for `node/NAME` and `ip/ADDRESS`.
  std::optional<policy::PodId> dst_pod;
  policy::IpAddress dst;
  policy::Protocol protocol = policy::Protocol::TCP;
  int32_t port = 0;
};

/// What happened to one flow.
struct FlowOutcome {
  bool allowed = false;
  /// How each direction was decided (DirectionVerdict::describe()): which
  /// tier, policy and rule. Empty when the prober cannot tell (real packets).
  std::string egress;
  std::string ingress;
  /// This flow could not be judged reliably (the evaluators disagree, the
  /// probe could not be sent): any error fails the probe.
  std::vector<std::string> errors;
  /// Non-empty: this flow could not be probed at all (why), e.g. SCTP on a
  /// kernel without SCTP sockets. It is neither passed nor failed: the runner
  /// counts it and says so.
  std::string not_probed;
};

struct FlowProbeReport {
  std::vector<FlowOutcome> outcomes;  // one per probe, in order
  std::vector<std::string> errors;    // about the whole step; any error fails it
  std::string skipped;  // non-empty: the prober cannot probe this at all (why); the case is skipped
};

class FlowProber {
 public:
  virtual ~FlowProber() = default;
  /// Probes every flow against `state` (the topology, policies and labels
  /// after the step's changes).
  virtual FlowProbeReport probe(const policy::ClusterState& state,
                                const std::vector<FlowProbe>& probes) = 0;
};

}  // namespace palisade::agent::conformance
