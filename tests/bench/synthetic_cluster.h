#pragma once
// Synthetic clusters for benchmarks and scale tests.
//
// generateCluster() builds a deterministic (seeded) cluster at Kubernetes' published scale
// limits by default: 150,000 pods, 10,000 namespaces, 10,000 NetworkPolicies, 110 pods per
// node. The point is realism where it costs the compiler something:
//
//  - namespace sizes are skewed (a few big namespaces, many small ones, some empty);
//  - pods carry the labels controllers really set (app, tier, team, version,
//    pod-template-hash), so label indexes see realistic fan-out;
//  - container ports are named (http, grpc, metrics, ...) with different numbers per app,
//    so named ports resolve differently per destination pod;
//  - pods are spread over nodes by a seeded shuffle, so node-0's 110 pods come from many
//    namespaces, as a scheduler would place them;
//  - pod IPs come from a per-node /24 of 10.0.0.0/8, and every `dual_stack_every`-th node
//    (node-0 included) also has an IPv6 /64 of fd00:10:244::/48;
//  - the policy mix is what clusters actually run: default-deny per namespace,
//    allow-same-namespace, podSelector by app/tier, namespaceSelector by team/env, combined
//    selectors, matchExpressions (In/NotIn/Exists), ipBlock with excepts (v4 and v6), named
//    ports on ingress and egress, endPort ranges, egress to kube-dns, multi-rule policies.
//
// upstreamModel() is the 9-pod model of the upstream e2e suite (namespaces x, y, z; pods a,
// b, c), with a few typical policies, for `palisade reach`-sized benchmarks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "policy/manifest/reader.h"
#include "policy/model/objects.h"
#include "policy/state/cluster_state.h"

namespace palisade::bench {

/// The size and mix of a synthetic cluster.
struct ClusterShape {
  size_t pods = 150'000;
  size_t namespaces = 10'000;
  size_t policies = 10'000;
  /// ClusterNetworkPolicies of both tiers (synthetic_cluster_policies.h).
  size_t cluster_policies = 200;
  size_t pods_per_node = 110;
  /// Every Nth node (node-0 first) is dual-stack; 0 = IPv4 only.
  size_t dual_stack_every = 4;
  /// One hostNetwork kube-proxy pod per node (in kube-system), as real clusters run: they
  /// count towards the node's pods but are never policy subjects.
  bool host_network_daemonset = true;
  uint64_t seed = 1;

  /// The density of the defaults (15 pods and one policy per namespace) at `pods` pods.
  static ClusterShape scaled(size_t pods, uint64_t seed = 1);
};

/// A generated cluster as plain objects, already defaulted as the API server would
/// (kubernetes.io/metadata.name on namespaces, protocols set, policyTypes set).
struct SyntheticCluster {
  ClusterShape shape;
  std::vector<policy::Node> nodes;  // "node-0" ... "node-<N-1>"
  std::vector<policy::Namespace> namespaces;
  std::vector<policy::Pod> pods;
  std::vector<policy::NetworkPolicy> policies;
  std::vector<policy::ClusterNetworkPolicy> cluster_policies;

  /// Name of the node the benchmarks compile (always holds `pods_per_node` pods).
  static constexpr std::string_view kBenchNode = "node-0";
  /// Indices into `pods` of the pods on kBenchNode.
  std::vector<size_t> podsOnBenchNode() const;
};

/// Builds a cluster; the same shape (seed included) always gives the same cluster.
/// Throws std::invalid_argument when the shape cannot be built (fewer than 5 namespaces,
/// or too few pods for the system pods every node and namespace needs).
SyntheticCluster generateCluster(const ClusterShape& shape);

/// The upstream e2e model: namespaces x, y, z (label kubernetes.io/metadata.name), pods a,
/// b, c in each (label pod=<name>, IPs 10.0.<ns>.<pod> per the corpus plan, ports 80 and 81
/// on TCP and UDP named serve-<port>-<proto>), all on node "node-0", with a few typical
/// policies (default-deny in x, pod+namespace selector, named port, egress ipBlock except).
SyntheticCluster upstreamModel();

/// The objects as a manifest set (copies; errors and notes empty).
policy::ManifestSet toManifestSet(const SyntheticCluster& cluster);

/// Upserts every node, namespace, pod, policy and cluster policy into `state`.
void loadInto(const SyntheticCluster& cluster, policy::ClusterState& state);

/// The cluster as a multi-document YAML manifest stream (Node, Namespace, Pod,
/// NetworkPolicy), readable by policy::readManifestText and the `palisade` CLI.
std::string toYaml(const SyntheticCluster& cluster);

/// Pod churn for the incremental benchmarks: a realistic new pod on kBenchNode (one more
/// replica of an app that already runs there, with a fresh name and a free IP of the node's
/// /24), and a relabel that changes what node-0's policies select.
class PodChurn {
 public:
  explicit PodChurn(const SyntheticCluster& cluster);

  /// The `serial`-th new pod; distinct serials give distinct names (IPs repeat after 100).
  policy::Pod newPod(uint64_t serial) const;
  /// The pod relabelled by relabel(): a frontend that is a pod-selector peer of a policy
  /// selecting a pod of kBenchNode (so the relabel changes set elements), else a pod of
  /// kBenchNode.
  const policy::Pod& relabelTarget() const { return *target_; }
  /// Labels to merge into relabelTarget(): alternates, by serial parity, between a
  /// canary app/tier (which other policies select differently) and the original values.
  policy::LabelMap relabel(uint64_t serial) const;

 private:
  std::vector<const policy::Pod*> templates_;  // non-hostNetwork pods on kBenchNode
  const policy::Pod* target_ = nullptr;
  uint32_t node_base_v4_ = 0;  // the /24 of kBenchNode
};

}  // namespace palisade::bench
