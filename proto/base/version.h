#pragma once
// The build's version (CMake's project version), for `--version`, the
// agent's status and metrics, and the checkpoint.

namespace palisade {

/// "0.1.0".
const char* version();

}  // namespace palisade
