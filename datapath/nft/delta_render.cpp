#include "datapath/nft/delta_render.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "datapath/nft/batch.h"

namespace palisade::datapath::nft {
namespace {

EndpointEntry entryOf(const ir::Endpoint& ep) {
  EndpointEntry e;
  for (uint32_t a : ep.ipv4()) e.v4.push_back(a);
  for (const auto& a : ep.ipv6()) e.v6.push_back(v6Value(a.high(), a.low()));
  e.ingress = directionPrograms(ep, ir::INGRESS);
  e.egress = directionPrograms(ep, ir::EGRESS);
  e.origin = endpointOrigin(ep);
  return e;
}

using Claims = std::unordered_map<U128, uint32_t, U128Hash>;

void claim(Claims& claims, U128 a, int by, size_t& shared) {
  uint32_t& n = claims[a];
  const bool was_shared = n > 1;
  n = static_cast<uint32_t>(int64_t(n) + by);
  const bool is_shared = n > 1;
  if (is_shared && !was_shared) ++shared;
  if (was_shared && !is_shared) --shared;
  if (n == 0) claims.erase(a);
}

const ir::PeerSet* peerSetById(const ir::Ruleset& rs, uint32_t id) {
  // Ids are dense (peer_sets[i].id == i + 1); search only if a producer broke that.
  if (id >= 1 && int(id) <= rs.peer_sets_size() && rs.peer_sets(int(id) - 1).id() == id)
    return &rs.peer_sets(int(id) - 1);
  for (const auto& p : rs.peer_sets())
    if (p.id() == id) return &p;
  return nullptr;
}

struct RangeOp {
  bool add = false;
  Range range;
};

/// The element change of one interval set under `ops`, looking only at the
/// intervals within one key of an op (what render's merging can reach): those
/// are cut and re-merged, and the difference becomes whole-interval removes
/// and adds. False when an op contradicts the set (an added address already
/// covered, a removed one not covered): the IR and the model disagree.
bool rangeChange(const std::vector<Range>& current, const std::vector<RangeOp>& ops, KeyType key,
                 ElementDelta& out) {
  const U128 max = keyMaxValue(key);
  std::vector<std::pair<size_t, size_t>> spans;
  for (const RangeOp& op : ops) {
    const U128 lo = op.range.first == 0 ? 0 : op.range.first - 1;
    const U128 hi = op.range.last == max ? max : op.range.last + 1;
    auto first = std::partition_point(current.begin(), current.end(),
                                      [&](const Range& r) { return r.last < lo; });
    auto last =
        std::partition_point(first, current.end(), [&](const Range& r) { return r.first <= hi; });
    spans.emplace_back(size_t(first - current.begin()), size_t(last - current.begin()));
  }
  std::sort(spans.begin(), spans.end());
  std::vector<Range> before;
  size_t done = 0;  // spans overlap: take each interval once
  for (auto [b, e] : spans) {
    for (size_t i = std::max(b, done); i < e; ++i) before.push_back(current[i]);
    done = std::max(done, e);
  }

  std::vector<Range> work = before;
  for (const RangeOp& op : ops) {
    const Range& r = op.range;
    if (op.add) {
      for (const Range& w : work)
        if (w.first <= r.last && r.first <= w.last) return false;
      work.insert(std::upper_bound(work.begin(), work.end(), r), r);
      continue;
    }
    auto it = std::find_if(work.begin(), work.end(),
                           [&](const Range& w) { return w.first <= r.first && r.last <= w.last; });
    if (it == work.end()) return false;
    const Range whole = *it;
    it = work.erase(it);
    if (r.last < whole.last) it = work.insert(it, Range{r.last + 1, whole.last});
    if (whole.first < r.first) work.insert(it, Range{whole.first, r.first - 1});
  }
  diffRanges(before, normalize(std::move(work), key), out.add_ranges, out.remove_ranges);
  return true;
}

/// The element change of one hash set under `ops`: keys added and removed as
/// they are (nothing merges). False when an op contradicts the set (an added
/// key already there, a removed one missing, a prefix where only keys belong).
bool keyChange(const std::vector<Range>& current, const std::vector<RangeOp>& ops,
               ElementDelta& out) {
  std::map<U128, bool> now;  // key → present, for the keys the ops touch
  for (const RangeOp& op : ops) {
    if (op.range.first != op.range.last) return false;
    const U128 k = op.range.first;
    auto [it, fresh] = now.try_emplace(k, false);
    if (fresh) it->second = std::binary_search(current.begin(), current.end(), Range{k, k});
    if (it->second == op.add) return false;
    it->second = op.add;
  }
  for (const auto& [k, present] : now) {
    const bool was = std::binary_search(current.begin(), current.end(), Range{k, k});
    if (was && !present) out.remove_ranges.push_back({k, k});
    if (!was && present) out.add_ranges.push_back({k, k});
  }
  return true;
}

}  // namespace

DeltaIndex DeltaIndex::build(const ir::Ruleset& rs, RenderNames names) {
  DeltaIndex index;
  index.names = std::move(names);
  for (const auto& ep : rs.endpoints()) {
    EndpointEntry e = entryOf(ep);
    for (U128 a : e.v4) claim(index.claims_v4, a, 1, index.shared_addresses);
    for (U128 a : e.v6) claim(index.claims_v6, a, 1, index.shared_addresses);
    index.endpoints[ep.namespace_() + "/" + ep.name()] = std::move(e);
  }
  return index;
}

std::optional<RenderedDelta> renderDelta(const TableModel& model, const DeltaIndex& index,
                                         const ir::Ruleset& next,
                                         std::span<const ir::RulesetDelta> deltas, DenyAction deny,
                                         std::string& why_not) {
  RenderedDelta out;
  Delta& d = out.delta;
  d.table = model.name;
  auto decline = [&](std::string why) -> std::optional<RenderedDelta> {
    why_not = std::move(why);
    return std::nullopt;
  };
  if (index.shared_addresses > 0) return decline("endpoints share an address");

  // ---- new objects: named exactly as render would name them in `next` ----
  std::vector<const ir::Program*> new_programs;
  std::vector<const ir::PortSet*> new_port_sets;
  for (const auto& delta : deltas) {
    if (delta.full()) return decline("full ruleset change");
    for (const auto& p : delta.new_programs()) new_programs.push_back(&p);
    for (const auto& p : delta.new_port_sets()) new_port_sets.push_back(&p);
  }
  const RenderNames* names = &index.names;
  std::unordered_set<uint32_t> fresh_peer_sets;  // rendered whole below: skip their element ops
  if (!new_programs.empty() || !new_port_sets.empty()) {
    out.names = index.names;
    RenderNames& work = *out.names;
    names = &work;
    std::unordered_set<std::string> added;
    for (const ir::PortSet* ps : new_port_sets) {
      auto s = renderPortSet(*ps);
      if (!s) return decline(s.error().str());
      work.port_set[ps->id()] = s->name;
      if (!model.sets.count(s->name) && added.insert(s->name).second)
        d.add_sets.push_back(std::move(*s));
    }
    // Peer sets are named by their keys: a new use of a set already rendered
    // changes nothing; a set no rule used before is rendered whole.
    std::map<uint32_t, std::string> first_use;  // by id: suffixes follow id order
    for (const ir::Program* prog : new_programs) {
      for (int i = 0; i < prog->rules_size(); ++i) {
        const auto& rule = prog->rules(i);
        if (rule.port_set() && !work.port_set.count(rule.port_set()))
          return decline(ruleOrigin(*prog, i) + ": unknown port set");
        if (rule.peer_set() == 0 || work.peer_set.count(rule.peer_set())) continue;
        first_use.try_emplace(rule.peer_set(), ruleOrigin(*prog, i));
      }
    }
    for (const auto& [id, origin] : first_use) {
      const ir::PeerSet* ps = peerSetById(next, id);
      if (ps == nullptr) return decline("unknown peer set " + std::to_string(id));
      std::string hash_name = peerHashName(*ps);
      auto& ids = work.peer_hash[hash_name];
      if (!ids.empty() && ids.back() > id)
        return decline("a new peer set would renumber " + hash_name);
      std::string name = peerSetName(hash_name, ids.size());
      ids.push_back(id);
      work.peer_set[id] = name;
      fresh_peer_sets.insert(id);
      auto [v4, v6] = renderPeerSet(*ps, name, origin);
      if (model.sets.count(v4.name) || model.sets.count(v6.name))
        return decline("set " + name + " exists already");
      d.add_sets.push_back(std::move(v4));
      d.add_sets.push_back(std::move(v6));
    }
    for (const ir::Program* prog : new_programs) {
      auto c = renderProgram(*prog, work, deny);
      if (!c) return decline(c.error().str());
      work.chain[prog->id()] = c->name;
      if (!model.chains.count(c->name) && added.insert(c->name).second)
        d.add_chains.push_back(std::move(*c));
    }
  }

  // ---- retired programs and peer sets: their chains and sets go ----
  std::unordered_set<uint32_t> retired_sets;
  {
    std::vector<uint32_t> programs, sets;
    for (const auto& delta : deltas) {
      programs.insert(programs.end(), delta.retired_programs().begin(),
                      delta.retired_programs().end());
      sets.insert(sets.end(), delta.retired_peer_sets().begin(), delta.retired_peer_sets().end());
    }
    if (!programs.empty() || !sets.empty()) {
      if (!out.names) out.names = index.names;
      names = &*out.names;
      RenderNames& work = *out.names;
      std::set<std::string> chains;
      for (uint32_t id : programs) {
        auto it = work.chain.find(id);
        if (it == work.chain.end()) continue;
        for (const ir::Program* p : new_programs)
          if (p->id() == id) return decline("program " + std::to_string(id) + " new and retired");
        chains.insert(it->second);
        work.chain.erase(it);
      }
      // Chains are named by content: one a live program renders the same stays.
      for (const auto& [id, name] : work.chain) chains.erase(name);
      for (const auto& name : chains)
        if (model.chains.count(name)) d.delete_chains.push_back(name);
      for (uint32_t id : sets) {
        auto it = work.peer_set.find(id);
        if (it == work.peer_set.end()) continue;  // never rendered
        if (fresh_peer_sets.count(id))
          return decline("peer set " + std::to_string(id) + " new and retired");
        const ir::PeerSet* ps = peerSetById(next, id);
        if (ps == nullptr) return decline("unknown peer set " + std::to_string(id));
        auto hit = work.peer_hash.find(peerHashName(*ps));
        if (hit == work.peer_hash.end() || hit->second.empty() || hit->second.back() != id)
          return decline("retiring peer set " + std::to_string(id) + " would renumber its hash");
        hit->second.pop_back();
        if (hit->second.empty()) work.peer_hash.erase(hit);
        for (const char* family : {"_v4", "_v6"})
          if (model.sets.count(it->second + family)) d.delete_sets.push_back(it->second + family);
        work.peer_set.erase(it);
        retired_sets.insert(id);
      }
    }
  }

  // ---- peer set elements ----
  std::map<std::string, std::vector<RangeOp>> ops;  // set name → ops in delta order
  for (const auto& delta : deltas) {
    for (const auto& psd : delta.peer_sets()) {
      if (fresh_peer_sets.count(psd.id()) || retired_sets.count(psd.id())) continue;
      auto it = names->peer_set.find(psd.id());
      if (it == names->peer_set.end()) continue;  // no rule uses it: not in the table
      auto& o4 = ops[it->second + "_v4"];
      auto& o6 = ops[it->second + "_v6"];
      // Removes first: the compiler never adds and removes one address in one delta.
      for (const auto& c : psd.remove_v4()) o4.push_back({false, cidrRange(c)});
      for (const auto& c : psd.add_v4()) o4.push_back({true, cidrRange(c)});
      for (const auto& c : psd.remove_v6()) o6.push_back({false, cidrRange(c)});
      for (const auto& c : psd.add_v6()) o6.push_back({true, cidrRange(c)});
    }
  }
  for (const auto& [set, set_ops] : ops) {
    if (set_ops.empty()) continue;
    auto it = model.sets.find(set);
    if (it == model.sets.end() || it->second.is_map) return decline("set " + set + " not in table");
    const SetModel& s = it->second;
    ElementDelta e{set, s.key, false, s.origin, {}, {}, {}, {}, s.interval};
    if (!(s.interval ? rangeChange(s.ranges, set_ops, s.key, e) : keyChange(s.ranges, set_ops, e)))
      return decline("set " + set + " does not hold what the delta changes");
    if (e.size()) d.elements.push_back(std::move(e));
  }

  // ---- dispatch entries of the endpoints the deltas touch ----
  std::vector<std::string> order;
  std::unordered_map<std::string, std::optional<EndpointEntry>> after;
  auto touch = [&](const std::string& key, std::optional<EndpointEntry> e) {
    auto [it, inserted] = after.try_emplace(key);
    if (inserted) order.push_back(key);
    it->second = std::move(e);
  };
  for (const auto& delta : deltas) {
    for (const auto& ep : delta.upserted_endpoints())
      touch(ep.namespace_() + "/" + ep.name(), entryOf(ep));
    for (const auto& ref : delta.removed_endpoints())
      touch(ref.namespace_() + "/" + ref.name(), std::nullopt);
  }
  // Render keeps the first endpoint of an address; exactness here needs every
  // address to have at most one endpoint, before and after.
  std::set<U128> touched4, touched6;
  std::unordered_map<U128, int, U128Hash> change4, change6;
  for (const auto& key : order) {
    if (auto it = index.endpoints.find(key); it != index.endpoints.end()) {
      for (U128 a : it->second.v4) touched4.insert(a), --change4[a];
      for (U128 a : it->second.v6) touched6.insert(a), --change6[a];
    }
    if (const auto& e = after[key]) {
      for (U128 a : e->v4) touched4.insert(a), ++change4[a];
      for (U128 a : e->v6) touched6.insert(a), ++change6[a];
    }
  }
  for (auto [claims, change] :
       {std::pair{&index.claims_v4, &change4}, std::pair{&index.claims_v6, &change6}}) {
    for (auto [a, n] : *change) {
      auto it = claims->find(a);
      if ((it == claims->end() ? 0 : int(it->second)) + n > 1)
        return decline("endpoints would share an address");
    }
  }
  std::unordered_map<U128, const EndpointEntry*, U128Hash> owner4, owner6;
  for (const auto& key : order) {
    if (const auto& e = after[key]) {
      for (U128 a : e->v4) owner4[a] = &*e;
      for (U128 a : e->v6) owner6[a] = &*e;
    }
  }
  // Every dispatch map of both directions and families: the entry maps and
  // the cluster tiers' stage maps.
  struct MapSpec {
    std::string name;
    ir::Direction direction;
    size_t stage;  // index in stageEntries()
    const std::set<U128>* touched;
    const std::unordered_map<U128, const EndpointEntry*, U128Hash>* owners;
  };
  std::vector<MapSpec> maps;
  for (ir::Direction dir : {ir::INGRESS, ir::EGRESS}) {
    const auto stages = stageEntries(dir, {});
    for (size_t k = 0; k < stages.size(); ++k) {
      maps.push_back({stages[k].map + "_v4", dir, k, &touched4, &owner4});
      maps.push_back({stages[k].map + "_v6", dir, k, &touched6, &owner6});
    }
  }
  for (const MapSpec& m : maps) {
    if (m.touched->empty()) continue;
    auto sit = model.sets.find(m.name);
    if (sit == model.sets.end() || !sit->second.is_map)
      return decline("map " + m.name + " not in table");
    const SetModel& map = sit->second;
    ElementDelta e{map.name, map.key, true, map.origin, {}, {}, {}, {}};
    for (U128 a : *m.touched) {
      std::optional<Jump> want;
      if (auto o = m.owners->find(a); o != m.owners->end()) {
        const EndpointEntry& owner = *o->second;
        const StageEntry stage = stageEntries(
            m.direction, m.direction == ir::INGRESS ? owner.ingress : owner.egress)[m.stage];
        if (stage.program != 0) {
          auto c = names->chain.find(stage.program);
          if (c == names->chain.end())
            return decline(owner.origin + ": unknown program " + std::to_string(stage.program));
          want = Jump{c->second, owner.origin, stage.go};
        }
      }
      auto have = map.jumps.find(a);
      const bool same = have != map.jumps.end() && want && have->second == *want;
      if (same) continue;
      if (have != map.jumps.end()) e.remove_jumps.emplace_back(a, have->second);
      if (want) e.add_jumps.emplace_back(a, std::move(*want));
    }
    if (e.size()) d.elements.push_back(std::move(e));
  }
  // ---- the packet queue's pod sets (queue_rules.h), when the table has them ----
  // pods_*: every local pod address; known_*: the same plus the node's addresses.
  const auto [node4, node6] = nodeAddressRanges(next.node());
  auto is_node = [](const std::vector<Range>& node, U128 a) {
    return std::any_of(node.begin(), node.end(),
                       [&](const Range& r) { return r.first <= a && a <= r.last; });
  };
  struct QueueSet {
    const char* name;
    const std::set<U128>* touched;
    const Claims* before;
    const std::unordered_map<U128, const EndpointEntry*, U128Hash>* after;
    const std::vector<Range>* node;  // also members, whatever the pods do (known_* only)
  };
  for (const QueueSet& q : {QueueSet{"pods_v4", &touched4, &index.claims_v4, &owner4, nullptr},
                            QueueSet{"pods_v6", &touched6, &index.claims_v6, &owner6, nullptr},
                            QueueSet{"known_v4", &touched4, &index.claims_v4, &owner4, &node4},
                            QueueSet{"known_v6", &touched6, &index.claims_v6, &owner6, &node6}}) {
    auto sit = model.sets.find(q.name);
    if (q.touched->empty() || sit == model.sets.end()) continue;
    const SetModel& set = sit->second;
    std::vector<RangeOp> set_ops;
    for (U128 a : *q.touched) {
      if (q.node && is_node(*q.node, a)) continue;
      const bool was = q.before->count(a) > 0, is = q.after->count(a) > 0;
      if (was != is) set_ops.push_back({is, Range{a, a}});
    }
    if (set_ops.empty()) continue;
    ElementDelta e{set.name, set.key, false, set.origin, {}, {}, {}, {}};
    if (!rangeChange(set.ranges, set_ops, set.key, e))
      return decline(std::string("set ") + q.name + " does not hold the pods the index holds");
    if (e.size()) d.elements.push_back(std::move(e));
  }

  for (auto& key : order) out.endpoints.emplace_back(key, std::move(after[key]));
  return out;
}

void commit(DeltaIndex& index, RenderedDelta&& rendered) {
  if (rendered.names) index.names = std::move(*rendered.names);
  for (auto& [key, entry] : rendered.endpoints) {
    if (auto it = index.endpoints.find(key); it != index.endpoints.end()) {
      for (U128 a : it->second.v4) claim(index.claims_v4, a, -1, index.shared_addresses);
      for (U128 a : it->second.v6) claim(index.claims_v6, a, -1, index.shared_addresses);
      index.endpoints.erase(it);
    }
    if (!entry) continue;
    for (U128 a : entry->v4) claim(index.claims_v4, a, 1, index.shared_addresses);
    for (U128 a : entry->v6) claim(index.claims_v6, a, 1, index.shared_addresses);
    index.endpoints.emplace(key, std::move(*entry));
  }
}

}  // namespace palisade::datapath::nft
