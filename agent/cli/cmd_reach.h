#pragma once
// `palisade reach -f PATH... [--protocol TCP] [--port 80] [-o table|json]`:
// the verdict for every ordered pair of pods, a pod to itself included.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "policy/state/cluster_state.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct ReachOptions {
  std::vector<std::string> files;
  std::string protocol = "TCP";
  int32_t port = 80;
  std::string output = "table";
};

CLI::App* addReachCommand(CLI::App& app, ReachOptions& opts);

/// Exit 1 when any input was invalid (as `check`), after printing the matrix
/// of the valid objects; exit 0 with a note on stderr when there are no pods.
int runReach(const ReachOptions& opts, std::ostream& out, std::ostream& err);

/// The grid of the upstream truth tables: a header row of `ns/pod` names,
/// one row per source, `.` allowed and `X` denied.
std::string renderReachTable(const std::vector<std::string>& names,
                             const std::vector<std::vector<bool>>& allowed);

/// The same grid with any one-character marks: marks[from][to].
std::string renderGrid(const std::vector<std::string>& names,
                       const std::vector<std::vector<char>>& marks);

/// Every ordered pair of live pods (sorted by namespace, name) through the
/// state evaluator: allowed[from][to].
std::vector<std::vector<bool>> reachMatrix(const policy::ClusterState& state,
                                           const std::vector<policy::PodId>& pods,
                                           policy::Protocol protocol, int32_t port);

}  // namespace palisade::agent::cli
