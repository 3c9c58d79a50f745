#include "policy/manifest/decode_json.h"

#include "policy/manifest/decode_dispatch.h"
#include "policy/manifest/node_json.h"

namespace palisade::policy {
namespace {

using manifest::DecodeContext;
using manifest::JsonNode;

template <class T, class Decode>
std::optional<T> decodeOne(simdjson::dom::element obj, const SourceLocation& where,
                           Diagnostics& diags, std::string_view kind, Decode&& decode) {
  DecodeContext ctx(kind, where, diags);
  const JsonNode root(obj, where.line);
  if (root.kind() != manifest::NodeKind::Map) {
    ctx.error(0, nullptr, "expected a mapping");
    return std::nullopt;
  }
  return decode(root, ctx);
}

}  // namespace

std::optional<Namespace> decodeNamespace(simdjson::dom::element obj, const SourceLocation& where,
                                         Diagnostics& diags) {
  return decodeOne<Namespace>(obj, where, diags, "Namespace", [](const JsonNode& n, auto& c) {
    return manifest::decodeNamespaceT(n, c);
  });
}

std::optional<Pod> decodePod(simdjson::dom::element obj, const SourceLocation& where,
                             Diagnostics& diags) {
  return decodeOne<Pod>(obj, where, diags, "Pod",
                        [](const JsonNode& n, auto& c) { return manifest::decodePodT(n, c); });
}

std::optional<NetworkPolicy> decodeNetworkPolicy(simdjson::dom::element obj,
                                                 const SourceLocation& where, Diagnostics& diags) {
  return decodeOne<NetworkPolicy>(
      obj, where, diags, "NetworkPolicy",
      [](const JsonNode& n, auto& c) { return manifest::decodeNetworkPolicyT(n, c); });
}

std::optional<Service> decodeService(simdjson::dom::element obj, const SourceLocation& where,
                                     Diagnostics& diags) {
  return decodeOne<Service>(obj, where, diags, "Service", [](const JsonNode& n, auto& c) {
    return manifest::decodeServiceT(n, c);
  });
}

std::optional<EndpointSlice> decodeEndpointSlice(simdjson::dom::element obj,
                                                 const SourceLocation& where, Diagnostics& diags) {
  return decodeOne<EndpointSlice>(
      obj, where, diags, "EndpointSlice",
      [](const JsonNode& n, auto& c) { return manifest::decodeEndpointSliceT(n, c); });
}

std::optional<Node> decodeNode(simdjson::dom::element obj, const SourceLocation& where,
                               Diagnostics& diags) {
  return decodeOne<Node>(obj, where, diags, "Node",
                         [](const JsonNode& n, auto& c) { return manifest::decodeNodeT(n, c); });
}

void decodeJsonObject(simdjson::dom::element obj, const SourceLocation& where, ManifestSet& out) {
  manifest::decodeDocument(JsonNode(obj, where.line), where, "", out,
                           [](size_t, const JsonNode& item) { return item.line(); });
}

}  // namespace palisade::policy
