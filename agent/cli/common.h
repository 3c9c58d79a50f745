#pragma once
// Pieces every dry-run command shares: loading manifests into a ClusterState,
// naming flow ends on the command line, and exit codes.
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/evaluate/evaluate.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"
#include "proto/base/result.h"

namespace palisade::agent::cli {

/// Exit codes shared by every command.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // invalid objects (check, reach), failed cases (test)
constexpr int kExitUsage = 2;   // bad arguments, unknown pod, unreadable input

/// The state built from the valid objects, and how many errors the rest had.
struct LoadedState {
  policy::ClusterState state;
  size_t errors = 0;  // error diagnostics (invalid objects, unreadable files)
};

/// Reads manifests and builds the state. Invalid objects are left out (the
/// rest still apply, as in the agent) and reported on `err` as warnings;
/// notes go to `err` too.
LoadedState loadState(const std::vector<std::string>& paths, std::ostream& err);

/// "TCP"/"tcp"/"UDP"/"SCTP" → Protocol; nullopt when unknown.
std::optional<policy::Protocol> parseProtocolArg(std::string_view text);

/// A flow end named on the command line: NS/POD or an IP address (which is
/// the pod owning it, when there is one).
struct NamedEnd {
  policy::FlowEnd end;
  std::string label;  // "x/a", or "192.0.2.1"
};

/// Resolves NS/POD or IP; an Error when it names nothing.
Result<NamedEnd> resolveEnd(const policy::ClusterState& state, std::string_view text);

/// The label of a pod's flow end ("ns/name").
NamedEnd podEnd(const policy::ClusterState& state, policy::PodId id);

}  // namespace palisade::agent::cli
