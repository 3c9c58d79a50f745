#include "policy/manifest/decode_json.h"

#include "policy/manifest/decode_dispatch.h"
#include "policy/manifest/node_json.h"

namespace palisade::policy {
using manifest::DecodeContext;
using manifest::JsonNode;

std::optional<AnyObject> decodeJsonAs(KindId kind, simdjson::dom::element obj,
                                      const SourceLocation& where, Diagnostics& diags) {
  std::optional<AnyObject> out;
  Kinds::with(kind, [&]<class K>() {
    DecodeContext ctx(K::kInfo.name, where, diags);
    const JsonNode root(obj, where.line);
    if (root.kind() != manifest::NodeKind::Map) {
      ctx.error(0, nullptr, "expected a mapping");
      return;
    }
    if (auto decoded = K::decode(root, ctx)) out.emplace(std::move(*decoded));
  });
  return out;
}

void decodeJsonObject(simdjson::dom::element obj, const SourceLocation& where, ManifestSet& out) {
  manifest::decodeDocument(JsonNode(obj, where.line), where, "", out,
                           [](size_t, const JsonNode& item) { return item.line(); });
}

}  // namespace palisade::policy
