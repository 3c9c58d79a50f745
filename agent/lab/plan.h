#pragma once
// Planning a lab from manifests: which nodes exist, where each pod runs,
// which addresses it gets, and how Services translate (kube-proxy's view).
// Pure: no kernel state is touched here.
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent::lab {

struct PlanOptions {
  std::string name;
  int nodes = 0;  // 0: the nodes the manifests name, else one
};

/// Places pods and allocates what the manifests leave out: pod IPs (from the
/// node's pod CIDR), ClusterIPs, NodePorts, node addresses. Records the result
/// in the returned LabState and writes it back into `set` (pods' nodeName and
/// IPs, Services' ClusterIPs, Node objects), so the ClusterState built from
/// `set` is the cluster the lab runs. hostNetwork pods get no namespace.
Result<LabState> planLab(policy::ManifestSet& set, const PlanOptions& options);

/// Writes a lab's placement into manifests read back later (by `lab apply`,
/// `probe`, ...): pods' node and IPs, ClusterIPs, NodePorts, Node objects.
void overlayLab(const LabState& lab, policy::ManifestSet& set);

/// Reads the lab's manifest copies, in order, into one ClusterState with the
/// lab's placement (later copies replace objects by namespace and name).
Result<policy::ClusterState> loadClusterState(const LabState& lab,
                                              std::vector<std::string>* warnings);

struct FlowLabOptions {
  std::string name;   // the lab: every namespace is pal-<name>-<infix>...
  std::string infix;  // e.g. "c.": no `planLab` name has a '.', so two labs can share a name
  int nodes = 1;      // lab nodes
};

/// A cluster-netpol case's topology, as `state` holds it, as a lab: the case
/// nodes in name order, case node i hosted by lab node i % nodes (its
/// addresses, as written, on that node's lo: LabNode::hosted), every pod that
/// is not host-network in a namespace of its own on its node's lab node with
/// exactly its IPs, and an outside namespace for every other address. Host-
/// network pods get nothing: their addresses are their node's. No ports and
/// no Services: the cluster-netpol prober opens listeners per step. Fails
/// when a case address is one the lab uses for its own wiring.
Result<LabState> planFlowLab(const policy::ClusterState& state, const FlowLabOptions& options);

/// Every Service as kube-proxy programs it: ClusterIPs and NodePorts to
/// ready backends, targetPort resolved per backend pod. Headless Services
/// are listed with no VIP; ExternalName ones are left out.
std::vector<LabService> planServices(const policy::ClusterState& state);

}  // namespace palisade::agent::lab
