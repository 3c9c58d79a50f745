#include "policy/compile/peer_set_index.h"

namespace palisade::policy {

namespace {

uint64_t labelKey(Symbol key, Symbol value) { return (uint64_t{key} << 32) | value; }

}  // namespace

void PeerSetIndex::clear() { *this = PeerSetIndex(); }

void PeerSetIndex::extend(const RulesetBuilder& builder, uint32_t count) {
  for (uint32_t id = indexed_ + 1; id <= count; ++id) add(id, builder.peerSetSource(id));
  if (count > indexed_) indexed_ = count;
}

void PeerSetIndex::add(uint32_t id, const PeerSetSource& source) {
  // A named-port group holds only pods with that port name (also those an
  // ipBlock peer lets in by address), so the name alone is a safe key.
  if (source.named) {
    by_port_name_[source.port_name].push_back(id);
    return;
  }
  for (const CompiledPeer& peer : source.peers) {
    if (peer.block || peer.node) continue;  // by address: a pod's own change never moves them
    if (!peer.ns) {
      by_policy_namespace_[source.policy_ns].push_back(id);
    } else if (auto label = peer.pod ? peer.pod->requiredLabel() : std::nullopt) {
      by_pod_label_[labelKey(label->first, label->second)].push_back(id);
    } else if (auto ns_label = peer.ns->requiredLabel()) {
      by_namespace_label_[labelKey(ns_label->first, ns_label->second)].push_back(id);
    } else {
      always_.push_back(id);
    }
  }
}

void PeerSetIndex::candidates(const ClusterState& state, const PodRecord& pod,
                              std::vector<uint32_t>& out) const {
  auto take = [&out](const auto& map, const auto& key) {
    if (auto it = map.find(key); it != map.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  };
  out.insert(out.end(), always_.begin(), always_.end());
  take(by_policy_namespace_, pod.namespace_);
  for (const auto& [key, value] : pod.labels) take(by_pod_label_, labelKey(key, value));
  if (const NamespaceRecord* ns = state.findNamespace(pod.namespace_)) {
    for (const auto& [key, value] : ns->labels) take(by_namespace_label_, labelKey(key, value));
  }
  for (const PodPort& port : pod.ports)
    if (port.name != 0) take(by_port_name_, port.name);
}

}  // namespace palisade::policy
