// Every upstream API fixture (k8s.io/api testdata, placeholder values) must be
// read without crashing or hanging, and its kind recognised. Errors are
// expected: "cidrValue" is no CIDR.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "policy/manifest/reader.h"

namespace palisade::policy {
namespace {

namespace fs = std::filesystem;

TEST(ApiFixtures, EveryFixtureParsesAndItsKindIsRecognised) {
  const fs::path dir = fs::path(PALISADE_SHARED_DIR) / "k8s-fixtures/api/testdata/HEAD";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no fixtures at " << dir;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (ext == ".json" || ext == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    ManifestSet set = readManifests({file.string()});
    EXPECT_TRUE(set.notes.empty()) << set.notes.front();
    // The file name is group.version.Kind.ext: the kind must be what was decoded or blamed.
    const std::string stem = file.stem().string();
    const std::string kind = stem.substr(stem.rfind('.') + 1);
    const size_t decoded = set.namespaces.size() + set.pods.size() + set.policies.size() +
                           set.services.size() + set.endpoint_slices.size() + set.nodes.size();
    const bool blamed = std::any_of(set.errors.begin(), set.errors.end(),
                                    [&](const Diagnostic& d) { return d.kind == kind; });
    EXPECT_TRUE(decoded == 1 || blamed) << kind;
    for (const Diagnostic& d : set.errors) {
      EXPECT_EQ(d.location.file, file.string());
      EXPECT_GT(d.location.line, 0) << d.format();
    }
  }
}

}  // namespace
}  // namespace palisade::policy
