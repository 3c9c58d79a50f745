#include "datapath/nft/render.h"

#include <linux/netfilter.h>

#include <algorithm>
#include <unordered_map>

#include "datapath/nft/queue_rules.h"
#include "datapath/nft/render_parts.h"

namespace palisade::datapath::nft {
namespace {

// Bumped whenever the base chain layout changes, so adopt notices an old layout.
constexpr const char* kLayoutVersion = "palisade-layout-3";  // 3: queue rules test ct state new

std::vector<RuleModel> baseRules() {
  using K = RuleModel::Kind;
  std::vector<RuleModel> r;
  r.push_back({K::CtEstablishedAccept, Family::Any, Addr::Saddr, "", "", "", "base chain"});
  // IPv6 neighbour discovery (RFC 4861: router/neighbour solicitation and
  // advertisement, redirect) is the link layer's address resolution, which
  // NetworkPolicy does not govern. Conntrack leaves it untracked, and the node
  // sends it from its link-local address (not a node address we know), so
  // without this an isolated pod could not resolve its gateway, nor the node
  // the pod. Hop limit 255 proves the sender is on-link (RFC 4861 7.1.1): a
  // forwarded packet has it decremented, so no pod reaches another pod this way.
  r.push_back(
      {K::NeighbourDiscoveryAccept, Family::Ip6, Addr::Saddr, "", "", "", "neighbour discovery"});
  r.push_back({K::AddrInSetAccept, Family::Ip, Addr::Saddr, "node_v4", "", "", "host traffic"});
  r.push_back({K::AddrInSetAccept, Family::Ip6, Addr::Saddr, "node_v6", "", "", "host traffic"});
  r.push_back({K::DispatchVmap, Family::Ip, Addr::Saddr, "egress_dispatch_v4", "", "", "egress"});
  r.push_back({K::DispatchVmap, Family::Ip6, Addr::Saddr, "egress_dispatch_v6", "", "", "egress"});
  r.push_back({K::DispatchVmap, Family::Ip, Addr::Daddr, "ingress_dispatch_v4", "", "", "ingress"});
  r.push_back(
      {K::DispatchVmap, Family::Ip6, Addr::Daddr, "ingress_dispatch_v6", "", "", "ingress"});
  return r;
}

}  // namespace

U128 v6Value(uint64_t high, uint64_t low) { return (U128(high) << 64) | low; }

Range v4Prefix(uint32_t address, uint32_t prefix_len) {
  if (prefix_len >= 32) return {address, address};
  uint32_t host = prefix_len == 0 ? 0xffffffffu : (0xffffffffu >> prefix_len);
  return {address & ~host, (address & ~host) | host};
}

Range v6Prefix(U128 address, uint32_t prefix_len) {
  if (prefix_len >= 128) return {address, address};
  U128 host = prefix_len == 0 ? ~U128(0) : (~U128(0) >> prefix_len);
  return {address & ~host, (address & ~host) | host};
}

Result<TableModel> render(const ir::Ruleset& rs, const RenderOptions& options,
                          RenderNames* names_out) {
  TableModel t;
  t.flags = options.table_flags;
  RenderNames names;
  std::unordered_map<uint32_t, const ir::PeerSet*> peers;
  std::unordered_map<uint32_t, const ir::Program*> programs;
  for (const auto& p : rs.peer_sets()) peers[p.id()] = &p;
  for (const auto& p : rs.programs())
    if (!p.retired()) programs[p.id()] = &p;  // an endpoint on a retired one is an error

  // Port sets: named by content.
  for (const auto& ps : rs.port_sets()) {
    auto s = renderPortSet(ps);
    if (!s) return s.error();
    names.port_set[ps.id()] = s->name;
    t.sets[s->name] = std::move(*s);
  }

  // Peer sets: named by what they are (stable under pod and policy churn).
  std::unordered_map<uint32_t, std::string> first_use;
  for (const auto& prog : rs.programs()) {
    if (prog.retired()) continue;
    for (int i = 0; i < prog.rules_size(); ++i) {
      const auto& rule = prog.rules(i);
      if (rule.port_set() != 0 && !names.port_set.count(rule.port_set()))
        return Error(EINVAL, "program " + std::to_string(prog.id()) + " rule " + std::to_string(i) +
                                 ": unknown port set " + std::to_string(rule.port_set()));
      if (rule.peer_set() == 0) continue;
      if (!peers.count(rule.peer_set()))
        return Error(EINVAL, "program " + std::to_string(prog.id()) + " rule " + std::to_string(i) +
                                 ": unknown peer set " + std::to_string(rule.peer_set()));
      if (first_use.try_emplace(rule.peer_set(), ruleOrigin(prog, i)).second)
        names.peer_hash[peerHashName(*peers[rule.peer_set()])].push_back(rule.peer_set());
    }
  }
  for (auto& [hash_name, ids] : names.peer_hash) {
    // Equal hashes are rare (the compiler shares sets with equal keys);
    // order them by id so the suffix is deterministic for one compile.
    std::sort(ids.begin(), ids.end());
    for (size_t k = 0; k < ids.size(); ++k) {
      std::string name = peerSetName(hash_name, k);
      names.peer_set[ids[k]] = name;
      auto [v4, v6] = renderPeerSet(*peers[ids[k]], name, first_use[ids[k]]);
      t.sets[v4.name] = std::move(v4);
      t.sets[v6.name] = std::move(v6);
    }
  }

  // Program chains: named by content (retired programs have none).
  for (const auto& prog : rs.programs()) {
    if (prog.retired()) continue;
    auto c = renderProgram(prog, names, options.deny);
    if (!c) return c.error();
    names.chain[prog.id()] = c->name;
    t.chains.try_emplace(c->name, std::move(*c));
  }

  // Dispatch maps and node sets always exist, so pod churn only touches elements.
  auto add_set = [&](const std::string& name, KeyType key, bool is_map) -> SetModel& {
    SetModel& s = t.sets[name];
    s.name = name;
    s.key = key;
    s.is_map = is_map;
    s.origin = is_map ? "dispatch" : "node addresses";
    return s;
  };
  for (ir::Direction dir : {ir::INGRESS, ir::EGRESS}) {
    for (const StageEntry& stage : stageEntries(dir, {})) {
      add_set(stage.map + "_v4", KeyType::Ipv4, true);
      add_set(stage.map + "_v6", KeyType::Ipv6, true);
    }
    ChainModel stages = renderStageChain(dir);
    t.chains[stages.name] = std::move(stages);
  }
  for (const auto& ep : rs.endpoints()) {
    std::string origin = endpointOrigin(ep);
    for (ir::Direction dir : {ir::INGRESS, ir::EGRESS}) {
      for (const StageEntry& stage : stageEntries(dir, directionPrograms(ep, dir))) {
        if (stage.program == 0) continue;
        auto it = programs.find(stage.program);
        if (it == programs.end() || it->second->direction() != dir)
          return Error(EINVAL, origin + ": bad " + directionName(dir) + " program " +
                                   std::to_string(stage.program));
        Jump j{names.chain[stage.program], origin, stage.go};
        SetModel& m4 = t.sets[stage.map + "_v4"];
        SetModel& m6 = t.sets[stage.map + "_v6"];
        for (uint32_t a : ep.ipv4()) m4.jumps.try_emplace(a, j);
        for (const auto& a : ep.ipv6()) m6.jumps.try_emplace(v6Value(a.high(), a.low()), j);
      }
    }
  }
  SetModel& n4 = add_set("node_v4", KeyType::Ipv4, false);
  SetModel& n6 = add_set("node_v6", KeyType::Ipv6, false);
  std::tie(n4.ranges, n6.ranges) = nodeAddressRanges(rs.node());

  // Base chains.
  std::vector<RuleModel> base = baseRules();
  addQueueRules(rs, options.queue, t, base);  // off unless the agent asks for the queue
  std::string canon = kLayoutVersion;
  for (const auto& r : base) canon += ruleKey(r);
  std::string comment = "palisade layout " + hex12(fnv1a(canon));
  std::vector<std::pair<std::string, Hook>> hooks;
  if (options.deny == DenyAction::Drop) {
    hooks.emplace_back("postrouting", Hook{NF_INET_POST_ROUTING, 95});  // srcnat - 5
  } else {
    hooks.emplace_back("forward", Hook{NF_INET_FORWARD, 0});
    hooks.emplace_back("output", Hook{NF_INET_LOCAL_OUT, 0});
  }
  hooks.emplace_back("input", Hook{NF_INET_LOCAL_IN, 101});  // srcnat + 1: after IPVS
  for (auto& [name, hook] : hooks) {
    ChainModel c;
    c.name = name;
    c.hook = hook;
    c.comment = comment;
    c.rules = base;
    c.origin = "base chain " + name;
    t.chains[name] = std::move(c);
  }
  if (names_out) *names_out = std::move(names);
  return t;
}

}  // namespace palisade::datapath::nft
