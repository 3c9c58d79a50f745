#pragma once
// Reads Kubernetes manifests (YAML, multi-document, `kind: List`, and JSON)
// from files and directories into validated, defaulted objects. Invalid
// objects are reported in `errors` and left out; the rest are kept.
#include <string>
#include <string_view>
#include <vector>

#include "policy/model/cluster_policy.h"
#include "policy/model/diagnostic.h"
#include "policy/model/objects.h"

namespace palisade::policy {

struct ManifestSet {
  std::vector<Namespace> namespaces;
  std::vector<Pod> pods;
  std::vector<NetworkPolicy> policies;
  std::vector<Service> services;
  std::vector<EndpointSlice> endpoint_slices;
  std::vector<Node> nodes;
  std::vector<ClusterNetworkPolicy> cluster_network_policies;
  std::vector<AdminNetworkPolicy> admin_network_policies;
  std::vector<BaselineAdminNetworkPolicy> baseline_admin_network_policies;
  Diagnostics errors;              // invalid objects (left out of the vectors above)
  std::vector<std::string> notes;  // skipped unknown kinds etc., for stderr

  /// Appends `other` (used to merge several files).
  void merge(ManifestSet&& other);
};

enum class ManifestFormat { Auto, Yaml, Json };

/// Reads every path (a file, or a directory walked recursively for
/// *.yaml|*.yml|*.json, in sorted order). Unreadable paths become errors.
/// Duplicate objects (same kind, namespace, name) across all paths are errors.
ManifestSet readManifests(const std::vector<std::string>& paths);

/// The manifest files under `dir` (*.yaml|*.yml|*.json, recursively, sorted),
/// as readManifests walks it. A listing error is appended to `errors` (the
/// files listed before it are returned).
std::vector<std::string> listManifestFiles(const std::string& dir, Diagnostics& errors);

/// Reads one file; an unreadable file is one error naming only the file.
/// Duplicates within the file are errors.
ManifestSet readManifestFile(const std::string& path);

/// Drops every object with the kind, namespace and name of an earlier one,
/// with an error naming both places (readManifests does this across paths).
void dropDuplicateObjects(ManifestSet& set);

/// Reads one document stream already in memory. `filename` is for messages.
ManifestSet readManifestText(std::string_view text, std::string_view filename,
                             ManifestFormat format = ManifestFormat::Auto);

}  // namespace palisade::policy
