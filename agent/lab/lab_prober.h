#pragma once
// The conformance runner's prober on a real lab (`palisade test --lab`): the
// case's pods become a lab (built once and reused across steps and cases
// while the pods and addresses stay the same; only the server is restarted
// when the served ports change), one ClusterIP Service per pod as upstream
// makes them, and every step's matrix is probed through the destination's
// Service ClusterIP after the step's policies are synced to every node.
#include <optional>
#include <string>
#include <vector>

#include "agent/conformance/runner.h"
#include "agent/lab/enforce.h"
#include "agent/lab/lab_state.h"

namespace palisade::agent::lab {

class LabProber : public conformance::Prober {
 public:
  /// `userspace_mode`: verdicts through the packet queue (NodeProgrammers::open).
  LabProber(std::string name, int nodes, int timeout_ms = 300, bool userspace_mode = false);
  ~LabProber() override;  // tears the lab down
  LabProber(const LabProber&) = delete;
  LabProber& operator=(const LabProber&) = delete;

  conformance::ProbeMatrix probe(const policy::ClusterState& state,
                                 const std::vector<policy::PodId>& pods, policy::Protocol protocol,
                                 int32_t port) override;

 private:
  Status ensureLab(const policy::ClusterState& state, const std::vector<policy::PodId>& pods,
                   LabPort probed);
  Status build(const policy::ClusterState& state, const std::vector<policy::PodId>& pods,
               LabPort probed);
  void teardown();

  std::string name_;
  int nodes_;
  int timeout_ms_;
  bool userspace_mode_;
  std::optional<LabState> lab_;
  std::optional<NodeProgrammers> programmers_;
};

}  // namespace palisade::agent::lab
