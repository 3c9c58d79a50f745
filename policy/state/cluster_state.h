#pragma once
// policy::ClusterState: every object policy needs, validated, interned and
// indexed for scale (namespace → pods, label → pods, IP → pod, named port →
// pods). The compiler and the evaluator read it; the manifest reader and the
// agent's API watch write it.
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "policy/manifest/reader.h"
#include "policy/model/cluster_policy.h"
#include "policy/model/objects.h"
#include "policy/net/ip.h"
#include "policy/state/selector.h"
#include "policy/state/symbols.h"

namespace palisade::policy {

using PodId = uint32_t;
using PolicyId = uint32_t;
constexpr uint32_t kInvalidId = UINT32_MAX;

struct PodPort {
  Symbol name;  // 0 when the container port has no name
  Protocol protocol;
  int32_t port;
};

struct PodRecord {
  Symbol namespace_ = 0;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  Symbol name = 0;
  Symbol node = 0;
  Labels labels;
  std::vector<IpAddress> ips;
  std::vector<PodPort> ports;
  bool host_network = false;
  bool live = false;  // false for a freed slot
};

struct NamespaceRecord {
  Symbol name = 0;
  Labels labels;
  bool declared = false;  // false: only implied by a pod or policy in it
  std::unordered_set<PodId> pods;
};

/// A peer of a rule, with selectors compiled. `pod` alone: pods in the
/// policy's namespace; `ns` alone: every pod in matching namespaces; both:
/// matching pods in matching namespaces; `block`: addresses; `node` (cluster
/// tiers only): the addresses of the nodes it selects.
struct CompiledPeer {
  std::optional<CompiledSelector> pod;
  std::optional<CompiledSelector> ns;
  std::optional<IpBlock> block;
  std::vector<Cidr> block_cidrs;  // cidr minus except, non-overlapping
  std::optional<CompiledSelector> node;
};

struct CompiledRule {
  std::vector<CompiledPeer> peers;       // empty = any peer
  std::vector<NetworkPolicyPort> ports;  // empty = any port
};

struct PolicyRecord {
  Symbol namespace_ = 0;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  Symbol name = 0;
  CompiledSelector pod_selector;
  std::vector<CompiledRule> ingress;
  std::vector<CompiledRule> egress;
  bool affects_ingress = true;
  bool affects_egress = false;
  bool live = false;
};

struct NodeRecord {
  std::string name;
  std::vector<Cidr> pod_cidrs;
  std::vector<IpAddress> addresses;
  Labels labels;
};

using ClusterPolicyId = uint32_t;

/// One rule of a cluster-tier policy, as the compiler and evaluator use it:
/// the API's peers and protocols in NetworkPolicy's compiled form (`pods` and
/// `namespaces` peers always carry a namespace selector; `networks` are
/// blocks without except; `nodes` are node peers; a named port is one entry
/// per protocol, since the API's named port matches whatever protocol the
/// pod declares it with).
struct ClusterRuleRecord {
  std::string name;
  uint32_t index = 0;  // in spec.ingress or spec.egress
  ClusterRuleAction action = ClusterRuleAction::Deny;
  CompiledRule match;  // `peers` is never empty unless `deny_all`
  /// Matches no traffic: an Accept rule with a peer this build cannot
  /// interpret (fail closed), or a rule whose peers are all domainNames
  /// (until the domain-name issue lands).
  bool matches_nothing = false;
  /// A Deny or Pass rule with a peer this build cannot interpret: it denies
  /// all traffic of its direction for its subjects (fail closed).
  bool deny_all = false;
  /// Some peer is domainNames (left out of `match` for now).
  bool has_domain_names = false;
  /// The action the rule takes when it matches (Deny for a fail-closed rule).
  ClusterRuleAction effectiveAction() const { return deny_all ? ClusterRuleAction::Deny : action; }
};

struct ClusterPolicyRecord {
  Symbol name = 0;
  ClusterPolicyKind kind = ClusterPolicyKind::ClusterNetworkPolicy;
  Tier tier = Tier::Admin;
  int32_t priority = 0;
  CompiledSelector subject_namespaces;           // {} for a `pods` subject without one
  std::optional<CompiledSelector> subject_pods;  // set for a `pods` subject
  std::vector<ClusterRuleRecord> ingress;
  std::vector<ClusterRuleRecord> egress;
  bool live = false;
};

class ClusterState {
 public:
  ClusterState() = default;
  ClusterState(const ClusterState&) = delete;
  ClusterState& operator=(const ClusterState&) = delete;
  ClusterState(ClusterState&&) = default;
  ClusterState& operator=(ClusterState&&) = default;

  /// Every object of a manifest set (which has already been validated).
  static ClusterState fromManifests(const ManifestSet& set);

  // ---- writers: create or replace by (namespace, name); remove ----
  void upsertNamespace(const Namespace& ns);
  void removeNamespace(std::string_view name);
  PodId upsertPod(const Pod& pod);
  void removePod(std::string_view ns, std::string_view name);
  PolicyId upsertPolicy(const NetworkPolicy& policy);
  void removePolicy(std::string_view ns, std::string_view name);
  void upsertService(const Service& svc);
  void removeService(std::string_view ns, std::string_view name);
  void upsertEndpointSlice(const EndpointSlice& slice);
  void removeEndpointSlice(std::string_view ns, std::string_view name);
  void upsertNode(const Node& node);
  void removeNode(std::string_view name);
  ClusterPolicyId upsertClusterPolicy(const ClusterPolicy& policy);
  void removeClusterPolicy(ClusterPolicyKind kind, std::string_view name);
  /// Merges labels into a namespace's or pod's labels (conformance `relabel`).
  void mergeNamespaceLabels(std::string_view ns, const LabelMap& labels);
  void mergePodLabels(std::string_view ns, std::string_view pod, const LabelMap& labels);

  // ---- readers ----
  SymbolTable& symbols() { return symbols_; }
  const SymbolTable& symbols() const { return symbols_; }
  std::string_view str(Symbol s) const { return symbols_.view(s); }

  const PodRecord& pod(PodId id) const { return pods_[id]; }
  std::optional<PodId> findPod(std::string_view ns, std::string_view name) const;
  std::optional<PodId> findPodByIp(const IpAddress& ip) const;
  /// Every live pod with this address (more than one while an address is
  /// being reused before the old pod's deletion arrives).
  const std::vector<PodId>* podsByIp(const IpAddress& ip) const;
  /// Live pods sorted by (namespace, name): the order of reach matrices.
  std::vector<PodId> podsSorted() const;
  /// The pods scheduled on `node` (by name), in the same order; a node no
  /// pod names yet has none.
  std::vector<PodId> podsSortedOn(std::string_view node) const;
  size_t podCount() const { return pod_count_; }
  size_t podSlots() const { return pods_.size(); }
  std::string podName(PodId id) const;  // "ns/name"

  const NamespaceRecord* findNamespace(Symbol name) const;
  const NamespaceRecord* findNamespace(std::string_view name) const;
  const std::unordered_map<Symbol, NamespaceRecord>& namespaces() const { return namespaces_; }

  const PolicyRecord& policy(PolicyId id) const { return policies_[id]; }
  size_t policySlots() const { return policies_.size(); }
  /// Live policies in a namespace (unordered).
  const std::vector<PolicyId>& policiesIn(Symbol ns) const;
  std::optional<PolicyId> findPolicy(std::string_view ns, std::string_view name) const;

  /// Live pods carrying this label (key and value symbols), hostNetwork ones too.
  const std::unordered_set<PodId>* podsWithLabel(Symbol key, Symbol value) const;
  /// Pods carrying a container port of this name (any protocol).
  const std::unordered_set<PodId>* podsWithPortName(Symbol name) const;
  /// Pods on a node (by node symbol).
  const std::unordered_set<PodId>* podsOnNode(Symbol node) const;

  const std::map<std::pair<std::string, std::string>, Service>& services() const {
    return services_;
  }
  const Service* findService(std::string_view ns, std::string_view name) const;
  /// The EndpointSlices of a Service (label kubernetes.io/service-name).
  std::vector<const EndpointSlice*> endpointSlicesOf(std::string_view ns,
                                                     std::string_view svc) const;
  const std::map<std::string, NodeRecord>& nodes() const { return nodes_; }
  const NodeRecord* findNode(std::string_view name) const;

  const ClusterPolicyRecord& clusterPolicy(ClusterPolicyId id) const {
    return cluster_policies_[id];
  }
  size_t clusterPolicySlots() const { return cluster_policies_.size(); }
  /// Moves on with every cluster policy written or removed (whatever else changes).
  uint64_t clusterPolicyRevision() const { return cluster_policy_revision_; }
  /// The live policies of a tier in evaluation order (priority, name, kind;
  /// the BaselineAdminNetworkPolicy last).
  const std::vector<ClusterPolicyId>& clusterPoliciesIn(Tier tier) const {
    return tier_order_[static_cast<size_t>(tier)];
  }
  std::optional<ClusterPolicyId> findClusterPolicy(ClusterPolicyKind kind,
                                                   std::string_view name) const;
  /// Is `pod` a subject of the cluster policy (never a hostNetwork pod)?
  bool clusterPolicySelectsPod(const ClusterPolicyRecord& policy, PodId pod) const;
  /// The addresses of the nodes a node selector selects.
  std::vector<IpAddress> nodeAddressesSelected(const CompiledSelector& selector) const;
  /// Is `address` an address of a node that `selector` selects?
  bool nodeSelectorMatchesAddress(const CompiledSelector& selector, const IpAddress& address) const;

  /// Does the peer select this pod, for a policy in namespace `policy_ns`?
  bool peerSelectsPod(const CompiledPeer& peer, Symbol policy_ns, PodId pod) const;
  /// The same for a pod record that may no longer be in the state (its
  /// namespace's current labels are used).
  bool peerSelectsRecord(const CompiledPeer& peer, Symbol policy_ns, const PodRecord& pod) const;
  /// Is `pod` a subject of `policy` (same namespace, podSelector matches, not hostNetwork)?
  bool policySelectsPod(const PolicyRecord& policy, PodId pod) const;

  /// Bumped on every write; lets callers cache per-revision results.
  uint64_t revision() const { return revision_; }

 private:
  void sortByName(std::vector<PodId>& ids) const;
  NamespaceRecord& namespaceRecord(Symbol name);
  void indexPod(PodId id);
  void unindexPod(PodId id);

  SymbolTable symbols_;
  std::vector<PodRecord> pods_;
  std::vector<PodId> free_pods_;
  size_t pod_count_ = 0;
  std::unordered_map<uint64_t, PodId> pod_by_name_;  // (ns sym << 32 | name sym)
  std::map<IpAddress, std::vector<PodId>> pod_by_ip_;
  std::unordered_map<Symbol, std::unordered_set<PodId>> pods_by_port_name_;
  std::unordered_map<uint64_t, std::unordered_set<PodId>> pods_by_label_;  // (key << 32 | value)
  std::unordered_map<Symbol, std::unordered_set<PodId>> pods_by_node_;
  std::unordered_map<Symbol, NamespaceRecord> namespaces_;

  std::vector<PolicyRecord> policies_;
  std::vector<PolicyId> free_policies_;
  std::unordered_map<uint64_t, PolicyId> policy_by_name_;
  std::unordered_map<Symbol, std::vector<PolicyId>> policies_by_ns_;

  std::map<std::pair<std::string, std::string>, Service> services_;
  std::map<std::pair<std::string, std::string>, EndpointSlice> slices_;
  std::map<std::string, NodeRecord> nodes_;

  std::vector<ClusterPolicyRecord> cluster_policies_;
  uint64_t cluster_policy_revision_ = 0;
  std::vector<ClusterPolicyId> free_cluster_policies_;
  std::map<std::pair<ClusterPolicyKind, std::string>, ClusterPolicyId> cluster_policy_by_name_;
  std::array<std::vector<ClusterPolicyId>, 2> tier_order_;  // by Tier
  void sortTiers();
  uint64_t revision_ = 0;
};

}  // namespace palisade::policy
