#pragma once
// Decoders for Kubernetes objects already parsed by simdjson (DOM API): the
// path the agent's API client uses for LIST/WATCH bodies, and the JSON half
// of the manifest reader. Same defaulting and validation as the YAML path.
// Each returns nullopt when the object is invalid, with the reasons appended
// to `diags`. `where` names the source in messages (file and line, or empty
// for API objects).
#include <simdjson.h>

#include <optional>

#include "policy/manifest/reader.h"
#include "policy/model/diagnostic.h"
#include "policy/model/objects.h"

namespace palisade::policy {

std::optional<Namespace> decodeNamespace(simdjson::dom::element obj, const SourceLocation& where,
                                         Diagnostics& diags);
std::optional<Pod> decodePod(simdjson::dom::element obj, const SourceLocation& where,
                             Diagnostics& diags);
std::optional<NetworkPolicy> decodeNetworkPolicy(simdjson::dom::element obj,
                                                 const SourceLocation& where, Diagnostics& diags);
std::optional<Service> decodeService(simdjson::dom::element obj, const SourceLocation& where,
                                     Diagnostics& diags);
std::optional<EndpointSlice> decodeEndpointSlice(simdjson::dom::element obj,
                                                 const SourceLocation& where, Diagnostics& diags);
std::optional<Node> decodeNode(simdjson::dom::element obj, const SourceLocation& where,
                               Diagnostics& diags);

/// Decodes one object by its `kind`, or every item of a List/`*List` (items of
/// a typed list such as PodList need no `kind`), into `out`. Unknown kinds go
/// to `out.notes`.
void decodeJsonObject(simdjson::dom::element obj, const SourceLocation& where, ManifestSet& out);

}  // namespace palisade::policy
