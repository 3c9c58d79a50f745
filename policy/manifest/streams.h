#pragma once
// The two document-stream front ends behind readManifestText. Neither throws.
#include <string>
#include <string_view>

#include "policy/manifest/reader.h"

namespace palisade::policy::manifest {

/// A YAML stream of one or more `---`-separated documents.
void readYamlStream(std::string_view text, const std::string& file, ManifestSet& out);
/// One JSON value: an object, a List object, or an array of objects.
void readJsonStream(std::string_view text, const std::string& file, ManifestSet& out);

}  // namespace palisade::policy::manifest
