#pragma once
// What every decoder carries: the object being decoded (for messages), the
// field path of the value at hand (built on the stack, turned into text only
// when something is wrong), and the diagnostics sink.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/model/diagnostic.h"

namespace palisade::policy::manifest {

/// A field path as a chain of stack frames: `spec.ingress[0].from[1]`.
/// Parents must outlive children, which the recursive decoders guarantee.
struct FieldPath {
  const FieldPath* parent = nullptr;
  std::string_view key;  // empty: an index into the parent list
  size_t index = 0;

  /// A top-level field; root("") is the document itself (for top-level fields
  /// such as EndpointSlice's `endpoints`).
  static FieldPath root(std::string_view key) { return FieldPath{nullptr, key, 0}; }
  FieldPath child(std::string_view k) const { return FieldPath{this, k, 0}; }
  FieldPath at(size_t i) const { return FieldPath{this, {}, i}; }
  std::string str() const;
};

class DecodeContext {
 public:
  DecodeContext(std::string_view kind, const SourceLocation& location, Diagnostics& diags)
      : kind_(kind), location_(location), diags_(diags) {}

  /// Names the object in later messages: "ns/name", or "name" when cluster-scoped.
  void setObject(std::string_view ns, std::string_view name);
  /// Records an error at `line` (0 = the object's own line) and marks the object invalid.
  void error(int line, const FieldPath* path, std::string message);
  void error(int line, const FieldPath& path, std::string message) {
    error(line, &path, std::move(message));
  }

  bool failed() const { return failed_; }
  const SourceLocation& location() const { return location_; }

 private:
  std::string_view kind_;
  const SourceLocation& location_;
  Diagnostics& diags_;
  std::string object_;
  bool failed_ = false;
};

}  // namespace palisade::policy::manifest
