#include "agent/conformance/cluster_admission.h"

#include <string_view>
#include <variant>
#include <vector>

#include "policy/manifest/reader.h"

namespace palisade::agent::conformance {
namespace {

bool isPolicyKind(policy::KindId id) {
  return id == policy::kindId<policy::NetworkPolicy>() ||
         id == policy::kindId<policy::ClusterNetworkPolicy>() ||
         id == policy::kindId<policy::AdminNetworkPolicy>() ||
         id == policy::kindId<policy::BaselineAdminNetworkPolicy>();
}

/// Every object the reader decoded, in the order of the table of kinds.
std::vector<policy::AnyObject> objectsOf(const policy::ManifestSet& set) {
  std::vector<policy::AnyObject> out;
  policy::Kinds::forEach([&]<class K>() {
    for (const auto& object : set.*K::kObjects)
      out.emplace_back(std::in_place_type<typename K::Object>, object);
  });
  return out;
}

const policy::ObjectMeta& metaOf(const policy::AnyObject& object) {
  return std::visit([](const auto& o) -> const policy::ObjectMeta& { return o.meta; }, object);
}

}  // namespace

Result<policy::AnyObject> admitManifest(const CaseManifest& manifest, const Topology& topology) {
  const policy::ManifestSet set =
      policy::readManifestText(manifest.text, manifest.field, policy::ManifestFormat::Yaml);
  if (!set.errors.empty()) {
    // The position is in the re-emitted text, not the case file: leave it out.
    policy::Diagnostic first = set.errors.front();
    first.location = {};
    std::string why = first.format();
    if (set.errors.size() > 1) why += " (and " + std::to_string(set.errors.size() - 1) + " more)";
    return Error(0, why);
  }
  std::vector<policy::AnyObject> objects = objectsOf(set);
  if (objects.empty()) {
    // An unknown kind, or a known one at another apiVersion: no such resource.
    return Error(0, set.notes.empty() ? std::string("no object") : set.notes.front());
  }
  if (objects.size() > 1) return Error(0, "more than one object in one manifest");
  const policy::AnyObject& object = objects.front();
  const policy::KindInfo& kind = policy::kindInfo(policy::kindOf(object));
  if (!isPolicyKind(policy::kindOf(object)))
    return Error(0, std::string(kind.name) + " is not a policy kind");
  const std::string label = std::string(kind.name) + " " + metaOf(object).name;
  if (!manifest.has_api_version) return Error(0, label + ": apiVersion: required value");
  if (kind.namespaced) {
    if (!manifest.metadata_namespace || manifest.metadata_namespace->empty())
      return Error(0, label + ": metadata.namespace: required value");
    if (!topology.findNamespace(*manifest.metadata_namespace))
      return Error(0, label + ": metadata.namespace: namespace \"" + *manifest.metadata_namespace +
                          "\" does not exist");
  } else if (manifest.metadata_namespace && !manifest.metadata_namespace->empty()) {
    return Error(0, label + ": metadata.namespace: " + std::string(kind.name) +
                        " is cluster-scoped, it has no namespace");
  }
  return object;
}

}  // namespace palisade::agent::conformance
