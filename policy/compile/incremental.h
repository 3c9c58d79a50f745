#pragma once
// The incremental compiler: keeps one node's ruleset and turns each pod
// change into an ir::RulesetDelta of set elements and endpoints, without
// recompiling. Ids are stable for the compiler's life, so a pod that comes,
// goes or changes labels touches set elements and dispatch entries only;
// programs and sets are only ever added (a new combination of policies).
//
//   upsertPod ──▶ ClusterState ──▶ each peer set it could be in (PeerSetIndex):
//                                 │  was in? is in? ──▶ element adds/removes
//                                 └▶ local endpoint? programs (maybe new) ──▶ endpoint upsert
//   NetworkPolicy ──▶ the local endpoints of its namespace ──▶ programs (maybe new), upserts
//   cluster policy ──▶ the local endpoints its old or new subject selects ──▶ the same
//   Namespace ──▶ its pods' membership of label-selected peer sets ──▶ element adds/removes
//              └▶ its local endpoints (cluster-policy subjects) ──▶ programs, upserts
//
// Programs and sets nothing uses any more stay until the ruleset holds twice
// what its endpoints use; then the next policy change retires them in place
// (RulesetDelta.retired_*: ids stay, the datapath drops their chains and
// sets). Only when retired slots far outnumber live ones does it recompile.
// Node, Service and EndpointSlice changes recompile fully (delta.full = true).
#include <memory>
#include <optional>
#include <string>

#include "policy/compile/peer_set_index.h"
#include "policy/compile/ruleset_builder.h"
#include "policy/kinds/kinds.h"
#include "policy/state/cluster_state.h"
#include "proto/ir.h"

namespace palisade::policy {

class IncrementalCompiler {
 public:
  /// Compiles `node`'s ruleset from `state` (which the compiler then owns
  /// the writes to: change the state through this class only).
  IncrementalCompiler(ClusterState& state, std::string node);

  /// The current ruleset (peer sets are updated in place with each delta).
  const ir::Ruleset& ruleset();
  uint64_t revision() const { return revision_; }

  ir::RulesetDelta upsertPod(const Pod& pod);
  ir::RulesetDelta removePod(std::string_view ns, std::string_view name);
  /// Merges labels into a pod's labels (a relabel).
  ir::RulesetDelta mergePodLabels(std::string_view ns, std::string_view name,
                                  const LabelMap& labels);

  /// A NetworkPolicy created, replaced or deleted: its namespace's endpoints.
  ir::RulesetDelta upsertPolicy(const NetworkPolicy& policy);
  ir::RulesetDelta removePolicy(std::string_view ns, std::string_view name);
  /// A cluster-tier policy: the endpoints its old or new subject selects.
  ir::RulesetDelta upsertClusterPolicy(const ClusterPolicy& policy);
  ir::RulesetDelta removeClusterPolicy(ClusterPolicyKind kind, std::string_view name);
  /// A namespace created, relabelled or deleted.
  ir::RulesetDelta upsertNamespace(const Namespace& ns);
  ir::RulesetDelta removeNamespace(std::string_view name);
  ir::RulesetDelta mergeNamespaceLabels(std::string_view ns, const LabelMap& labels);

  /// An object of any kind created or replaced, or removed: the delta of the
  /// kinds above; nothing (and the state untouched) for a kind that needs a
  /// full recompile (Node, Service, EndpointSlice), which the caller then does.
  std::optional<ir::RulesetDelta> upsert(const AnyObject& object);
  std::optional<ir::RulesetDelta> remove(KindId kind, std::string_view ns, std::string_view name);

  /// Any other change: applies `write` to the state and recompiles fully.
  template <typename Write>
  ir::RulesetDelta change(Write&& write) {
    write(state_);
    return recompile();
  }
  ir::RulesetDelta recompile();

 private:
  ir::RulesetDelta podChanged(const PodRecord& before, std::optional<PodId> after);
  void diffPeerSets(const PodRecord& before, const PodRecord& after, ir::RulesetDelta& delta);
  bool needsNewNamedGroup(const PodRecord& after) const;
  void updateEndpoint(const PodRecord& before, std::optional<PodId> after, ir::RulesetDelta& delta);
  ir::RulesetDelta startDelta();
  ir::RulesetDelta emptyDelta();
  /// Re-derives the programs of these local endpoints; upserts those that changed.
  void refreshEndpoints(const std::vector<PodId>& pods, ir::RulesetDelta& delta);
  /// The local endpoints among the pods of a namespace.
  std::vector<PodId> localPodsIn(std::string_view ns) const;
  /// Ends a policy or namespace delta: compacts (recompiles) when unused
  /// programs and sets have piled up.
  ir::RulesetDelta finish(ir::RulesetDelta delta);
  template <typename Write>
  ir::RulesetDelta namespaceChanged(std::string_view name, Write&& write);
  /// Does another live pod than `except` contribute `a` to the set?
  bool heldByOther(const PeerSetSource& source, const IpAddress& a, const PodRecord* except) const;

  ClusterState& state_;
  std::string node_;
  std::unique_ptr<RulesetBuilder> builder_;
  PeerSetIndex set_index_;  // over builder_'s sets: the ones a pod change tests
  std::unordered_map<std::string, int> endpoint_index_;  // "ns/name" → index in endpoints
  uint64_t revision_ = 1;
};

}  // namespace palisade::policy
