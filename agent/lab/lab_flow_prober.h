#pragma once
// The cluster-netpol runner's prober on a real lab (`palisade test --lab`
// for cluster-netpol cases): the case's topology becomes a lab (planFlowLab:
// pods in their own namespaces with the case's IPs, the case nodes'
// addresses on their lab node's lo, an outside namespace for the rest), and
// every step:
//
//   listeners  each destination answers on every probed port: its pod's
//              namespace, its node's for a node address or a host-network
//              pod, the outside's for any other address (added to it first)
//   program    compile(state, "") narrowed to each lab node, synced through
//              NodeProgrammers (the v1 LabProber's path; in user-space mode
//              with every new connection sent to the queue), conntrack emptied
//   probe      all flows at once, one timeout (flow_probe.h)
//
// The lab lives as long as the case's topology: reused across its steps,
// rebuilt when a probe() brings another topology, removed by endCase(), the
// destructor and every failure. Its namespaces are pal-<name>-c.*, so a
// LabProber of the same name can live beside it.
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "agent/conformance/flow_prober.h"
#include "agent/lab/enforce.h"
#include "agent/lab/lab_state.h"
#include "agent/lab/server.h"

namespace palisade::agent::lab {

class LabFlowProber : public conformance::FlowProber {
 public:
  /// `nodes`: lab nodes (case node i runs on lab node i % nodes);
  /// `timeout_ms`: how long an unanswered flow waits before it counts as dropped;
  /// `userspace_mode`: every new connection is decided by the packet queue's
  /// decider (NodeProgrammers::open), which must give the static ruleset's verdicts.
  LabFlowProber(std::string name, int nodes, int timeout_ms = 400, bool userspace_mode = false);
  ~LabFlowProber() override;  // tears the lab down
  LabFlowProber(const LabFlowProber&) = delete;
  LabFlowProber& operator=(const LabFlowProber&) = delete;

  conformance::FlowProbeReport probe(const policy::ClusterState& state,
                                     const std::vector<conformance::FlowProbe>& probes) override;

  /// Removes the lab (call after each case); the next probe() builds a new
  /// one. Fails when a namespace could not be deleted.
  Status endCase();

  /// "pal-<name>-c.": every namespace this prober makes starts with it.
  std::string netnsPrefix() const;

 private:
  /// The in-process server, paused while listeners are added.
  struct Serving {
    Server server;
    std::atomic<bool> stop{false};
    std::thread thread;
    void start();
    void pause();
  };
  using Listener = std::tuple<std::string, IpAddress, Protocol, int32_t>;

  Status ensureLab(const policy::ClusterState& state);
  Status build(const policy::ClusterState& state);
  /// Gives every destination a namespace that answers for it: an address
  /// that is no pod's and no node's joins the outside.
  Status placeDestinations(const std::vector<conformance::FlowProbe>& probes);
  Status ensureListeners(const std::vector<Listener>& wanted);
  Status program(const policy::ClusterState& state);
  Status teardown();

  std::string name_;
  int nodes_;
  int timeout_ms_;
  bool userspace_mode_;
  std::string topology_;  // what the lab was built from (topologyKey)
  std::optional<LabState> lab_;
  std::optional<NodeProgrammers> programmers_;
  std::unique_ptr<Serving> serving_;
  std::set<Listener> listening_;
  std::map<IpAddress, std::string> owners_;  // destination address → its namespace
  bool programmed_ = false;                  // a step ran: its conntrack entries must go
};

}  // namespace palisade::agent::lab
