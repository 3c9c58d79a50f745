#include "agent/daemon/manifest_last_good.h"

#include <algorithm>
#include <set>
#include <string_view>
#include <utility>

#include "policy/kinds/kinds.h"

namespace palisade::agent {
namespace {

using policy::Kinds;

/// "NetworkPolicy|web/deny": the identity an object has in the reader's
/// diagnostics (Diagnostic::kind, Diagnostic::object).
std::string objectKey(std::string_view kind, const policy::ObjectMeta& meta) {
  std::string key(kind);
  key += '|';
  if (!meta.namespace_.empty()) {
    key += meta.namespace_;
    key += '/';
  }
  key += meta.name;
  return key;
}

/// The identity a rejected document still gives, or "" when it gives none we
/// can trust: no kind or name read yet, or the name or namespace is what is
/// wrong (then the name it shows is not the one its last good version had).
std::string diagnosticKey(const policy::Diagnostic& d) {
  if (d.kind.empty() || d.object.empty()) return {};
  if (d.field == "metadata" || d.field.starts_with("metadata.name")) return {};
  return d.kind + "|" + d.object;  // metadata.name is a prefix of metadata.namespace
}

}  // namespace

ManifestMerge LastGoodManifests::update(std::vector<FileManifests> files, bool listing_complete,
                                        policy::Diagnostics listing_errors) {
  ManifestMerge out;
  // The fresh read as a whole: what it defines wins over any last good version.
  std::set<std::string> listed;
  for (FileManifests& f : files) {
    listed.insert(f.path);
    out.in_force.merge(std::move(f.set));
  }
  policy::dropDuplicateObjects(out.in_force);
  std::set<std::string> defined;
  std::map<std::string, policy::ManifestSet> next;  // the new last good, by file
  Kinds::forEach([&]<class K>() {
    for (const auto& obj : out.in_force.*K::kObjects) {
      defined.insert(objectKey(K::kInfo.name, obj.meta));
      (next[obj.meta.location.file].*K::kObjects).push_back(obj);
    }
  });
  std::map<std::string, policy::Diagnostics> errors_by_file;
  for (policy::Diagnostic& d : out.in_force.errors)
    errors_by_file[d.location.file].push_back(std::move(d));
  out.in_force.errors.clear();

  // Copies the last good objects of `file` that `keep(key)` wants and the
  // fresh read does not define into the state and into the file's new last good.
  auto keep_from = [&](const std::string& file, auto&& keep, std::set<std::string>& kept) {
    auto last = last_good_.find(file);
    if (last == last_good_.end()) return;
    Kinds::forEach([&]<class K>() {
      for (const auto& obj : last->second.*K::kObjects) {
        std::string key = objectKey(K::kInfo.name, obj.meta);
        if (defined.contains(key) || !keep(key)) continue;
        (out.in_force.*K::kObjects).push_back(obj);
        (next[file].*K::kObjects).push_back(obj);
        kept.insert(std::move(key));
      }
    });
  };

  for (auto& [file, errors] : errors_by_file) {
    bool unidentified = false;
    std::set<std::string> wanted;
    for (const policy::Diagnostic& d : errors) {
      std::string key = diagnosticKey(d);
      if (key.empty()) {
        unidentified = true;
      } else {
        wanted.insert(std::move(key));
      }
    }
    std::set<std::string> kept;
    keep_from(
        file, [&](const std::string& key) { return unidentified || wanted.contains(key); }, kept);
    for (policy::Diagnostic& d : errors) {
      const std::string key = diagnosticKey(d);
      std::string outcome;
      if (key.empty()) {
        outcome = kept.empty()
                      ? "document without an identity; the file has no other last good "
                        "object: nothing kept"
                      : "document without an identity: the file's " + std::to_string(kept.size()) +
                            " last good objects that the new read does not define stay "
                            "in force";
      } else if (defined.contains(key)) {
        outcome = "another definition of the object is in force";
      } else if (kept.contains(key)) {
        outcome = "its last good version stays in force";
      } else {
        outcome = "no last good version: it contributes nothing";
      }
      out.rejected.push_back({std::move(d), std::move(outcome)});
    }
    next.try_emplace(file);  // a file all of whose documents are broken is still known
    out.stale.push_back({file, errors.size(), kept.size()});
  }

  // Files gone from the listing: deleted, unless the listing itself failed.
  for (const auto& [file, set] : last_good_) {
    if (listed.contains(file) || listing_complete) continue;
    std::set<std::string> kept;
    keep_from(
        file, [](const std::string&) { return true; }, kept);
    out.stale.push_back({file, 0, kept.size()});
  }
  for (policy::Diagnostic& d : listing_errors)
    out.rejected.push_back(
        {std::move(d), "files the listing did not reach keep their last good objects"});
  std::sort(out.stale.begin(), out.stale.end(),
            [](const StaleFile& a, const StaleFile& b) { return a.file < b.file; });
  last_good_ = std::move(next);
  return out;
}

}  // namespace palisade::agent
