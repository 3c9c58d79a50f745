#pragma once
// Enforcement in the lab: each lab node's namespace runs the real datapath
// (datapath::nft::Programmer over a netlink socket opened inside that
// namespace) with the ruleset compiled for that node.
#include <memory>
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"
#include "agent/queue/queue_service.h"
#include "datapath/nft/programmer.h"
#include "policy/compile/compile.h"

namespace palisade::agent::lab {

/// One Programmer per lab node, each holding a netlink socket in its node's
/// namespace (the socket stays there, whatever thread uses it later).
class NodeProgrammers {
 public:
  /// `userspace_mode`: every node also runs the agent's packet queue
  /// (agent/queue) and its table sends every new connection of local pods
  /// there, so the lab's verdicts come from the queue's decider.
  static Result<NodeProgrammers> open(const LabState& lab, bool userspace_mode = false);

  /// Programs node i with rulesets[i]. `adopt` reads the kernel's table back
  /// first and sends only the difference (a later process, e.g. `lab apply`);
  /// otherwise the first call replaces and later calls send deltas.
  Status sync(const std::vector<ir::Ruleset>& rulesets, bool adopt, std::vector<std::string>* log);

  size_t size() const { return programmers_.size(); }

 private:
  std::vector<std::unique_ptr<datapath::nft::Programmer>> programmers_;
  std::vector<std::unique_ptr<queue::QueueService>> queues_;  // user-space mode only
  std::vector<std::string> netns_;
};

/// compile(state, node) for every lab node, in node order.
std::vector<ir::Ruleset> compileNodes(const LabState& lab, const policy::ClusterState& state);

/// A whole-cluster ruleset (compile(state, "")) narrowed to one lab node: only
/// the endpoints whose addresses are that node's pods, and the node's own
/// addresses (its `hosted` ones too) as host traffic. Used when the state places every pod on one
/// node name (conformance models) but the lab spreads them.
ir::Ruleset restrictToNode(const ir::Ruleset& all, const LabState& lab, size_t node);

}  // namespace palisade::agent::lab
