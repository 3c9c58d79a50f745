#pragma once
// The lab's operations, each usable from a separate process: everything a
// command needs is read back from the lab's recorded state.
//
//   up     plan → namespaces and links → Services (nft, kube-proxy style)
//          → policy datapath per node (Programmer) → `lab serve` process
//   apply  more manifests (policies, labels) → Services and rulesets re-synced (deltas)
//   probe  real connections for every ordered pair of pods
//   down   serve process killed, recorded namespaces deleted, state removed
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent::lab {

struct UpOptions {
  std::string name = "lab";
  std::vector<std::string> files;
  int nodes = 0;
  std::string exe;  // the palisade binary that runs `lab serve` (default /proc/self/exe)
};

/// Builds the lab; on any failure removes what it made. `log` gets progress lines.
Result<LabState> labUp(const UpOptions& options, std::ostream& log);

/// Applies more manifests (policies, namespace and pod labels) and re-syncs.
Status labApply(const std::string& name, const std::vector<std::string>& files, std::ostream& log);

enum class Via { Pod, Service };

struct ProbeResult {
  std::vector<std::string> names;          // "ns/pod", reach order
  std::vector<std::vector<bool>> allowed;  // [from][to]; false where not probed
  std::vector<bool> served;                // [to]: the pod listens on protocol/port
  /// [from][to]: a connection was made and its answer says something about
  /// enforcement (a target address of both ends' family, a Service when
  /// --via service, a listener). Where false, `allowed` is no verdict.
  std::vector<std::vector<bool>> probed;
  std::vector<std::string> notes;  // cells probed oddly or not at all
  double seconds = 0;
};

/// Probes every ordered pair of the lab's pods (reach's order: namespace, name).
Result<ProbeResult> labProbe(const LabState& lab, const policy::ClusterState& state,
                             policy::Protocol protocol, int32_t port, Via via,
                             int timeout_ms = 250);

/// Stops the server and deletes what the state records (only names with the
/// lab's prefix), then the state itself. Works when the server already died.
Status labDown(const std::string& name, std::ostream& log);

/// A duration for people, to the hundredth of a second: "0.10", "< 0.01".
std::string formatSeconds(double seconds);

/// Starts `exe lab serve --name LAB` detached (own session, output in
/// <state>/serve.log) and waits until its sockets are open. Returns its pid.
Result<int> startServer(const std::string& name, const std::string& exe);
/// SIGTERM (then SIGKILL) to a recorded server pid, if it still is our server.
void stopServer(const std::string& name, int pid);

}  // namespace palisade::agent::lab
