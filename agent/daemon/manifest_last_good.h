#pragma once
// Standalone mode's memory: the last good version of every manifest file's
// objects, so that a document that stops parsing keeps what it last said in
// force instead of taking its NetworkPolicy (and its pods' isolation) away.
// The API path behaves the same way for a rejected object (api_source.h).
//
// Grain. A broken document is matched to its last good version by identity
// (file, kind, namespace/name) whenever the broken document still yields one
// we can trust: the decoder named the object (kind and metadata read) and the
// error is not in metadata.name/namespace themselves. Then exactly that
// object keeps its last good version. A document that yields no identity
// (invalid YAML, not a mapping, no kind, an unreadable file) could be any of
// the file's objects, so every last good object of that file that the new
// read does not define (anywhere) stays in force. We do not match by document
// index: an edit that breaks a document while adding or removing another one
// before it shifts the indices, and an index match would then keep the wrong
// object and drop the broken one's — the loss this file exists to prevent.
// The price of the coarser match is that an object deleted in the same edit
// as an unidentifiable break stays until the file parses again; the file is
// reported stale meanwhile.
//
// A file that is gone from the directory takes its objects with it (that is
// a change, not an error), unless the listing itself failed. A broken
// document without a last good version (e.g. at start) contributes nothing.
#include <map>
#include <string>
#include <vector>

#include "policy/manifest/reader.h"

namespace palisade::agent {

/// One file of the directory as read now (policy::readManifestFile).
struct FileManifests {
  std::string path;
  policy::ManifestSet set;
};

/// A document (or object) of a file that was rejected, and what stays in force for it.
struct RejectedDocument {
  policy::Diagnostic diagnostic;
  /// "its last good version stays in force", "no last good version: it contributes nothing", ...
  std::string outcome;
};

/// A file with at least one rejected document.
struct StaleFile {
  std::string file;
  size_t rejected = 0;  // rejected documents/objects in the current read
  size_t kept = 0;      // last good objects of the file kept in force for them
};

struct ManifestMerge {
  policy::ManifestSet in_force;  // what the reconciler gets (no errors; notes kept)
  std::vector<RejectedDocument> rejected;
  std::vector<StaleFile> stale;  // sorted by file
};

class LastGoodManifests {
 public:
  /// Merges a fresh read of the whole directory with the last good versions.
  /// `files`: every file the listing found; `listing_complete` false when the
  /// listing failed partway (then a file missing from it is kept, not removed).
  /// `listing_errors` go into `rejected` as they are.
  ManifestMerge update(std::vector<FileManifests> files, bool listing_complete,
                       policy::Diagnostics listing_errors = {});

  /// Files whose last good objects are known (tests).
  size_t files() const { return last_good_.size(); }

 private:
  std::map<std::string, policy::ManifestSet> last_good_;  // by path: what is in force from it
};

}  // namespace palisade::agent
