#include "agent/conformance/cluster_topology.h"

namespace palisade::agent::conformance {
namespace {

void mergeLabels(policy::LabelMap& labels,
                 const std::map<std::string, std::optional<std::string>>& changes) {
  for (const auto& [key, value] : changes) {
    if (value) {
      labels[key] = *value;
    } else {
      labels.erase(key);
    }
  }
}

}  // namespace

TopologyObjects::TopologyObjects(const Topology& topology) {
  for (const TopologyNode& n : topology.nodes) {
    policy::Node node;
    node.meta.name = n.name;
    node.meta.labels = n.labels;
    node.addresses = n.addresses;
    nodes_.push_back(std::move(node));
  }
  for (const TopologyNamespace& n : topology.namespaces) {
    policy::Namespace ns;
    ns.meta.name = n.name;
    ns.meta.labels = n.labels;
    ns.meta.labels["kubernetes.io/metadata.name"] = n.name;  // as the API server sets it
    namespaces_[n.name] = std::move(ns);
  }
  for (const TopologyPod& p : topology.pods) {
    policy::Pod pod;
    pod.meta.namespace_ = p.namespace_;
    pod.meta.name = p.name;
    pod.meta.labels = p.labels;
    pod.node_name = p.node;
    pod.host_network = p.host_network;
    pod.phase = "Running";
    pod.ips = p.ips;
    // status.podIPs of a host-network pod are its node's addresses.
    if (p.host_network) {
      if (const TopologyNode* node = topology.findNode(p.node)) pod.ips = node->addresses;
    }
    pod.ports = p.ports;
    pods_[{p.namespace_, p.name}] = std::move(pod);
  }
}

void TopologyObjects::installInto(policy::ClusterState& state) const {
  for (const auto& [name, ns] : namespaces_) state.upsertNamespace(ns);
  for (const policy::Node& node : nodes_) state.upsertNode(node);
  for (const auto& [key, pod] : pods_) state.upsertPod(pod);
}

Status TopologyObjects::relabel(const Relabel& change, policy::ClusterState& state) {
  if (change.pod.empty()) {
    auto it = namespaces_.find(change.namespace_);
    if (it == namespaces_.end()) return Error(0, "no namespace \"" + change.namespace_ + "\"");
    mergeLabels(it->second.meta.labels, change.labels);
    state.upsertNamespace(it->second);
    return okStatus();
  }
  auto it = pods_.find({change.namespace_, change.pod});
  if (it == pods_.end()) return Error(0, "no pod \"" + change.namespace_ + "/" + change.pod + "\"");
  mergeLabels(it->second.meta.labels, change.labels);
  state.upsertPod(it->second);
  return okStatus();
}

}  // namespace palisade::agent::conformance
