#include "datapath/nft/render.h"

#include <linux/netfilter.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <unordered_map>

namespace palisade::datapath::nft {
namespace {

// Bumped whenever the base chain layout changes, so adopt notices an old layout.
constexpr const char* kLayoutVersion = "palisade-layout-1";
constexpr size_t kCommentMax = 127;  // nft refuses longer comments

std::string hex12(uint64_t h) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx",
                static_cast<unsigned long long>(h & 0xffffffffffffull));
  return buf;
}

std::string clip(std::string s) {
  if (s.size() > kCommentMax) s.resize(kCommentMax);
  for (char& c : s)
    if (c == '"' || c == '\\' || c == '\n') c = '_';  // keep nft syntax trivially safe
  return s;
}

U128 keyMax(KeyType k) {
  switch (k) {
    case KeyType::Ipv4: return 0xffffffffu;
    case KeyType::Ipv6: return ~U128(0);
    case KeyType::ProtoService: return (U128(0xff) << 16) | 0xffff;
  }
  return 0;
}

/// Sorts and merges overlapping/adjacent intervals; never merges across protocols.
std::vector<Range> normalize(std::vector<Range> v, KeyType key) {
  std::sort(v.begin(), v.end());
  std::vector<Range> out;
  for (const Range& r : v) {
    if (!out.empty()) {
      Range& b = out.back();
      bool same_proto = key != KeyType::ProtoService || (b.first >> 16) == (r.first >> 16);
      if (same_proto && (r.first <= b.last || (b.last != keyMax(key) && r.first == b.last + 1))) {
        b.last = std::max(b.last, r.last);
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

const char* dirName(ir::Direction d) { return d == ir::EGRESS ? "egress" : "ingress"; }

std::string provenanceText(const ir::Provenance& p) {
  return p.policy_namespace() + "/" + p.policy_name() + " " + dirName(p.direction()) + " rule " +
         std::to_string(p.rule_index());
}

std::string ruleKey(const RuleModel& r) {
  return std::to_string(int(r.kind)) + "," + std::to_string(int(r.family)) + "," +
         std::to_string(int(r.addr)) + "," + r.set + "," + r.ports + "," + r.comment + ";";
}

void addDeny(std::vector<RuleModel>& rules, DenyAction deny, const std::string& origin) {
  if (deny == DenyAction::Drop) {
    rules.push_back({RuleModel::Kind::DenyDrop, Family::Any, Addr::Saddr, "", "", "", origin});
  } else {
    rules.push_back({RuleModel::Kind::DenyRejectTcp, Family::Any, Addr::Saddr, "", "", "", origin});
    rules.push_back(
        {RuleModel::Kind::DenyRejectOther, Family::Any, Addr::Saddr, "", "", "", origin});
  }
}

std::vector<RuleModel> baseRules() {
  using K = RuleModel::Kind;
  std::vector<RuleModel> r;
  r.push_back({K::CtEstablishedAccept, Family::Any, Addr::Saddr, "", "", "", "base chain"});
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

Result<TableModel> render(const ir::Ruleset& rs, const RenderOptions& options) {
  TableModel t;
  t.flags = options.table_flags;
  std::unordered_map<uint32_t, const ir::PeerSet*> peers;
  std::unordered_map<uint32_t, const ir::PortSet*> ports;
  std::unordered_map<uint32_t, const ir::Program*> programs;
  for (const auto& p : rs.peer_sets()) peers[p.id()] = &p;
  for (const auto& p : rs.port_sets()) ports[p.id()] = &p;
  for (const auto& p : rs.programs()) programs[p.id()] = &p;

  // Port sets: named by content.
  std::unordered_map<uint32_t, std::string> port_name;
  for (const auto& [id, ps] : ports) {
    std::vector<Range> ranges;
    for (const auto& r : ps->ranges()) {
      uint32_t proto = static_cast<uint32_t>(r.protocol());
      if (proto == 0 || proto > 255 || r.first() > r.last() || r.last() > 65535)
        return Error(EINVAL, "port set " + std::to_string(id) + ": invalid range");
      ranges.push_back({(U128(proto) << 16) | r.first(), (U128(proto) << 16) | r.last()});
    }
    ranges = normalize(std::move(ranges), KeyType::ProtoService);
    std::string canon;
    for (const Range& r : ranges)
      canon += std::to_string(uint64_t(r.first)) + "-" + std::to_string(uint64_t(r.last)) + ",";
    std::string name = "ports_" + hex12(fnv1a(canon));
    port_name[id] = name;
    auto& s = t.sets[name];
    s.name = name;
    s.key = KeyType::ProtoService;
    s.ranges = std::move(ranges);
    s.origin = "port set " + std::to_string(id);
  }

  // Peer sets: named by the rules that use them (stable under pod churn).
  std::unordered_map<uint32_t, std::set<std::string>> signature;
  std::unordered_map<uint32_t, std::string> first_use;
  for (const auto& prog : rs.programs()) {
    for (int i = 0; i < prog.rules_size(); ++i) {
      const auto& rule = prog.rules(i);
      if (rule.port_set() != 0 && !port_name.count(rule.port_set()))
        return Error(EINVAL, "program " + std::to_string(prog.id()) + " rule " +
                                 std::to_string(i) + ": unknown port set " +
                                 std::to_string(rule.port_set()));
      if (rule.peer_set() == 0) continue;
      if (!peers.count(rule.peer_set()))
        return Error(EINVAL, "program " + std::to_string(prog.id()) + " rule " +
                                 std::to_string(i) + ": unknown peer set " +
                                 std::to_string(rule.peer_set()));
      const auto& p = rule.provenance();
      signature[rule.peer_set()].insert(
          std::string(dirName(prog.direction())) + "|" + p.policy_namespace() + "/" +
          p.policy_name() + "|" + std::to_string(p.rule_index()) + "|" +
          (rule.port_set() ? port_name[rule.port_set()] : "*"));
      first_use.try_emplace(rule.peer_set(), "program " + std::to_string(prog.id()) + " rule " +
                                                 std::to_string(i) + ", policy " +
                                                 p.policy_namespace() + "/" + p.policy_name());
    }
  }
  std::map<std::string, std::vector<uint32_t>> by_base;  // base name → peer set ids
  for (const auto& [id, sig] : signature) {
    std::string canon;
    for (const auto& s : sig) canon += s + ";";
    by_base["peers_" + hex12(fnv1a(canon))].push_back(id);
  }
  std::unordered_map<uint32_t, std::string> peer_name;
  for (auto& [base, ids] : by_base) {
    // Identical signatures are rare (the compiler shares identical peer lists);
    // order them by id so the suffix is deterministic for one compile.
    std::sort(ids.begin(), ids.end());
    for (size_t k = 0; k < ids.size(); ++k) {
      std::string name = k == 0 ? base : base + "_" + std::to_string(k);
      peer_name[ids[k]] = name;
      const ir::PeerSet& ps = *peers[ids[k]];
      SetModel v4{name + "_v4", KeyType::Ipv4, false, {}, {}, first_use[ids[k]]};
      SetModel v6{name + "_v6", KeyType::Ipv6, false, {}, {}, first_use[ids[k]]};
      for (const auto& c : ps.v4()) v4.ranges.push_back(v4Prefix(c.address(), c.prefix_len()));
      for (const auto& c : ps.v6())
        v6.ranges.push_back(v6Prefix(v6Value(c.high(), c.low()), c.prefix_len()));
      v4.ranges = normalize(std::move(v4.ranges), KeyType::Ipv4);
      v6.ranges = normalize(std::move(v6.ranges), KeyType::Ipv6);
      t.sets[v4.name] = std::move(v4);
      t.sets[v6.name] = std::move(v6);
    }
  }

  // Program chains: named by content.
  std::unordered_map<uint32_t, std::string> chain_name;
  for (const auto& prog : rs.programs()) {
    if (prog.direction() != ir::INGRESS && prog.direction() != ir::EGRESS)
      return Error(EINVAL, "program " + std::to_string(prog.id()) + ": no direction");
    bool ingress = prog.direction() == ir::INGRESS;
    Addr peer_addr = ingress ? Addr::Saddr : Addr::Daddr;
    std::string prog_origin = "program " + std::to_string(prog.id());
    ChainModel c;
    for (int i = 0; i < prog.rules_size(); ++i) {
      const auto& rule = prog.rules(i);
      std::string origin = prog_origin + " rule " + std::to_string(i) + ", policy " +
                           rule.provenance().policy_namespace() + "/" +
                           rule.provenance().policy_name();
      std::string comment = clip(provenanceText(rule.provenance()));
      std::string pset = rule.port_set() ? port_name[rule.port_set()] : "";
      if (rule.peer_set() == 0) {
        c.rules.push_back(
            {RuleModel::Kind::AllowReturn, Family::Any, peer_addr, "", pset, comment, origin});
      } else {
        const std::string& base = peer_name[rule.peer_set()];
        c.rules.push_back({RuleModel::Kind::AllowReturn, Family::Ip, peer_addr, base + "_v4",
                           pset, comment, origin});
        c.rules.push_back({RuleModel::Kind::AllowReturn, Family::Ip6, peer_addr, base + "_v6",
                           pset, comment, origin});
      }
    }
    addDeny(c.rules, options.deny, prog_origin + " deny");
    std::string isolated;
    for (const auto& ref : prog.isolated_by())
      isolated += (isolated.empty() ? "" : ", ") + ref.namespace_() + "/" + ref.name();
    c.comment = clip(std::string(dirName(prog.direction())) + " isolated by " +
                     (isolated.empty() ? "-" : isolated));
    std::string canon = c.comment + "|";
    for (const auto& r : c.rules) canon += ruleKey(r);
    c.name = std::string(ingress ? "ingress_" : "egress_") + hex12(fnv1a(canon));
    c.origin = prog_origin;
    chain_name[prog.id()] = c.name;
    t.chains.try_emplace(c.name, std::move(c));
  }

  // Dispatch maps and node sets always exist, so pod churn only touches elements.
  auto addSet = [&](const std::string& name, KeyType key, bool is_map) -> SetModel& {
    SetModel& s = t.sets[name];
    s.name = name;
    s.key = key;
    s.is_map = is_map;
    s.origin = is_map ? "dispatch" : "node addresses";
    return s;
  };
  SetModel& in4 = addSet("ingress_dispatch_v4", KeyType::Ipv4, true);
  SetModel& in6 = addSet("ingress_dispatch_v6", KeyType::Ipv6, true);
  SetModel& eg4 = addSet("egress_dispatch_v4", KeyType::Ipv4, true);
  SetModel& eg6 = addSet("egress_dispatch_v6", KeyType::Ipv6, true);
  for (const auto& ep : rs.endpoints()) {
    std::string origin = "pod " + ep.namespace_() + "/" + ep.name();
    for (auto [prog_id, want, m4, m6] :
         {std::tuple{ep.ingress_program(), ir::INGRESS, &in4, &in6},
          std::tuple{ep.egress_program(), ir::EGRESS, &eg4, &eg6}}) {
      if (prog_id == 0) continue;
      auto it = programs.find(prog_id);
      if (it == programs.end() || it->second->direction() != want)
        return Error(EINVAL, origin + ": bad " + dirName(want) + " program " +
                                 std::to_string(prog_id));
      Jump j{chain_name[prog_id], origin};
      for (uint32_t a : ep.ipv4()) m4->jumps.try_emplace(a, j);
      for (const auto& a : ep.ipv6()) m6->jumps.try_emplace(v6Value(a.high(), a.low()), j);
    }
  }
  SetModel& n4 = addSet("node_v4", KeyType::Ipv4, false);
  SetModel& n6 = addSet("node_v6", KeyType::Ipv6, false);
  for (uint32_t a : rs.node().addresses_v4()) n4.ranges.push_back({a, a});
  for (const auto& a : rs.node().addresses_v6())
    n6.ranges.push_back(v6Prefix(v6Value(a.high(), a.low()), a.prefix_len()));
  n4.ranges = normalize(std::move(n4.ranges), KeyType::Ipv4);
  n6.ranges = normalize(std::move(n6.ranges), KeyType::Ipv6);

  // Base chains.
  std::vector<RuleModel> base = baseRules();
  std::string canon = kLayoutVersion;
  for (const auto& r : base) canon += ruleKey(r);
  std::string comment = "palisade layout " + hex12(fnv1a(canon));
  std::vector<std::pair<std::string, Hook>> hooks;
  if (options.deny == DenyAction::Drop) {
    hooks.push_back({"postrouting", Hook{NF_INET_POST_ROUTING, 95}});  // srcnat - 5
  } else {
    hooks.push_back({"forward", Hook{NF_INET_FORWARD, 0}});
    hooks.push_back({"output", Hook{NF_INET_LOCAL_OUT, 0}});
  }
  hooks.push_back({"input", Hook{NF_INET_LOCAL_IN, 101}});  // srcnat + 1: after IPVS
  for (auto& [name, hook] : hooks) {
    ChainModel c;
    c.name = name;
    c.hook = hook;
    c.comment = comment;
    c.rules = base;
    c.origin = "base chain " + name;
    t.chains[name] = std::move(c);
  }
  return t;
}

}  // namespace palisade::datapath::nft
