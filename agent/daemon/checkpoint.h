#pragma once
// The checkpoint file: the last ruleset the kernel acknowledged, as a
// palisade.agent.v1.Checkpoint. Written atomically (temp file, fsync, rename,
// fsync of the directory) so a crash leaves the old or the new file, never a
// torn one. Format 2 carries the ruleset's SHA-256: a file that does not
// match it is corrupt and ignored (the caller logs why).
#include <optional>
#include <string>

#include "palisade/v1/checkpoint.pb.h"
#include "proto/base/result.h"

namespace palisade::agent {

inline constexpr uint32_t kCheckpointFormat = 2;

std::string checkpointPath(const std::string& state_dir);
Status writeCheckpoint(const std::string& state_dir,
                       const palisade::agent::v1::Checkpoint& checkpoint);
/// nullopt when absent; Error when present but unreadable or corrupt.
Result<std::optional<palisade::agent::v1::Checkpoint>> readCheckpoint(const std::string& state_dir);

}  // namespace palisade::agent
