#include "policy/state/cluster_state.h"

#include <algorithm>
#include <tuple>

#include "policy/kinds/kinds.h"

namespace palisade::policy {

namespace {

constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

uint64_t pairKey(Symbol a, Symbol b) { return (static_cast<uint64_t>(a) << 32) | b; }

/// Sets every label of `labels` on `into` (sorted key/value symbols), keeping the rest.
void mergeLabels(Labels& into, const LabelMap& labels, SymbolTable& symbols) {
  for (const auto& [k, v] : labels) {
    const Symbol key = symbols.intern(k);
    const Symbol value = symbols.intern(v);
    auto it =
        std::find_if(into.begin(), into.end(), [&](const auto& kv) { return kv.first == key; });
    if (it != into.end()) {
      it->second = value;
    } else {
      into.emplace_back(key, value);
    }
  }
  std::sort(into.begin(), into.end());
}

CompiledRule compileRule(const NetworkPolicyRule& rule, SymbolTable& symbols) {
  CompiledRule out;
  out.ports = rule.ports;
  for (const NetworkPolicyPeer& peer : rule.peers) {
    CompiledPeer cp;
    if (peer.pod_selector) cp.pod = CompiledSelector::compile(*peer.pod_selector, symbols);
    if (peer.namespace_selector) {
      cp.ns = CompiledSelector::compile(*peer.namespace_selector, symbols);
    }
    if (peer.ip_block) {
      cp.block = peer.ip_block;
      cp.block_cidrs = subtractCidrs(peer.ip_block->cidr, peer.ip_block->except);
    }
    out.peers.push_back(std::move(cp));
  }
  return out;
}

CompiledPeer compileClusterPeer(const ClusterPolicyPeer& peer, SymbolTable& symbols) {
  CompiledPeer cp;
  if (peer.namespaces) {
    cp.ns = CompiledSelector::compile(*peer.namespaces, symbols);
  } else if (peer.pods) {
    cp.ns = CompiledSelector::compile(peer.pods->namespace_selector, symbols);
    cp.pod = CompiledSelector::compile(peer.pods->pod_selector, symbols);
  } else if (peer.nodes) {
    cp.node = CompiledSelector::compile(*peer.nodes, symbols);
  }
  return cp;
}

std::vector<NetworkPolicyPort> clusterPorts(const std::vector<ClusterPolicyPort>& ports) {
  std::vector<NetworkPolicyPort> out;
  for (const ClusterPolicyPort& p : ports) {
    if (!p.named_port.empty()) {
      for (Protocol protocol : {Protocol::TCP, Protocol::UDP, Protocol::SCTP}) {
        NetworkPolicyPort& e = out.emplace_back();
        e.protocol = protocol;
        e.port.emplace().value = p.named_port;
      }
      continue;
    }
    if (p.first && p.last && *p.last < *p.first) continue;  // v1alpha1 start > end: matches nothing
    NetworkPolicyPort& e = out.emplace_back();
    e.protocol = p.protocol;
    if (!p.first) continue;  // every port of the protocol
    e.port.emplace().value = *p.first;
    if (p.last && *p.last > *p.first) e.end_port = *p.last;
  }
  return out;
}

ClusterRuleRecord compileClusterRule(const ClusterPolicyRule& rule, uint32_t index,
                                     SymbolTable& symbols) {
  ClusterRuleRecord out;
  out.name = rule.name;
  out.index = index;
  out.action = rule.action;
  if (rule.failClosed()) {
    // The API: an Accept rule with a peer it cannot interpret matches no
    // traffic; a Deny or Pass rule becomes "Deny all" for its subjects.
    out.matches_nothing = rule.action == ClusterRuleAction::Accept;
    out.deny_all = !out.matches_nothing;
    return out;
  }
  for (const ClusterPolicyPeer& peer : rule.peers) {
    if (!peer.domain_names.empty()) {
      out.has_domain_names = true;
      continue;
    }
    if (!peer.networks.empty()) {
      for (const Cidr& c : peer.networks) {
        CompiledPeer cp;
        cp.block = IpBlock{c, {}};
        cp.block_cidrs = {c};
        out.match.peers.push_back(std::move(cp));
      }
      continue;
    }
    out.match.peers.push_back(compileClusterPeer(peer, symbols));
  }
  out.match.ports = clusterPorts(rule.ports);
  // Every peer was a domain name, or every port entry an empty range.
  out.matches_nothing = out.match.peers.empty() || (!rule.ports.empty() && out.match.ports.empty());
  return out;
}

}  // namespace

ClusterState ClusterState::fromManifests(const ManifestSet& set) {
  ClusterState state;
  Kinds::forEach([&]<class K>() {
    for (const auto& object : set.*K::kObjects) K::upsert(state, object);
  });
  return state;
}

NamespaceRecord& ClusterState::namespaceRecord(Symbol name) {
  auto [it, inserted] = namespaces_.try_emplace(name);
  if (inserted) {
    // A namespace implied by a pod or policy in it carries the label the API
    // server would have given it.
    it->second.name = name;
    it->second.labels = {{symbols_.intern(kNamespaceNameLabel), name}};
  }
  return it->second;
}

void ClusterState::upsertNamespace(const Namespace& ns) {
  ++revision_;
  const Symbol name = symbols_.intern(ns.meta.name);
  NamespaceRecord& rec = namespaceRecord(name);
  LabelMap labels = ns.meta.labels;
  labels[std::string(kNamespaceNameLabel)] = ns.meta.name;  // immutable, always present
  rec.labels = internLabels(labels, symbols_);
  rec.declared = true;
}

void ClusterState::removeNamespace(std::string_view name) {
  ++revision_;
  const Symbol sym = symbols_.find(name);
  auto it = namespaces_.find(sym);
  if (it == namespaces_.end()) return;
  if (it->second.pods.empty() && policiesIn(sym).empty()) {
    namespaces_.erase(it);
  } else {
    it->second.declared = false;
    it->second.labels = {{symbols_.intern(kNamespaceNameLabel), sym}};
  }
}

void ClusterState::mergeNamespaceLabels(std::string_view ns, const LabelMap& labels) {
  ++revision_;
  NamespaceRecord& rec = namespaceRecord(symbols_.intern(ns));
  mergeLabels(rec.labels, labels, symbols_);
}

void ClusterState::indexPod(PodId id) {
  const PodRecord& p = pods_[id];
  pod_by_name_[pairKey(p.namespace_, p.name)] = id;
  for (const IpAddress& ip : p.ips) pod_by_ip_[ip].push_back(id);
  for (const PodPort& port : p.ports) {
    if (port.name != 0) pods_by_port_name_[port.name].insert(id);
  }
  pods_by_node_[p.node].insert(id);
  for (const auto& [key, value] : p.labels) pods_by_label_[pairKey(key, value)].insert(id);
  namespaceRecord(p.namespace_).pods.insert(id);
}

void ClusterState::unindexPod(PodId id) {
  const PodRecord& p = pods_[id];
  pod_by_name_.erase(pairKey(p.namespace_, p.name));
  for (const IpAddress& ip : p.ips) {
    auto it = pod_by_ip_.find(ip);
    if (it == pod_by_ip_.end()) continue;
    auto& ids = it->second;
    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
    if (ids.empty()) pod_by_ip_.erase(it);
  }
  auto erase_from = [id](auto& index, auto key) {
    auto it = index.find(key);
    if (it == index.end()) return;
    it->second.erase(id);
    if (it->second.empty()) index.erase(it);
  };
  for (const PodPort& port : p.ports) {
    if (port.name != 0) erase_from(pods_by_port_name_, port.name);
  }
  erase_from(pods_by_node_, p.node);
  for (const auto& [key, value] : p.labels) erase_from(pods_by_label_, pairKey(key, value));
  if (auto it = namespaces_.find(p.namespace_); it != namespaces_.end()) it->second.pods.erase(id);
}

PodId ClusterState::upsertPod(const Pod& pod) {
  ++revision_;
  const Symbol ns = symbols_.intern(pod.meta.namespace_.empty() ? "default" : pod.meta.namespace_);
  const Symbol name = symbols_.intern(pod.meta.name);
  PodId id;
  if (auto it = pod_by_name_.find(pairKey(ns, name)); it != pod_by_name_.end()) {
    id = it->second;
    unindexPod(id);
  } else if (!free_pods_.empty()) {
    id = free_pods_.back();
    free_pods_.pop_back();
    ++pod_count_;
  } else {
    id = static_cast<PodId>(pods_.size());
    pods_.emplace_back();
    ++pod_count_;
  }
  PodRecord& rec = pods_[id];
  rec.namespace_ = ns;
  rec.name = name;
  rec.node = symbols_.intern(pod.node_name);
  rec.labels = internLabels(pod.meta.labels, symbols_);
  rec.ips = pod.ips;
  rec.ports.clear();
  for (const ContainerPort& cp : pod.ports) {
    rec.ports.push_back(PodPort{symbols_.intern(cp.name), cp.protocol, cp.port});
  }
  rec.host_network = pod.host_network;
  rec.live = true;
  indexPod(id);
  return id;
}

void ClusterState::removePod(std::string_view ns, std::string_view name) {
  auto id = findPod(ns, name);
  if (!id) return;
  ++revision_;
  unindexPod(*id);
  pods_[*id] = PodRecord{};
  free_pods_.push_back(*id);
  --pod_count_;
}

void ClusterState::mergePodLabels(std::string_view ns, std::string_view pod,
                                  const LabelMap& labels) {
  auto id = findPod(ns, pod);
  if (!id) return;
  ++revision_;
  unindexPod(*id);
  PodRecord& rec = pods_[*id];
  mergeLabels(rec.labels, labels, symbols_);
  indexPod(*id);
}

PolicyId ClusterState::upsertPolicy(const NetworkPolicy& policy) {
  ++revision_;
  const Symbol ns =
      symbols_.intern(policy.meta.namespace_.empty() ? "default" : policy.meta.namespace_);
  const Symbol name = symbols_.intern(policy.meta.name);
  PolicyId id;
  if (auto it = policy_by_name_.find(pairKey(ns, name)); it != policy_by_name_.end()) {
    id = it->second;
  } else {
    if (!free_policies_.empty()) {
      id = free_policies_.back();
      free_policies_.pop_back();
    } else {
      id = static_cast<PolicyId>(policies_.size());
      policies_.emplace_back();
    }
    policy_by_name_[pairKey(ns, name)] = id;
    policies_by_ns_[ns].push_back(id);
    namespaceRecord(ns);
  }
  PolicyRecord& rec = policies_[id];
  rec.namespace_ = ns;
  rec.name = name;
  rec.pod_selector = CompiledSelector::compile(policy.pod_selector, symbols_);
  rec.ingress.clear();
  rec.egress.clear();
  for (const auto& r : policy.ingress) rec.ingress.push_back(compileRule(r, symbols_));
  for (const auto& r : policy.egress) rec.egress.push_back(compileRule(r, symbols_));
  rec.affects_ingress = policy.affects_ingress;
  rec.affects_egress = policy.affects_egress;
  rec.live = true;
  return id;
}

void ClusterState::removePolicy(std::string_view ns, std::string_view name) {
  auto id = findPolicy(ns, name);
  if (!id) return;
  ++revision_;
  PolicyRecord& rec = policies_[*id];
  policy_by_name_.erase(pairKey(rec.namespace_, rec.name));
  auto& list = policies_by_ns_[rec.namespace_];
  list.erase(std::remove(list.begin(), list.end(), *id), list.end());
  rec = PolicyRecord{};
  free_policies_.push_back(*id);
}

void ClusterState::upsertService(const Service& svc) {
  ++revision_;
  services_[{svc.meta.namespace_, svc.meta.name}] = svc;
}
void ClusterState::removeService(std::string_view ns, std::string_view name) {
  ++revision_;
  services_.erase({std::string(ns), std::string(name)});
}
void ClusterState::upsertEndpointSlice(const EndpointSlice& slice) {
  ++revision_;
  slices_[{slice.meta.namespace_, slice.meta.name}] = slice;
}
void ClusterState::removeEndpointSlice(std::string_view ns, std::string_view name) {
  ++revision_;
  slices_.erase({std::string(ns), std::string(name)});
}
void ClusterState::upsertNode(const Node& node) {
  ++revision_;
  nodes_[node.meta.name] = NodeRecord{node.meta.name, node.pod_cidrs, node.addresses,
                                      internLabels(node.meta.labels, symbols_)};
}

ClusterPolicyId ClusterState::upsertClusterPolicy(const ClusterPolicy& policy) {
  ++revision_;
  ++cluster_policy_revision_;
  const auto key = std::pair(policy.kind, policy.meta.name);
  ClusterPolicyId id;
  if (auto it = cluster_policy_by_name_.find(key); it != cluster_policy_by_name_.end()) {
    id = it->second;
  } else if (!free_cluster_policies_.empty()) {
    id = free_cluster_policies_.back();
    free_cluster_policies_.pop_back();
  } else {
    id = static_cast<ClusterPolicyId>(cluster_policies_.size());
    cluster_policies_.emplace_back();
  }
  cluster_policy_by_name_[key] = id;
  ClusterPolicyRecord rec;
  rec.name = symbols_.intern(policy.meta.name);
  rec.kind = policy.kind;
  rec.tier = policy.tier;
  rec.priority = policy.priority;
  if (policy.subject.namespaces) {
    rec.subject_namespaces = CompiledSelector::compile(*policy.subject.namespaces, symbols_);
  } else if (policy.subject.pods) {
    rec.subject_namespaces =
        CompiledSelector::compile(policy.subject.pods->namespace_selector, symbols_);
    rec.subject_pods = CompiledSelector::compile(policy.subject.pods->pod_selector, symbols_);
  }
  for (uint32_t i = 0; i < policy.ingress.size(); ++i)
    rec.ingress.push_back(compileClusterRule(policy.ingress[i], i, symbols_));
  for (uint32_t i = 0; i < policy.egress.size(); ++i)
    rec.egress.push_back(compileClusterRule(policy.egress[i], i, symbols_));
  rec.live = true;
  cluster_policies_[id] = std::move(rec);
  sortTiers();
  return id;
}

void ClusterState::removeClusterPolicy(ClusterPolicyKind kind, std::string_view name) {
  ++revision_;
  ++cluster_policy_revision_;
  auto it = cluster_policy_by_name_.find(std::pair(kind, std::string(name)));
  if (it == cluster_policy_by_name_.end()) return;
  cluster_policies_[it->second] = ClusterPolicyRecord{};
  free_cluster_policies_.push_back(it->second);
  cluster_policy_by_name_.erase(it);
  sortTiers();
}

void ClusterState::sortTiers() {
  for (auto& order : tier_order_) order.clear();
  for (const auto& [key, id] : cluster_policy_by_name_)
    tier_order_[static_cast<size_t>(cluster_policies_[id].tier)].push_back(id);
  // evaluatedBefore's order on the records: the BANP last, then priority,
  // name, kind (the map's iteration is by kind then name, so sort fully).
  for (auto& order : tier_order_) {
    std::sort(order.begin(), order.end(), [&](ClusterPolicyId a, ClusterPolicyId b) {
      const ClusterPolicyRecord& x = cluster_policies_[a];
      const ClusterPolicyRecord& y = cluster_policies_[b];
      auto key = [&](const ClusterPolicyRecord& r) {
        return std::tuple(r.kind == ClusterPolicyKind::BaselineAdminNetworkPolicy, r.priority,
                          symbols_.view(r.name), r.kind);
      };
      return key(x) < key(y);
    });
  }
}

std::optional<ClusterPolicyId> ClusterState::findClusterPolicy(ClusterPolicyKind kind,
                                                               std::string_view name) const {
  auto it = cluster_policy_by_name_.find(std::pair(kind, std::string(name)));
  if (it == cluster_policy_by_name_.end()) return std::nullopt;
  return it->second;
}

bool ClusterState::clusterPolicySelectsPod(const ClusterPolicyRecord& policy, PodId id) const {
  const PodRecord& p = pods_[id];
  if (!policy.live || !p.live || p.host_network) return false;
  const NamespaceRecord* ns = findNamespace(p.namespace_);
  if (ns == nullptr || !policy.subject_namespaces.matches(ns->labels)) return false;
  return !policy.subject_pods || policy.subject_pods->matches(p.labels);
}

std::vector<IpAddress> ClusterState::nodeAddressesSelected(const CompiledSelector& selector) const {
  std::vector<IpAddress> out;
  for (const auto& [name, node] : nodes_)
    if (selector.matches(node.labels))
      out.insert(out.end(), node.addresses.begin(), node.addresses.end());
  return out;
}

bool ClusterState::nodeSelectorMatchesAddress(const CompiledSelector& selector,
                                              const IpAddress& address) const {
  for (const auto& [name, node] : nodes_) {
    if (selector.matches(node.labels) &&
        std::find(node.addresses.begin(), node.addresses.end(), address) != node.addresses.end())
      return true;
  }
  return false;
}
void ClusterState::removeNode(std::string_view name) {
  ++revision_;
  nodes_.erase(std::string(name));
}

std::optional<PodId> ClusterState::findPod(std::string_view ns, std::string_view name) const {
  const Symbol n = symbols_.find(ns), p = symbols_.find(name);
  if (n == SymbolTable::kNone || p == SymbolTable::kNone) return std::nullopt;
  auto it = pod_by_name_.find(pairKey(n, p));
  if (it == pod_by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<PodId> ClusterState::findPodByIp(const IpAddress& ip) const {
  auto it = pod_by_ip_.find(ip);
  if (it == pod_by_ip_.end()) return std::nullopt;
  return it->second.back();  // the most recent holder of the address
}

const std::vector<PodId>* ClusterState::podsByIp(const IpAddress& ip) const {
  auto it = pod_by_ip_.find(ip);
  return it == pod_by_ip_.end() ? nullptr : &it->second;
}

std::vector<PodId> ClusterState::podsSorted() const {
  std::vector<PodId> out;
  out.reserve(pod_count_);
  for (PodId id = 0; id < pods_.size(); ++id) {
    if (pods_[id].live) out.push_back(id);
  }
  sortByName(out);
  return out;
}

std::vector<PodId> ClusterState::podsSortedOn(std::string_view node) const {
  const Symbol sym = symbols_.find(node);
  const std::unordered_set<PodId>* on_node = sym == SymbolTable::kNone ? nullptr : podsOnNode(sym);
  if (on_node == nullptr) return {};
  std::vector<PodId> out(on_node->begin(), on_node->end());
  sortByName(out);
  return out;
}

void ClusterState::sortByName(std::vector<PodId>& ids) const {
  std::sort(ids.begin(), ids.end(), [this](PodId a, PodId b) {
    const auto& pa = pods_[a];
    const auto& pb = pods_[b];
    if (pa.namespace_ != pb.namespace_) return str(pa.namespace_) < str(pb.namespace_);
    return str(pa.name) < str(pb.name);
  });
}

std::string ClusterState::podName(PodId id) const {
  const auto& p = pods_[id];
  std::string out(str(p.namespace_));
  out += "/";
  out += str(p.name);
  return out;
}

const NamespaceRecord* ClusterState::findNamespace(Symbol name) const {
  auto it = namespaces_.find(name);
  return it == namespaces_.end() ? nullptr : &it->second;
}

const NamespaceRecord* ClusterState::findNamespace(std::string_view name) const {
  const Symbol s = symbols_.find(name);
  return s == SymbolTable::kNone ? nullptr : findNamespace(s);
}

const std::vector<PolicyId>& ClusterState::policiesIn(Symbol ns) const {
  static const std::vector<PolicyId> kEmpty;
  auto it = policies_by_ns_.find(ns);
  return it == policies_by_ns_.end() ? kEmpty : it->second;
}

std::optional<PolicyId> ClusterState::findPolicy(std::string_view ns, std::string_view name) const {
  const Symbol n = symbols_.find(ns), p = symbols_.find(name);
  if (n == SymbolTable::kNone || p == SymbolTable::kNone) return std::nullopt;
  auto it = policy_by_name_.find(pairKey(n, p));
  if (it == policy_by_name_.end()) return std::nullopt;
  return it->second;
}

const std::unordered_set<PodId>* ClusterState::podsWithPortName(Symbol name) const {
  auto it = pods_by_port_name_.find(name);
  return it == pods_by_port_name_.end() ? nullptr : &it->second;
}

const std::unordered_set<PodId>* ClusterState::podsWithLabel(Symbol key, Symbol value) const {
  auto it = pods_by_label_.find(pairKey(key, value));
  return it == pods_by_label_.end() ? nullptr : &it->second;
}

const std::unordered_set<PodId>* ClusterState::podsOnNode(Symbol node) const {
  auto it = pods_by_node_.find(node);
  return it == pods_by_node_.end() ? nullptr : &it->second;
}

const Service* ClusterState::findService(std::string_view ns, std::string_view name) const {
  auto it = services_.find({std::string(ns), std::string(name)});
  return it == services_.end() ? nullptr : &it->second;
}

std::vector<const EndpointSlice*> ClusterState::endpointSlicesOf(std::string_view ns,
                                                                 std::string_view svc) const {
  std::vector<const EndpointSlice*> out;
  for (auto it = slices_.lower_bound({std::string(ns), std::string()});
       it != slices_.end() && it->first.first == ns; ++it) {
    if (it->second.service_name == svc) out.push_back(&it->second);
  }
  return out;
}

const NodeRecord* ClusterState::findNode(std::string_view name) const {
  auto it = nodes_.find(std::string(name));
  return it == nodes_.end() ? nullptr : &it->second;
}

bool ClusterState::peerSelectsPod(const CompiledPeer& peer, Symbol policy_ns, PodId id) const {
  return peerSelectsRecord(peer, policy_ns, pods_[id]);
}

bool ClusterState::peerSelectsRecord(const CompiledPeer& peer, Symbol policy_ns,
                                     const PodRecord& p) const {
  // Address and node peers match by address, not identity.
  if (peer.block || peer.node || !p.live) return false;
  // hostNetwork pods are their node's address: no pod selector reaches them.
  if (p.host_network) return false;
  if (peer.ns) {
    const NamespaceRecord* ns = findNamespace(p.namespace_);
    if (ns == nullptr || !peer.ns->matches(ns->labels)) return false;
  } else if (p.namespace_ != policy_ns) {
    return false;
  }
  return !peer.pod || peer.pod->matches(p.labels);
}

bool ClusterState::policySelectsPod(const PolicyRecord& policy, PodId id) const {
  const PodRecord& p = pods_[id];
  return policy.live && !p.host_network && p.namespace_ == policy.namespace_ &&
         policy.pod_selector.matches(p.labels);
}

}  // namespace palisade::policy
