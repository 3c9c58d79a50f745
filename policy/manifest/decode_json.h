#pragma once
// Decoders for Kubernetes objects already parsed by simdjson (DOM API): the
// path the agent's API client uses for LIST/WATCH bodies, and the JSON half
// of the manifest reader. Same defaulting and validation as the YAML path.
// Each returns nullopt when the object is invalid, with the reasons appended
// to `diags`. `where` names the source in messages (file and line, or empty
// for API objects).
#include <simdjson.h>

#include <optional>

#include "policy/kinds/kinds.h"
#include "policy/manifest/reader.h"
#include "policy/model/diagnostic.h"
#include "policy/model/objects.h"

namespace palisade::policy {

/// Decodes `obj` as an object of kind `kind` (its own `kind` field is not
/// consulted: a reflector knows what it lists).
std::optional<AnyObject> decodeJsonAs(KindId kind, simdjson::dom::element obj,
                                      const SourceLocation& where, Diagnostics& diags);

/// The same, typed: decodeJson<Pod>(item, {}, diags).
template <class T>
std::optional<T> decodeJson(simdjson::dom::element obj, const SourceLocation& where,
                            Diagnostics& diags) {
  std::optional<AnyObject> any = decodeJsonAs(kindId<T>(), obj, where, diags);
  if (!any) return std::nullopt;
  return std::get<T>(std::move(*any));
}

/// Decodes one object by its `kind`, or every item of a List/`*List` (items of
/// a typed list such as PodList need no `kind`), into `out`. Unknown kinds go
/// to `out.notes`.
void decodeJsonObject(simdjson::dom::element obj, const SourceLocation& where, ManifestSet& out);

}  // namespace palisade::policy
