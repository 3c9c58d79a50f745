#pragma once
// The daemon's wiring: kernel, reconcile loop, source (API or manifests),
// operability endpoint and signals. Runs until SIGTERM/SIGINT; SIGHUP forces
// a full resync. Shutdown leaves the table in the kernel.
#include "agent/daemon/flags.h"

namespace palisade::agent {

/// Returns the process exit code.
int runAgent(const AgentFlags& flags);

}  // namespace palisade::agent
