#pragma once
// The IR (palisade/v1/ir.proto) under the one name the code spells it by:
// `ir::Ruleset` inside namespace palisade, `palisade::ir::Ruleset` outside.
// The proto package keeps its version (palisade.ir.v1) for the wire; code
// names the current version through this using-directive only.
#include "palisade/v1/ir.pb.h"

namespace palisade::ir {
using namespace v1;  // NOLINT(google-build-using-namespace): the one alias of the IR version
}  // namespace palisade::ir
