#include "proto/base/version.h"

namespace palisade {

const char* version() { return PALISADE_VERSION; }

}  // namespace palisade
