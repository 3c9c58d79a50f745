// libFuzzer target: a watch response body, as the API server (or anything in
// between) sends it, cut into pieces at arbitrary boundaries, through the
// agent's decoding path: LineAssembler → simdjson (in place: the assembler
// promises the padding, ASan checks it) → the event's type, object and
// metadata as Reflector::onEvent reads them → policy::decodeJsonAs for the
// reflector's kind, as ApiSource::onObject does. Nothing may crash or throw
// out; an invalid object is a nullopt with diagnostics.
//   byte 0: the kind the reflector lists (policy::Kinds index);
//   byte 1: the piece size (1..256 bytes) the body arrives in;
//   rest:   the body, newline-delimited JSON events.
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/k8s/line_assembler.h"
#include "policy/kinds/kinds.h"
#include "policy/manifest/decode_json.h"

namespace {

using namespace palisade;

std::string_view stringField(simdjson::dom::element obj, std::string_view key) {
  std::string_view v;
  if (obj[key].get_string().get(v)) return {};
  return v;
}

void onEvent(simdjson::dom::parser& parser, policy::KindId kind, const char* data, size_t len) {
  simdjson::dom::element doc;
  if (parser.parse(data, len, false).get(doc)) return;
  const std::string_view type = stringField(doc, "type");
  simdjson::dom::element object;
  if (doc["object"].get(object)) return;
  if (type == "ERROR") {
    int64_t code = 0;
    if (object["code"].get_int64().get(code)) code = 0;
    if (code != 410) (void)stringField(object, "message");
    return;
  }
  simdjson::dom::element meta;
  if (object["metadata"].get(meta)) return;
  (void)stringField(meta, "resourceVersion");
  if (type == "BOOKMARK") {
    std::string_view end;
    if (meta["annotations"]["k8s.io/initial-events-end"].get_string().get(end)) end = {};
    return;
  }
  if (stringField(meta, "name").empty()) return;
  (void)stringField(meta, "namespace");
  if (type == "DELETED") return;
  policy::Diagnostics diags;
  std::optional<policy::AnyObject> decoded = policy::decodeJsonAs(kind, object, {}, diags);
  if (!decoded && diags.empty()) __builtin_trap();  // a rejection always says why
  for (const auto& d : diags) (void)d.format();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const policy::KindId kind{uint8_t(data[0] % policy::Kinds::kSize)};
  const size_t piece = size_t(data[1]) + 1;
  std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  static simdjson::dom::parser parser;
  // A small line limit, so that the limit's path is reached too.
  agent::k8s::LineAssembler lines(64 << 10);
  while (!body.empty()) {
    const std::string_view p = body.substr(0, std::min(piece, body.size()));
    body.remove_prefix(p.size());
    if (!lines.feed(p, [&](const char* line, size_t len) { onEvent(parser, kind, line, len); }))
      break;  // the reflector restarts the watch
  }
  return 0;
}
