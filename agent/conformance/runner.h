#pragma once
// Runs conformance cases: builds the case's model as a ClusterState, applies
// its steps in order, and grades a prober's matrix against each step's
// expectation. The prober is the part that differs between the dry-run CLI
// (the evaluator, cross-checked against the IR) and the lab (real packets).
#include <string>
#include <vector>

#include "agent/conformance/case_file.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent::conformance {

/// The verdicts of one probe step: allowed[i][j] for pods[i] → pods[j].
struct ProbeMatrix {
  std::vector<std::vector<bool>> allowed;
  std::vector<std::string> errors;  // prober-level problems; any error fails the step
  std::string skipped;  // non-empty: the prober cannot probe this at all (why); the case is skipped
};

class Prober {
 public:
  virtual ~Prober() = default;
  /// Probes every ordered pair of `pods` (including a pod to itself).
  virtual ProbeMatrix probe(const policy::ClusterState& state,
                            const std::vector<policy::PodId>& pods, policy::Protocol protocol,
                            int32_t port) = 0;
};

/// The reference prober: policy::evaluate over the state, and, for every
/// cell, the same flow through compile(state, "") and the IR evaluator by pod
/// IP. Disagreement is an error ("ir evaluator disagrees: ...").
class EvaluatorProber : public Prober {
 public:
  ProbeMatrix probe(const policy::ClusterState& state, const std::vector<policy::PodId>& pods,
                    policy::Protocol protocol, int32_t port) override;
};

struct CaseResult {
  std::string path;
  bool passed = false;
  bool skipped = false;  // a step could not be probed (detail says why)
  std::string detail;    // "step K: <cells>" (several steps joined by "; "; cluster-netpol
                         // cases: one failure per line)
  /// Probes the prober could not send (cluster-netpol), with why: shown beside
  /// PASS so that a pass never hides what was not checked.
  std::string not_probed;
};

/// Builds the case's starting model: namespaces labelled
/// kubernetes.io/metadata.name, pods labelled pod=<name> with container ports
/// serve-<port>-<proto>, IPs from pod_ips or the 10.0.<ns>.<pod> plan.
/// Fails when pod_ips holds a bad address or pod_ips/pod_ports name a pod
/// outside the model.
Status buildModel(const CaseFile& c, policy::ClusterState& state);

/// Runs one parsed case.
CaseResult runCase(const CaseFile& c, Prober& prober);

}  // namespace palisade::agent::conformance
