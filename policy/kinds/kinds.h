#pragma once
// Every object kind palisade reads, in one table. A kind's entry names it as
// the API does (kind, group, version, resource), says how the agent watches
// it (which is also what RBAC must grant), and binds its decoder, its
// ManifestSet field and its ClusterState writers. Everything that handles
// "any object" iterates this table — the manifest reader, the JSON decoder
// the API client uses, the agent's reflectors and reconcile loop, the RBAC
// check of deploy/ — so adding a kind is one entry here plus its decoder and
// its semantics.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "policy/manifest/decode_cluster_policy.h"
#include "policy/manifest/decode_core.h"
#include "policy/manifest/decode_policy.h"
#include "policy/manifest/decode_service.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"

namespace palisade::policy {

/// What the agent lists and watches of a kind.
enum class WatchScope : uint8_t {
  All,       // every object of the cluster
  ThisNode,  // only the agent's own (fieldSelector metadata.name=<node>)
};

/// A kind as the API names it. RBAC: the agent needs `list` and `watch` on
/// `resource` in `group` for every kind (deploy/rbac.yaml, held to this
/// table by a test).
struct KindInfo {
  std::string_view name;      // "NetworkPolicy"
  std::string_view group;     // "networking.k8s.io"; "" = the core group
  std::string_view version;   // "v1"
  std::string_view resource;  // "networkpolicies": the URL segment and the RBAC resource
  bool namespaced = true;
  WatchScope watch = WatchScope::All;
  /// Served only where a CRD installs it: the agent treats the resource's
  /// absence (404) as "none yet" and looks for it again, never as an error.
  bool custom = false;

  /// "networking.k8s.io/v1", or "v1" for the core group.
  std::string apiVersion() const {
    return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  }
  /// The cluster-wide collection: "/api/v1/pods", "/apis/networking.k8s.io/v1/networkpolicies".
  std::string collectionPath() const {
    return (group.empty() ? "/api/" : "/apis/") + apiVersion() + "/" + std::string(resource);
  }
};

namespace kinds {

// One entry per kind. `decode` is the manifest decoder for either document
// adapter (YAML or JSON); `objects` the kind's vector in a ManifestSet;
// `upsert`/`remove` its ClusterState writers.

struct NamespaceKind {
  using Object = Namespace;
  static constexpr KindInfo kInfo{"Namespace", "", "v1", "namespaces", false};
  static constexpr auto kObjects = &ManifestSet::namespaces;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeNamespaceT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertNamespace(o); }
  static void remove(ClusterState& s, std::string_view, std::string_view name) {
    s.removeNamespace(name);
  }
};

struct NodeKind {
  using Object = Node;
  static constexpr KindInfo kInfo{"Node", "", "v1", "nodes", false, WatchScope::ThisNode};
  static constexpr auto kObjects = &ManifestSet::nodes;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeNodeT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertNode(o); }
  static void remove(ClusterState& s, std::string_view, std::string_view name) {
    s.removeNode(name);
  }
};

struct PodKind {
  using Object = Pod;
  static constexpr KindInfo kInfo{"Pod", "", "v1", "pods"};
  static constexpr auto kObjects = &ManifestSet::pods;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodePodT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertPod(o); }
  static void remove(ClusterState& s, std::string_view ns, std::string_view name) {
    s.removePod(ns, name);
  }
};

struct NetworkPolicyKind {
  using Object = NetworkPolicy;
  static constexpr KindInfo kInfo{"NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies"};
  static constexpr auto kObjects = &ManifestSet::policies;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeNetworkPolicyT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertPolicy(o); }
  static void remove(ClusterState& s, std::string_view ns, std::string_view name) {
    s.removePolicy(ns, name);
  }
};

struct ServiceKind {
  using Object = Service;
  static constexpr KindInfo kInfo{"Service", "", "v1", "services"};
  static constexpr auto kObjects = &ManifestSet::services;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeServiceT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertService(o); }
  static void remove(ClusterState& s, std::string_view ns, std::string_view name) {
    s.removeService(ns, name);
  }
};

struct EndpointSliceKind {
  using Object = EndpointSlice;
  static constexpr KindInfo kInfo{"EndpointSlice", "discovery.k8s.io", "v1", "endpointslices"};
  static constexpr auto kObjects = &ManifestSet::endpoint_slices;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeEndpointSliceT(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertEndpointSlice(o); }
  static void remove(ClusterState& s, std::string_view ns, std::string_view name) {
    s.removeEndpointSlice(ns, name);
  }
};

/// The cluster tiers (DESIGN.md §8): three API kinds, one model. Each is
/// watched on its own, so a cluster that serves only one of the versions
/// still has it enforced.
template <class T, const KindInfo& kInfoRef, auto kVector>
struct ClusterPolicyKindT {
  using Object = T;
  static constexpr const KindInfo& kInfo = kInfoRef;
  static constexpr auto kObjects = kVector;
  template <class N>
  static std::optional<Object> decode(const N& doc, manifest::DecodeContext& ctx) {
    return manifest::decodeClusterPolicyAs<T>(doc, ctx);
  }
  static void upsert(ClusterState& s, const Object& o) { s.upsertClusterPolicy(o); }
  static void remove(ClusterState& s, std::string_view, std::string_view name) {
    s.removeClusterPolicy(T::kKind, name);
  }
};

inline constexpr KindInfo kClusterNetworkPolicyInfo{"ClusterNetworkPolicy",
                                                    "policy.networking.k8s.io",
                                                    "v1alpha2",
                                                    "clusternetworkpolicies",
                                                    false,
                                                    WatchScope::All,
                                                    true};
inline constexpr KindInfo kAdminNetworkPolicyInfo{"AdminNetworkPolicy",
                                                  "policy.networking.k8s.io",
                                                  "v1alpha1",
                                                  "adminnetworkpolicies",
                                                  false,
                                                  WatchScope::All,
                                                  true};
inline constexpr KindInfo kBaselineAdminNetworkPolicyInfo{"BaselineAdminNetworkPolicy",
                                                          "policy.networking.k8s.io",
                                                          "v1alpha1",
                                                          "baselineadminnetworkpolicies",
                                                          false,
                                                          WatchScope::All,
                                                          true};

using ClusterNetworkPolicyKind = ClusterPolicyKindT<ClusterNetworkPolicy, kClusterNetworkPolicyInfo,
                                                    &ManifestSet::cluster_network_policies>;
using AdminNetworkPolicyKind = ClusterPolicyKindT<AdminNetworkPolicy, kAdminNetworkPolicyInfo,
                                                  &ManifestSet::admin_network_policies>;
using BaselineAdminNetworkPolicyKind =
    ClusterPolicyKindT<BaselineAdminNetworkPolicy, kBaselineAdminNetworkPolicyInfo,
                       &ManifestSet::baseline_admin_network_policies>;

}  // namespace kinds

/// A position in the table; also the index of the kind's AnyObject alternative.
struct KindId {
  uint8_t value = 0;
  friend bool operator==(KindId, KindId) = default;
};

template <class... K>
struct KindTable {
  using Variant = std::variant<typename K::Object...>;
  using Entries = std::tuple<K...>;
  static constexpr size_t kSize = sizeof...(K);
  static constexpr std::array<KindInfo, kSize> kInfos{K::kInfo...};

  /// f.template operator()<Entry>() for every entry, in table order.
  template <class F>
  static void forEach(F&& f) {
    (f.template operator()<K>(), ...);
  }
  /// f.template operator()<Entry>() for the entry at `id`.
  template <class F>
  static void with(KindId id, F&& f) {
    size_t i = 0;
    (void)((i++ == id.value ? (f.template operator()<K>(), true) : false) || ...);
  }
  template <class T>
  static constexpr KindId idOf() {
    constexpr std::array<bool, kSize> kIsEntry{std::is_same_v<T, typename K::Object>...};
    for (size_t i = 0; i < kSize; ++i)
      if (kIsEntry[i]) return KindId{uint8_t(i)};
    throw "not a kind in the table";  // a compile error in a constant expression
  }
};

/// The table, in the order a state is built from manifests (namespaces and
/// nodes before the pods on them, pods before what selects them).
using Kinds =
    KindTable<kinds::NamespaceKind, kinds::NodeKind, kinds::PodKind, kinds::NetworkPolicyKind,
              kinds::ServiceKind, kinds::EndpointSliceKind, kinds::ClusterNetworkPolicyKind,
              kinds::AdminNetworkPolicyKind, kinds::BaselineAdminNetworkPolicyKind>;

/// Any object of a kind in the table.
using AnyObject = Kinds::Variant;

/// The id of the kind whose objects are `T`: kindId<Pod>().
template <class T>
consteval KindId kindId() {
  return Kinds::idOf<T>();
}
/// The table entry of the kind whose objects are `T`.
template <class T>
using KindEntry = std::tuple_element_t<kindId<T>().value, Kinds::Entries>;

inline const KindInfo& kindInfo(KindId id) { return Kinds::kInfos.at(id.value); }
/// The kind of an object (AnyObject's alternatives are the table's entries, in order).
inline KindId kindOf(const AnyObject& object) { return KindId{uint8_t(object.index())}; }

/// The kind named `name` at `api_version`; an empty `api_version` (a
/// hand-written manifest) matches any. Nothing for an unknown kind, or a
/// known kind at another version (extensions/v1beta1 NetworkPolicy).
inline std::optional<KindId> findKind(std::string_view name, std::string_view api_version = {}) {
  for (size_t i = 0; i < Kinds::kSize; ++i) {
    const KindInfo& k = Kinds::kInfos[i];
    if (k.name == name && (api_version.empty() || api_version == k.apiVersion()))
      return KindId{uint8_t(i)};
  }
  return std::nullopt;
}

/// Writes `object` into `state` (create or replace).
inline void upsertInto(ClusterState& state, const AnyObject& object) {
  std::visit([&]<class T>(const T& o) { KindEntry<T>::upsert(state, o); }, object);
}

/// Removes the object of kind `id` named `ns`/`name` (`ns` empty for cluster-scoped kinds).
inline void removeFrom(ClusterState& state, KindId id, std::string_view ns, std::string_view name) {
  Kinds::with(id, [&]<class K>() { K::remove(state, ns, name); });
}

}  // namespace palisade::policy
