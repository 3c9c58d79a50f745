#include <yaml-cpp/yaml.h>

#include "policy/manifest/decode_dispatch.h"
#include "policy/manifest/node_yaml.h"
#include "policy/manifest/streams.h"

namespace palisade::policy::manifest {
namespace {

struct Chunk {
  std::string_view text;
  int first_line;  // 0-based line of the chunk's first line in the file
};

bool isDocumentStart(std::string_view line) {
  return line.starts_with("---") &&
         (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

/// Splits a stream at `---` lines so one broken document does not take the
/// others down with it (yaml-cpp's LoadAll gives up on the whole stream).
/// A `---` at column 0 always starts a document, even inside a scalar.
std::vector<Chunk> splitDocuments(std::string_view text) {
  std::vector<Chunk> chunks;
  size_t chunk_start = 0;
  int chunk_line = 0;
  int line_no = 0;
  for (size_t pos = 0; pos < text.size(); ++line_no) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    if (pos != chunk_start && isDocumentStart(text.substr(pos, eol - pos))) {
      chunks.push_back({text.substr(chunk_start, pos - chunk_start), chunk_line});
      chunk_start = pos;
      chunk_line = line_no;
    }
    pos = eol + 1;
  }
  if (chunk_start < text.size()) chunks.push_back({text.substr(chunk_start), chunk_line});
  return chunks;
}

}  // namespace

void readYamlStream(std::string_view text, const std::string& file, ManifestSet& out) {
  for (const Chunk& chunk : splitDocuments(text)) {
    try {
      const YamlNode doc(YAML::Load(std::string(chunk.text)), chunk.first_line);
      const SourceLocation loc{file, doc.line() > 0 ? doc.line() : chunk.first_line + 1};
      decodeDocument(doc, loc, "", out, [](size_t, const YamlNode& item) { return item.line(); });
    } catch (const YAML::Exception& e) {
      const int line = e.mark.line >= 0 ? e.mark.line + 1 + chunk.first_line : chunk.first_line + 1;
      documentError(SourceLocation{file, line}, "invalid YAML: " + e.msg, out.errors);
    } catch (const std::exception& e) {
      documentError(SourceLocation{file, chunk.first_line + 1},
                    std::string("cannot read document: ") + e.what(), out.errors);
    }
  }
}

}  // namespace palisade::policy::manifest
