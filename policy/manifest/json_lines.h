#pragma once
// Line numbers for JSON manifests. simdjson's DOM keeps no positions, so a
// cheap structural scan of the (already validated) text finds where each
// top-level object or List item starts.
#include <cstddef>
#include <string_view>
#include <vector>

namespace palisade::policy::manifest {

/// Byte offsets where the elements of the top-level array, or of the
/// top-level object's "items" array, start. Empty for anything else.
std::vector<size_t> jsonItemOffsets(std::string_view text);

/// Maps byte offsets to 1-based line numbers.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);
  int lineOf(size_t offset) const;

 private:
  std::vector<size_t> newlines_;
};

}  // namespace palisade::policy::manifest
