#pragma once
// Which peer sets a pod could belong to. A pod change used to test the pod
// against every peer set of the node (tens of thousands at 10k policies), so
// its cost grew with the cluster; this index narrows that to the sets whose
// peers could select the pod: by the policy's namespace, by a label the pod
// selector requires, by a label the namespace selector requires, or by the
// port name of a named-port group. Candidates are then tested exactly, so
// the index may over-approximate but never miss a set.
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "policy/compile/ruleset_builder.h"
#include "policy/state/cluster_state.h"

namespace palisade::policy {

class PeerSetIndex {
 public:
  /// Indexes the sets with ids (indexed(), count] of `builder` (sets are only
  /// ever appended, so an index stays valid until the builder is replaced).
  void extend(const RulesetBuilder& builder, uint32_t count);
  void clear();
  uint32_t indexed() const { return indexed_; }

  /// Appends the ids of the sets `pod` might belong to (not sorted, may repeat).
  void candidates(const ClusterState& state, const PodRecord& pod,
                  std::vector<uint32_t>& out) const;

 private:
  void add(uint32_t id, const PeerSetSource& source);

  using Bucket = std::vector<uint32_t>;
  std::unordered_map<Symbol, Bucket> by_policy_namespace_;   // peers without a namespace selector
  std::unordered_map<uint64_t, Bucket> by_pod_label_;        // pod selector requires (key, value)
  std::unordered_map<uint64_t, Bucket> by_namespace_label_;  // namespace selector requires it
  std::unordered_map<Symbol, Bucket> by_port_name_;          // named-port groups
  Bucket always_;  // selectors that require no single label (e.g. every namespace)
  uint32_t indexed_ = 0;
};

}  // namespace palisade::policy
