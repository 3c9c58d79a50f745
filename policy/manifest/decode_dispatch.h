#pragma once
// One document (or List item) → the right kind decoder → ManifestSet.
// Shared by the YAML and JSON front ends.
#include <string>
#include <string_view>

#include "policy/kinds/kinds.h"
#include "policy/manifest/reader.h"

namespace palisade::policy::manifest {

/// "FILE:LINE: " (or "FILE: ", or "") for notes.
std::string locationPrefix(const SourceLocation& loc);
/// A diagnostic about a document that is not an object we can name.
void documentError(const SourceLocation& loc, std::string message, Diagnostics& diags);

/// Decodes `root` as `Kind` into `vec` when valid (errors go to `diags`).
template <class T, DocumentNode N, class Decode>
void decodeInto(const N& root, std::string_view kind, const SourceLocation& loc, Diagnostics& diags,
                std::vector<T>& vec, Decode&& decode) {
  DecodeContext ctx(kind, loc, diags);
  if (auto obj = decode(root, ctx)) vec.push_back(std::move(*obj));
}

/// Decodes one object or List. `implied_kind` names items of a typed list
/// (items of a PodList from the API server carry no `kind`). `item_line(i, item)`
/// gives the line of the i-th List item.
template <DocumentNode N, class ItemLine>
void decodeDocument(const N& doc, const SourceLocation& loc, std::string_view implied_kind,
                    ManifestSet& out, ItemLine&& item_line, int depth = 0) {
  if (doc.kind() == NodeKind::Null) return;  // an empty document, e.g. a trailing `---`
  if (doc.kind() != NodeKind::Map) {
    documentError(loc, std::string("document is not a mapping (got ") + describe(doc.kind()) + ")",
                  out.errors);
    return;
  }
  std::string_view kind = implied_kind;
  if (auto k = doc.get("kind")) {
    if (k->kind() != NodeKind::String) {
      documentError(loc, std::string("kind: expected a string, got ") + describe(k->kind()),
                    out.errors);
      return;
    }
    kind = k->str();
  }
  if (kind.empty()) {
    documentError(loc, "missing kind", out.errors);
    return;
  }
  std::string_view api_version;
  if (auto v = doc.get("apiVersion"); v && v->kind() == NodeKind::String) api_version = v->str();

  if (kind.ends_with("List") && depth == 0) {
    auto items = doc.get("items");
    if (!items) return;  // an empty list
    if (items->kind() != NodeKind::Seq) {
      documentError(loc, std::string("items: expected a list, got ") + describe(items->kind()),
                    out.errors);
      return;
    }
    const std::string_view item_kind = kind.substr(0, kind.size() - 4);
    items->forEachElement([&](size_t i, const N& item) {
      const SourceLocation item_loc{loc.file, item_line(i, item)};
      decodeDocument(item.withLine(item_loc.line), item_loc, item_kind, out, item_line, depth + 1);
    });
    return;
  }

  // A known kind at another apiVersion (e.g. extensions/v1beta1) is skipped like an unknown
  // kind; a missing apiVersion is tolerated for hand-written manifests.
  if (const std::optional<KindId> id = findKind(kind, api_version)) {
    Kinds::with(*id, [&]<class K>() {
      decodeInto(doc, kind, loc, out.errors, out.*K::kObjects,
                 [](const N& n, DecodeContext& c) { return K::decode(n, c); });
    });
  } else {
    std::string note = locationPrefix(loc) + "skipping kind " + std::string(kind);
    if (!api_version.empty()) note += " " + std::string(api_version);
    if (auto md = doc.get("metadata")) {
      auto ns = md->get("namespace");
      auto name = md->get("name");
      if (name && name->kind() == NodeKind::String) {
        note += ' ';
        if (ns && ns->kind() == NodeKind::String && !ns->str().empty()) {
          note += ns->str();
          note += '/';
        }
        note += name->str();
      }
    }
    out.notes.push_back(std::move(note));
  }
}

}  // namespace palisade::policy::manifest
