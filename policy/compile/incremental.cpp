#include "policy/compile/incremental.h"

#include <algorithm>
#include <type_traits>
#include <unordered_set>

namespace palisade::policy {

namespace {

std::string endpointKey(const ClusterState& state, const PodRecord& p) {
  std::string key(state.str(p.namespace_));
  key += '/';
  key += state.str(p.name);
  return key;
}

void addHost(const IpAddress& a, bool add, ir::PeerSetDelta& out) {
  if (a.isV4()) {
    auto* c = add ? out.add_add_v4() : out.add_remove_v4();
    c->set_address(a.v4Value());
    c->set_prefix_len(32);
  } else {
    auto* c = add ? out.add_add_v6() : out.add_remove_v6();
    c->set_high(a.high());
    c->set_low(a.low());
    c->set_prefix_len(128);
  }
}

// The set's elements stay sorted as fillPeerAddresses leaves them (by address,
// then prefix length), so one host is found, added or removed by binary
// search instead of rebuilding the set from every pod it could contain.
template <typename Field, typename Key>
void applyHosts(Field& field, const Field& adds, const Field& removes, Key key) {
  auto lower = [&](const auto& element) {
    return std::lower_bound(field.begin(), field.end(), key(element),
                            [&](const auto& x, const auto& k) { return key(x) < k; });
  };
  for (const auto& r : removes) {
    auto it = lower(r);
    if (it != field.end() && key(*it) == key(r)) {
      field.DeleteSubrange(static_cast<int>(it - field.begin()), 1);
    }
  }
  for (const auto& a : adds) {
    auto it = lower(a);
    if (it != field.end() && key(*it) == key(a)) continue;
    const auto at = it - field.begin();
    *field.Add() = a;
    // Into place by moving pointers (one memmove), not by swapping messages
    // down the whole set: a set of every pod holds 150k of them.
    auto ptrs = field.pointer_begin();
    const auto size = field.size();
    auto* added = ptrs[size - 1];
    std::move_backward(ptrs + at, ptrs + size - 1, ptrs + size);
    ptrs[at] = added;
  }
}

void applyPeerSetDelta(const ir::PeerSetDelta& change, ir::PeerSet& set) {
  applyHosts(*set.mutable_v4(), change.add_v4(), change.remove_v4(), [](const ir::Ipv4Cidr& c) {
    return std::pair{c.address(), c.prefix_len()};
  });
  applyHosts(*set.mutable_v6(), change.add_v6(), change.remove_v6(), [](const ir::Ipv6Cidr& c) {
    return std::tuple{c.high(), c.low(), c.prefix_len()};
  });
}

bool covered(const PeerSetSource& source, const IpAddress& a) {
  if (source.named) return false;
  return std::any_of(source.blocks.begin(), source.blocks.end(),
                     [&](const Cidr& c) { return c.contains(a); });
}

bool selectedBySelectors(const ClusterState& state, const PeerSetSource& source,
                         const PodRecord& pod) {
  if (!pod.live) return false;
  return std::any_of(source.peers.begin(), source.peers.end(), [&](const CompiledPeer& peer) {
    return !peer.block && state.peerSelectsRecord(peer, source.policy_ns, pod);
  });
}

}  // namespace

IncrementalCompiler::IncrementalCompiler(ClusterState& state, std::string node)
    : state_(state), node_(std::move(node)) {
  recompile();
}

const ir::Ruleset& IncrementalCompiler::ruleset() { return builder_->ruleset(); }

ir::RulesetDelta IncrementalCompiler::startDelta() {
  ir::RulesetDelta d;
  d.set_from_revision(revision_);
  ++revision_;
  d.set_to_revision(revision_);
  return d;
}

// A change that changes nothing still takes a revision, and the ruleset
// carries it, so that a consumer checking revisions sees them follow on.
ir::RulesetDelta IncrementalCompiler::emptyDelta() {
  ir::RulesetDelta d = startDelta();
  builder_->ruleset().set_revision(revision_);
  return d;
}

ir::RulesetDelta IncrementalCompiler::recompile() {
  ir::RulesetDelta d = startDelta();
  d.set_full(true);
  builder_ = std::make_unique<RulesetBuilder>(state_, node_);
  builder_->buildInPlace();
  set_index_.clear();
  builder_->ruleset().set_revision(revision_);
  endpoint_index_.clear();
  const auto& endpoints = builder_->ruleset().endpoints();
  for (int i = 0; i < endpoints.size(); ++i) {
    endpoint_index_[endpoints[i].namespace_() + "/" + endpoints[i].name()] = i;
  }
  return d;
}

ir::RulesetDelta IncrementalCompiler::upsertPod(const Pod& pod) {
  const std::string& ns =
      pod.meta.namespace_.empty() ? std::string("default") : pod.meta.namespace_;
  PodRecord before;
  if (auto id = state_.findPod(ns, pod.meta.name)) before = state_.pod(*id);
  const PodId id = state_.upsertPod(pod);
  return podChanged(before, id);
}

ir::RulesetDelta IncrementalCompiler::removePod(std::string_view ns, std::string_view name) {
  auto id = state_.findPod(ns, name);
  if (!id) return emptyDelta();
  const PodRecord before = state_.pod(*id);
  state_.removePod(ns, name);
  return podChanged(before, std::nullopt);
}

ir::RulesetDelta IncrementalCompiler::mergePodLabels(std::string_view ns, std::string_view name,
                                                     const LabelMap& labels) {
  auto id = state_.findPod(ns, name);
  if (!id) return emptyDelta();
  const PodRecord before = state_.pod(*id);
  state_.mergePodLabels(ns, name, labels);
  return podChanged(before, id);
}

ir::RulesetDelta IncrementalCompiler::podChanged(const PodRecord& before,
                                                 std::optional<PodId> after) {
  static const PodRecord kGone;
  const PodRecord& now = after ? state_.pod(*after) : kGone;
  // A named port resolving to a number no egress rule has a group for yet
  // means a new rule: recompile (rare; pods of one workload share numbers).
  if (needsNewNamedGroup(now)) return recompile();
  ir::RulesetDelta d = startDelta();
  diffPeerSets(before, now, d);
  updateEndpoint(before, after, d);
  builder_->ruleset().set_revision(revision_);
  return d;
}

void IncrementalCompiler::diffPeerSets(const PodRecord& before, const PodRecord& now,
                                       ir::RulesetDelta& delta) {
  const auto count = static_cast<uint32_t>(builder_->ruleset().peer_sets_size());
  set_index_.extend(*builder_, count);
  std::vector<uint32_t> ids;
  set_index_.candidates(state_, before, ids);
  set_index_.candidates(state_, now, ids);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (const uint32_t id : ids) {
    if (builder_->ruleset().peer_sets(static_cast<int>(id - 1)).retired()) continue;
    const PeerSetSource& source = builder_->peerSetSource(id);
    std::vector<IpAddress> was, is;
    if (source.named) {
      was = contributedAddresses(state_, source, before);
      is = contributedAddresses(state_, source, now);
    } else {
      // Fast path: most sets select neither version of the pod.
      const bool was_in = selectedBySelectors(state_, source, before);
      const bool is_in = selectedBySelectors(state_, source, now);
      if (!was_in && !is_in) continue;
      if (was_in && is_in && before.ips == now.ips) continue;
      if (was_in) was = before.ips;
      if (is_in) is = now.ips;
    }
    if (was == is) continue;
    ir::PeerSetDelta change;
    change.set_id(id);
    bool any = false;
    auto held_by_other = [&](const IpAddress& a) { return heldByOther(source, a, &now); };
    for (const IpAddress& a : was) {
      if (std::find(is.begin(), is.end(), a) != is.end() || covered(source, a)) continue;
      if (held_by_other(a)) continue;
      addHost(a, /*add=*/false, change);
      any = true;
    }
    for (const IpAddress& a : is) {
      if (std::find(was.begin(), was.end(), a) != was.end() || covered(source, a)) continue;
      if (held_by_other(a)) continue;
      addHost(a, /*add=*/true, change);
      any = true;
    }
    if (any) {
      applyPeerSetDelta(change, *builder_->ruleset().mutable_peer_sets(static_cast<int>(id - 1)));
      *delta.add_peer_sets() = std::move(change);
    }
  }
}

// While an address is reused, another live pod may hold the same element: it
// stays (no remove) and is already there (no add).
bool IncrementalCompiler::heldByOther(const PeerSetSource& source, const IpAddress& a,
                                      const PodRecord* except) const {
  const auto* holders = state_.podsByIp(a);
  if (holders == nullptr) return false;
  return std::any_of(holders->begin(), holders->end(), [&](PodId other) {
    const PodRecord& o = state_.pod(other);
    if (&o == except) return false;
    const auto contributed = contributedAddresses(state_, source, o);
    return std::find(contributed.begin(), contributed.end(), a) != contributed.end();
  });
}

bool IncrementalCompiler::needsNewNamedGroup(const PodRecord& now) const {
  if (!now.live) return false;
  for (const PodPort& port : now.ports) {
    if (port.name == 0) continue;
    for (const NamedPortSource& src : builder_->namedPortSources()) {
      if (src.port_name != port.name || src.protocol != port.protocol) continue;
      PeerSetSource probe{src.policy_ns, src.peers,    {},       true,
                          src.port_name, src.protocol, port.port};
      for (const CompiledPeer& peer : src.peers) {
        probe.blocks.insert(probe.blocks.end(), peer.block_cidrs.begin(), peer.block_cidrs.end());
      }
      if (contributedAddresses(state_, probe, now).empty()) continue;
      if (!builder_->hasPeerSet(
              namedGroupKey(src.peers_key, state_.str(port.name), port.protocol, port.port))) {
        return true;
      }
    }
  }
  return false;
}

void IncrementalCompiler::updateEndpoint(const PodRecord& before, std::optional<PodId> after,
                                         ir::RulesetDelta& delta) {
  ir::Ruleset& rs = builder_->ruleset();
  const int programs = rs.programs_size();
  const int peer_sets = rs.peer_sets_size();
  const int port_sets = rs.port_sets_size();

  const bool was_local = before.live && builder_->isLocal(before);
  const bool now_local = after && builder_->isLocal(state_.pod(*after));
  if (now_local) {
    const std::string key = endpointKey(state_, state_.pod(*after));
    ir::Endpoint endpoint;
    builder_->fillEndpoint(*after, endpoint);
    if (auto it = endpoint_index_.find(key); it != endpoint_index_.end()) {
      *rs.mutable_endpoints(it->second) = endpoint;
    } else {
      endpoint_index_[key] = rs.endpoints_size();
      *rs.add_endpoints() = endpoint;
    }
    *delta.add_upserted_endpoints() = std::move(endpoint);
  } else if (was_local) {
    const std::string key = endpointKey(state_, before);
    if (auto it = endpoint_index_.find(key); it != endpoint_index_.end()) {
      const int index = it->second;
      const int last = rs.endpoints_size() - 1;
      if (index != last) {
        rs.mutable_endpoints()->SwapElements(index, last);
        const auto& moved = rs.endpoints(index);
        endpoint_index_[moved.namespace_() + "/" + moved.name()] = index;
      }
      rs.mutable_endpoints()->RemoveLast();
      endpoint_index_.erase(it);
      auto* ref = delta.add_removed_endpoints();
      ref->set_namespace_(std::string(state_.str(before.namespace_)));
      ref->set_name(std::string(state_.str(before.name)));
    }
  }
  // Programs and sets the endpoint's programs needed that did not exist yet.
  for (int i = programs; i < rs.programs_size(); ++i) *delta.add_new_programs() = rs.programs(i);
  for (int i = peer_sets; i < rs.peer_sets_size(); ++i) {
    *delta.add_new_peer_sets() = rs.peer_sets(i);
  }
  for (int i = port_sets; i < rs.port_sets_size(); ++i) {
    *delta.add_new_port_sets() = rs.port_sets(i);
  }
}

// ---- policy and namespace changes ----

std::vector<PodId> IncrementalCompiler::localPodsIn(std::string_view ns) const {
  std::vector<PodId> out;
  const NamespaceRecord* rec = state_.findNamespace(ns);
  if (rec == nullptr) return out;
  for (PodId id : rec->pods)
    if (builder_->isLocal(state_.pod(id))) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

void IncrementalCompiler::refreshEndpoints(const std::vector<PodId>& pods,
                                           ir::RulesetDelta& delta) {
  ir::Ruleset& rs = builder_->ruleset();
  const int programs = rs.programs_size();
  const int peer_sets = rs.peer_sets_size();
  const int port_sets = rs.port_sets_size();
  for (PodId id : pods) {
    const PodRecord& p = state_.pod(id);
    const std::string key = endpointKey(state_, p);
    ir::Endpoint endpoint;
    builder_->fillEndpoint(id, endpoint);
    auto it = endpoint_index_.find(key);
    if (it == endpoint_index_.end()) continue;  // not an endpoint (yet): a pod change adds it
    ir::Endpoint& have = *rs.mutable_endpoints(it->second);
    if (have.SerializeAsString() == endpoint.SerializeAsString()) continue;
    have = endpoint;
    *delta.add_upserted_endpoints() = std::move(endpoint);
  }
  for (int i = programs; i < rs.programs_size(); ++i) *delta.add_new_programs() = rs.programs(i);
  for (int i = peer_sets; i < rs.peer_sets_size(); ++i)
    *delta.add_new_peer_sets() = rs.peer_sets(i);
  for (int i = port_sets; i < rs.port_sets_size(); ++i)
    *delta.add_new_port_sets() = rs.port_sets(i);
}

ir::RulesetDelta IncrementalCompiler::finish(ir::RulesetDelta delta) {
  // What the endpoints still use; the rest is left over from earlier policies.
  const ir::Ruleset& rs = builder_->ruleset();
  std::unordered_set<uint32_t> programs, peer_sets;
  for (const ir::Endpoint& ep : rs.endpoints()) {
    for (uint32_t id :
         {ep.ingress_program(), ep.egress_program(), ep.admin_ingress_program(),
          ep.admin_egress_program(), ep.baseline_ingress_program(), ep.baseline_egress_program()})
      if (id != 0) programs.insert(id);
  }
  for (uint32_t id : programs)
    for (const ir::Rule& r : rs.programs(static_cast<int>(id - 1)).rules())
      if (r.peer_set() != 0) peer_sets.insert(r.peer_set());
  // Unused programs and sets are kept a while (a policy removed and put back
  // finds them again); past twice what is used they are retired in place:
  // ids stay, so this is a delta too, not a recompile. Only when the retired
  // slots outweigh the live ones by far does a recompile make the ids dense.
  constexpr size_t kSlack = 64;
  const size_t live_programs = size_t(rs.programs_size()) - builder_->retiredPrograms();
  const size_t live_sets = size_t(rs.peer_sets_size()) - builder_->retiredPeerSets();
  if (live_programs > 2 * programs.size() + kSlack || live_sets > 2 * peer_sets.size() + kSlack) {
    std::vector<uint32_t> gone_programs, gone_sets;
    builder_->retire(programs, peer_sets, gone_programs, gone_sets);
    for (uint32_t id : gone_programs) delta.add_retired_programs(id);
    for (uint32_t id : gone_sets) delta.add_retired_peer_sets(id);
  }
  constexpr size_t kMaxRetired = 1 << 16;
  if (builder_->retiredPrograms() + builder_->retiredPeerSets() >
      kMaxRetired + 4 * (live_programs + live_sets))
    return recompile();
  builder_->ruleset().set_revision(revision_);
  return delta;
}

ir::RulesetDelta IncrementalCompiler::upsertPolicy(const NetworkPolicy& policy) {
  const std::string ns = policy.meta.namespace_.empty() ? "default" : policy.meta.namespace_;
  state_.upsertPolicy(policy);
  ir::RulesetDelta d = startDelta();
  refreshEndpoints(localPodsIn(ns), d);
  return finish(std::move(d));
}

ir::RulesetDelta IncrementalCompiler::removePolicy(std::string_view ns, std::string_view name) {
  state_.removePolicy(ns, name);
  ir::RulesetDelta d = startDelta();
  refreshEndpoints(localPodsIn(ns), d);
  return finish(std::move(d));
}

namespace {

/// The local endpoints among `endpoints` that a cluster policy record selects.
void addSelected(const ClusterState& state, const ClusterPolicyRecord& policy,
                 const ir::Ruleset& rs, std::vector<PodId>& out) {
  for (const ir::Endpoint& ep : rs.endpoints()) {
    auto id = state.findPod(ep.namespace_(), ep.name());
    if (id && state.clusterPolicySelectsPod(policy, *id)) out.push_back(*id);
  }
}

}  // namespace

ir::RulesetDelta IncrementalCompiler::upsertClusterPolicy(const ClusterPolicy& policy) {
  std::vector<PodId> affected;
  if (auto old = state_.findClusterPolicy(policy.kind, policy.meta.name))
    addSelected(state_, state_.clusterPolicy(*old), builder_->ruleset(), affected);
  const ClusterPolicyId id = state_.upsertClusterPolicy(policy);
  addSelected(state_, state_.clusterPolicy(id), builder_->ruleset(), affected);
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  ir::RulesetDelta d = startDelta();
  refreshEndpoints(affected, d);
  return finish(std::move(d));
}

ir::RulesetDelta IncrementalCompiler::removeClusterPolicy(ClusterPolicyKind kind,
                                                          std::string_view name) {
  std::vector<PodId> affected;
  if (auto old = state_.findClusterPolicy(kind, name))
    addSelected(state_, state_.clusterPolicy(*old), builder_->ruleset(), affected);
  state_.removeClusterPolicy(kind, name);
  ir::RulesetDelta d = startDelta();
  refreshEndpoints(affected, d);
  return finish(std::move(d));
}

template <typename Write>
ir::RulesetDelta IncrementalCompiler::namespaceChanged(std::string_view name, Write&& write) {
  // The peer sets whose members depend on namespace labels.
  std::vector<uint32_t> sets;
  const auto count = static_cast<uint32_t>(builder_->ruleset().peer_sets_size());
  for (uint32_t id = 1; id <= count; ++id) {
    if (builder_->ruleset().peer_sets(static_cast<int>(id - 1)).retired()) continue;
    const PeerSetSource& source = builder_->peerSetSource(id);
    if (std::any_of(source.peers.begin(), source.peers.end(),
                    [](const CompiledPeer& p) { return p.ns.has_value(); }))
      sets.push_back(id);
  }
  std::vector<PodId> pods;
  if (const NamespaceRecord* rec = state_.findNamespace(name))
    pods.assign(rec->pods.begin(), rec->pods.end());
  std::sort(pods.begin(), pods.end());
  // What each pod contributes to each such set, before and after the write.
  auto contributions = [&] {
    std::vector<std::vector<IpAddress>> out;
    out.reserve(pods.size() * sets.size());
    for (PodId pod : pods)
      for (uint32_t id : sets)
        out.push_back(contributedAddresses(state_, builder_->peerSetSource(id), state_.pod(pod)));
    return out;
  };
  const auto before = contributions();
  write(state_);
  const auto after = contributions();
  for (PodId pod : pods)
    if (needsNewNamedGroup(state_.pod(pod))) return recompile();

  ir::RulesetDelta d = startDelta();
  for (size_t s = 0; s < sets.size(); ++s) {
    const uint32_t id = sets[s];
    const PeerSetSource& source = builder_->peerSetSource(id);
    ir::PeerSetDelta change;
    change.set_id(id);
    bool any = false;
    for (size_t p = 0; p < pods.size(); ++p) {
      const auto& was = before[p * sets.size() + s];
      const auto& is = after[p * sets.size() + s];
      if (was == is) continue;
      const PodRecord* self = &state_.pod(pods[p]);
      for (const IpAddress& a : was) {
        if (std::find(is.begin(), is.end(), a) != is.end() || covered(source, a)) continue;
        if (heldByOther(source, a, self)) continue;
        addHost(a, /*add=*/false, change);
        any = true;
      }
      for (const IpAddress& a : is) {
        if (std::find(was.begin(), was.end(), a) != was.end() || covered(source, a)) continue;
        if (heldByOther(source, a, self)) continue;
        addHost(a, /*add=*/true, change);
        any = true;
      }
    }
    if (any) {
      applyPeerSetDelta(change, *builder_->ruleset().mutable_peer_sets(static_cast<int>(id - 1)));
      *d.add_peer_sets() = std::move(change);
    }
  }
  refreshEndpoints(localPodsIn(name), d);
  return finish(std::move(d));
}

ir::RulesetDelta IncrementalCompiler::upsertNamespace(const Namespace& ns) {
  return namespaceChanged(ns.meta.name, [&](ClusterState& s) { s.upsertNamespace(ns); });
}

ir::RulesetDelta IncrementalCompiler::removeNamespace(std::string_view name) {
  return namespaceChanged(name, [&](ClusterState& s) { s.removeNamespace(name); });
}

ir::RulesetDelta IncrementalCompiler::mergeNamespaceLabels(std::string_view ns,
                                                           const LabelMap& labels) {
  return namespaceChanged(ns, [&](ClusterState& s) { s.mergeNamespaceLabels(ns, labels); });
}

std::optional<ir::RulesetDelta> IncrementalCompiler::upsert(const AnyObject& object) {
  return std::visit(
      [&]<class T>(const T& o) -> std::optional<ir::RulesetDelta> {
        if constexpr (std::is_same_v<T, Pod>) return upsertPod(o);
        if constexpr (std::is_same_v<T, NetworkPolicy>) return upsertPolicy(o);
        if constexpr (std::is_same_v<T, Namespace>) return upsertNamespace(o);
        if constexpr (std::is_base_of_v<ClusterPolicy, T>) return upsertClusterPolicy(o);
        return std::nullopt;
      },
      object);
}

std::optional<ir::RulesetDelta> IncrementalCompiler::remove(KindId kind, std::string_view ns,
                                                            std::string_view name) {
  std::optional<ir::RulesetDelta> out;
  Kinds::with(kind, [&]<class K>() {
    using T = typename K::Object;
    if constexpr (std::is_same_v<T, Pod>) out = removePod(ns, name);
    if constexpr (std::is_same_v<T, NetworkPolicy>) out = removePolicy(ns, name);
    if constexpr (std::is_same_v<T, Namespace>) out = removeNamespace(name);
    if constexpr (std::is_base_of_v<ClusterPolicy, T>) out = removeClusterPolicy(T::kKind, name);
  });
  return out;
}

}  // namespace palisade::policy
