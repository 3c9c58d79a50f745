#include <simdjson.h>

#include "policy/manifest/decode_dispatch.h"
#include "policy/manifest/json_lines.h"
#include "policy/manifest/node_json.h"
#include "policy/manifest/streams.h"

namespace palisade::policy::manifest {

void readJsonStream(std::string_view text, const std::string& file, ManifestSet& out) {
  simdjson::dom::parser parser;
  const simdjson::padded_string padded(text.data(), text.size());
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root)) {
    documentError(SourceLocation{file, 0},
                  std::string("invalid JSON: ") + simdjson::error_message(err), out.errors);
    return;
  }
  const LineIndex lines(text);
  const std::vector<size_t> starts = jsonItemOffsets(text);
  const size_t first = text.find_first_not_of(" \t\r\n");
  const int top_line = lines.lineOf(first == std::string_view::npos ? 0 : first);
  auto item_line = [&](size_t i, const JsonNode& item) {
    return i < starts.size() ? lines.lineOf(starts[i]) : item.line();
  };
  const JsonNode top(root, top_line);
  if (top.kind() == NodeKind::Seq) {  // a bare array of objects
    top.forEachElement([&](size_t i, const JsonNode& item) {
      const SourceLocation loc{file, item_line(i, item)};
      decodeDocument(item.withLine(loc.line), loc, "", out,
                     [&](size_t, const JsonNode& nested) { return nested.line(); });
    });
    return;
  }
  decodeDocument(top, SourceLocation{file, top_line}, "", out, item_line);
}

}  // namespace palisade::policy::manifest
