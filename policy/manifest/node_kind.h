#pragma once
// The value kinds both document adapters (YAML and JSON) report, so one set of
// decode functions can check types the same way for either format.
#include <cstdint>

namespace palisade::policy::manifest {

enum class NodeKind : uint8_t { Null, Bool, Int, Float, String, Map, Seq };

/// "a mapping", "a string"... for "expected X, got Y" messages.
inline const char* describe(NodeKind k) {
  switch (k) {
    case NodeKind::Null:
      return "null";
    case NodeKind::Bool:
      return "a boolean";
    case NodeKind::Int:
      return "an integer";
    case NodeKind::Float:
      return "a number";
    case NodeKind::String:
      return "a string";
    case NodeKind::Map:
      return "a mapping";
    case NodeKind::Seq:
      return "a list";
  }
  return "?";
}

}  // namespace palisade::policy::manifest
