#pragma once
// The incremental compiler: keeps one node's ruleset and turns each pod
// change into an ir::RulesetDelta of set elements and endpoints, without
// recompiling. Ids are stable for the compiler's life, so a pod that comes,
// goes or changes labels touches set elements and dispatch entries only;
// programs and sets are only ever added (a new combination of policies).
// Policy, namespace and node changes recompile fully (delta.full = true).
//
//   upsertPod ──▶ ClusterState ──▶ for each peer set: was in? is in? ──▶ element adds/removes
//                                 └▶ local endpoint? programs (maybe new) ──▶ endpoint upsert
#include <memory>
#include <optional>
#include <string>

#include "policy/compile/ruleset_builder.h"
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

  ClusterState& state_;
  std::string node_;
  std::unique_ptr<RulesetBuilder> builder_;
  std::unordered_map<std::string, int> endpoint_index_;  // "ns/name" → index in endpoints
  uint64_t revision_ = 1;
};

}  // namespace palisade::policy
