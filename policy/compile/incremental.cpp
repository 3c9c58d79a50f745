#include "policy/compile/incremental.h"

#include <algorithm>

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
    std::rotate(field.begin() + at, field.end() - 1, field.end());
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
  for (uint32_t id = 1; id <= count; ++id) {
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
    // While an address is reused, another live pod may hold the same
    // element: it stays (no remove) and is already there (no add).
    auto held_by_other = [&](const IpAddress& a) {
      const auto* holders = state_.podsByIp(a);
      if (holders == nullptr) return false;
      return std::any_of(holders->begin(), holders->end(), [&](PodId other) {
        const PodRecord& o = state_.pod(other);
        if (&o == &now) return false;
        const auto contributed = contributedAddresses(state_, source, o);
        return std::find(contributed.begin(), contributed.end(), a) != contributed.end();
      });
    };
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

}  // namespace palisade::policy
