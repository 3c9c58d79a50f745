#pragma once
// A cluster-netpol case's topology as API objects in a policy::ClusterState:
// Namespace objects with their labels, Node objects with labels and
// addresses, Pods with their IPs (a host-network pod has its node's
// addresses). The objects are kept, so that a `relabel` can rebuild the one
// it changes and upsert it whole: ClusterState can merge labels into a record
// but not remove one.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/conformance/cluster_case_file.h"
#include "policy/state/cluster_state.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance {

class TopologyObjects {
 public:
  explicit TopologyObjects(const Topology& topology);

  /// Writes every namespace, node and pod into `state`.
  void installInto(policy::ClusterState& state) const;
  /// Applies one relabel (a null value removes the key) to its namespace or
  /// pod and writes that object again. Fails on a namespace or pod the
  /// topology does not have.
  Status relabel(const Relabel& change, policy::ClusterState& state);

 private:
  std::vector<policy::Node> nodes_;
  std::map<std::string, policy::Namespace> namespaces_;
  std::map<std::pair<std::string, std::string>, policy::Pod> pods_;  // (namespace, name)
};

}  // namespace palisade::agent::conformance
