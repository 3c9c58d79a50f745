#include "datapath/nft/render_parts.h"

#include <algorithm>
#include <cstdio>

#include "datapath/nft/batch.h"  // keyMaxValue

namespace palisade::datapath::nft {
namespace {

constexpr size_t kCommentMax = 127;  // nft refuses longer comments

std::string provenanceText(const ir::Provenance& p) {
  if (p.tier() != ir::TIER_NETWORK_POLICY) {
    // "Admin ClusterNetworkPolicy deny-y egress rule 0 deny-all"
    return std::string(p.tier() == ir::TIER_ADMIN ? "Admin " : "Baseline ") + p.policy_kind() +
           " " + p.policy_name() + " " + directionName(p.direction()) + " rule " +
           std::to_string(p.rule_index()) + (p.rule_name().empty() ? "" : " " + p.rule_name());
  }
  return p.policy_namespace() + "/" + p.policy_name() + " " + directionName(p.direction()) +
         " rule " + std::to_string(p.rule_index());
}

/// What a matching rule of a program does, by tier and action.
RuleModel::Kind matchKind(const ir::Program& prog, const ir::Rule& rule) {
  if (prog.tier() == ir::TIER_NETWORK_POLICY || rule.action() == ir::ACTION_ACCEPT)
    return RuleModel::Kind::AllowReturn;
  if (rule.action() == ir::ACTION_DENY) return RuleModel::Kind::MatchDrop;
  // Pass: an Admin program goes on to the NetworkPolicy stage; a Baseline
  // one to the end of the direction (allowed), which is a return.
  return prog.tier() == ir::TIER_ADMIN ? RuleModel::Kind::MatchGoto : RuleModel::Kind::AllowReturn;
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

}  // namespace

std::string hex12(uint64_t h) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%012llx", static_cast<unsigned long long>(h & 0xffffffffffffull));
  return buf;
}

std::string clip(std::string s) {
  if (s.size() > kCommentMax) s.resize(kCommentMax);
  for (char& c : s)
    if (c == '"' || c == '\\' || c == '\n') c = '_';  // keep nft syntax trivially safe
  return s;
}

std::string ruleKey(const RuleModel& r) {
  std::string key = std::to_string(int(r.kind)) + "," + std::to_string(int(r.family)) + "," +
                    std::to_string(int(r.addr)) + "," + r.set + "," + r.ports + "," + r.comment;
  // Queue rules only, so the keys (and chain names) of every other rule stay as they were.
  if (r.kind == RuleModel::Kind::MatchGoto) key += ",g" + r.target;
  if (r.kind == RuleModel::Kind::QueueUnknown || r.kind == RuleModel::Kind::QueueAddrInSet ||
      r.kind == RuleModel::Kind::QueueServicePort)
    key += "," + r.unless + ",q" + std::to_string(r.queue.first) + "+" +
           std::to_string(r.queue.count) + (r.queue.bypass ? "b" : "") +
           (r.queue.native ? "n" : "");
  return key + ";";
}

std::vector<Range> normalize(std::vector<Range> v, KeyType key) {
  std::sort(v.begin(), v.end());
  std::vector<Range> out;
  for (const Range& r : v) {
    if (!out.empty()) {
      Range& b = out.back();
      bool same_proto = key != KeyType::ProtoService || (b.first >> 16) == (r.first >> 16);
      if (same_proto &&
          (r.first <= b.last || (b.last != keyMaxValue(key) && r.first == b.last + 1))) {
        b.last = std::max(b.last, r.last);
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

const char* directionName(ir::Direction d) { return d == ir::EGRESS ? "egress" : "ingress"; }

Range cidrRange(const ir::Ipv4Cidr& c) { return v4Prefix(c.address(), c.prefix_len()); }
Range cidrRange(const ir::Ipv6Cidr& c) {
  return v6Prefix(v6Value(c.high(), c.low()), c.prefix_len());
}

Result<SetModel> renderPortSet(const ir::PortSet& ps) {
  std::vector<Range> ranges;
  for (const auto& r : ps.ranges()) {
    auto proto = static_cast<uint32_t>(r.protocol());
    if (proto == 0 || proto > 255 || r.first() > r.last() || r.last() > 65535)
      return Error(EINVAL, "port set " + std::to_string(ps.id()) + ": invalid range");
    ranges.push_back({(U128(proto) << 16) | r.first(), (U128(proto) << 16) | r.last()});
  }
  ranges = normalize(std::move(ranges), KeyType::ProtoService);
  std::string canon;
  for (const Range& r : ranges)
    canon += std::to_string(uint64_t(r.first)) + "-" + std::to_string(uint64_t(r.last)) + ",";
  SetModel s;
  s.name = "ports_" + hex12(fnv1a(canon));
  s.key = KeyType::ProtoService;
  s.ranges = std::move(ranges);
  s.origin = "port set " + std::to_string(ps.id());
  return s;
}

std::string peerHashName(const ir::PeerSet& ps) {
  const std::string& what = ps.key().empty() ? ps.description() : ps.key();
  return "peers_" + hex12(fnv1a(what.empty() ? "set " + std::to_string(ps.id()) : what));
}

std::string peerSetName(const std::string& hash_name, size_t rank) {
  return rank == 0 ? hash_name : hash_name + "_" + std::to_string(rank);
}

std::pair<SetModel, SetModel> renderPeerSet(const ir::PeerSet& ps, const std::string& name,
                                            const std::string& origin) {
  // Pod addresses only: a hash set, so a packet pays one hash lookup
  // per rule rather than a walk down a tree of 150k intervals.
  // (A prefix in a set said to hold hosts would be an IR bug: keep it exact.)
  const bool interval = !ps.hosts_only() ||
                        std::any_of(ps.v4().begin(), ps.v4().end(),
                                    [](const auto& c) { return c.prefix_len() != 32; }) ||
                        std::any_of(ps.v6().begin(), ps.v6().end(),
                                    [](const auto& c) { return c.prefix_len() != 128; });
  SetModel v4{name + "_v4", KeyType::Ipv4, false, interval, {}, {}, origin};
  SetModel v6{name + "_v6", KeyType::Ipv6, false, interval, {}, {}, origin};
  for (const auto& c : ps.v4()) v4.ranges.push_back(cidrRange(c));
  for (const auto& c : ps.v6()) v6.ranges.push_back(cidrRange(c));
  for (SetModel* s : {&v4, &v6}) {
    if (interval) {
      s->ranges = normalize(std::move(s->ranges), s->key);
    } else {  // keys as they are: adjacent addresses stay two keys
      std::sort(s->ranges.begin(), s->ranges.end());
      s->ranges.erase(std::unique(s->ranges.begin(), s->ranges.end()), s->ranges.end());
    }
  }
  return {std::move(v4), std::move(v6)};
}

std::string ruleOrigin(const ir::Program& prog, int i) {
  const auto& p = prog.rules(i).provenance();
  return "program " + std::to_string(prog.id()) + " rule " + std::to_string(i) + ", policy " +
         p.policy_namespace() + "/" + p.policy_name();
}

Result<ChainModel> renderProgram(const ir::Program& prog, const RenderNames& names,
                                 DenyAction deny) {
  if (prog.direction() != ir::INGRESS && prog.direction() != ir::EGRESS)
    return Error(EINVAL, "program " + std::to_string(prog.id()) + ": no direction");
  bool ingress = prog.direction() == ir::INGRESS;
  Addr peer_addr = ingress ? Addr::Saddr : Addr::Daddr;
  std::string prog_origin = "program " + std::to_string(prog.id());
  const std::string after_admin = stageChainName(prog.direction());
  ChainModel c;
  for (int i = 0; i < prog.rules_size(); ++i) {
    const auto& rule = prog.rules(i);
    std::string origin = ruleOrigin(prog, i);
    std::string comment = clip(provenanceText(rule.provenance()));
    const RuleModel::Kind kind = matchKind(prog, rule);
    const std::string target = kind == RuleModel::Kind::MatchGoto ? after_admin : "";
    std::string pset;
    if (rule.port_set()) {
      auto it = names.port_set.find(rule.port_set());
      if (it == names.port_set.end())
        return Error(EINVAL, origin + ": unknown port set " + std::to_string(rule.port_set()));
      pset = it->second;
    }
    if (rule.peer_set() == 0) {
      c.rules.push_back({kind, Family::Any, peer_addr, "", pset, comment, origin, "", {}, target});
      continue;
    }
    auto it = names.peer_set.find(rule.peer_set());
    if (it == names.peer_set.end())
      return Error(EINVAL, origin + ": unknown peer set " + std::to_string(rule.peer_set()));
    const std::string& base = it->second;
    c.rules.push_back(
        {kind, Family::Ip, peer_addr, base + "_v4", pset, comment, origin, "", {}, target});
    c.rules.push_back(
        {kind, Family::Ip6, peer_addr, base + "_v6", pset, comment, origin, "", {}, target});
  }
  std::string policies;
  for (const auto& ref : prog.isolated_by()) {
    policies += policies.empty() ? "" : ", ";
    policies += ref.namespace_().empty() ? ref.name() : ref.namespace_() + "/" + ref.name();
  }
  if (policies.empty()) policies = "-";
  switch (prog.tier()) {
    case ir::TIER_ADMIN:  // no match: on to the NetworkPolicy stage
      c.rules.push_back({RuleModel::Kind::MatchGoto,
                         Family::Any,
                         peer_addr,
                         "",
                         "",
                         "",
                         prog_origin + " end",
                         "",
                         {},
                         after_admin});
      c.comment = clip(std::string(directionName(prog.direction())) + " Admin tier: " + policies);
      break;
    case ir::TIER_BASELINE:  // no match: the end of the chain returns (allowed)
      c.comment =
          clip(std::string(directionName(prog.direction())) + " Baseline tier: " + policies);
      break;
    default:
      addDeny(c.rules, deny, prog_origin + " deny");
      c.comment = clip(std::string(directionName(prog.direction())) + " isolated by " + policies);
      break;
  }
  std::string canon = c.comment + "|";
  for (const auto& r : c.rules) canon += ruleKey(r);
  c.name = std::string(ingress ? "ingress_" : "egress_") + hex12(fnv1a(canon));
  c.origin = prog_origin;
  return c;
}

std::string stageChainName(ir::Direction d) {
  return "after_admin_" + std::string(directionName(d));
}

DirectionPrograms directionPrograms(const ir::Endpoint& ep, ir::Direction d) {
  if (d == ir::INGRESS)
    return {ep.admin_ingress_program(), ep.ingress_program(), ep.baseline_ingress_program()};
  return {ep.admin_egress_program(), ep.egress_program(), ep.baseline_egress_program()};
}

std::array<StageEntry, 3> stageEntries(ir::Direction d, const DirectionPrograms& p) {
  const std::string dir = directionName(d);
  const uint32_t first = p.admin ? p.admin : p.np ? p.np : p.baseline;
  return {StageEntry{dir + "_dispatch", first, false},
          StageEntry{dir + "_np", p.admin && p.np ? p.np : 0, true},
          StageEntry{dir + "_baseline", p.admin && !p.np ? p.baseline : 0, true}};
}

ChainModel renderStageChain(ir::Direction d) {
  const Addr addr = d == ir::INGRESS ? Addr::Daddr : Addr::Saddr;
  const std::string dir = directionName(d);
  ChainModel c;
  c.name = stageChainName(d);
  c.origin = "the " + dir + " stages after the Admin tier";
  for (const char* stage : {"_np", "_baseline"}) {
    for (auto [family, suffix] : {std::pair{Family::Ip, "_v4"}, std::pair{Family::Ip6, "_v6"}}) {
      c.rules.push_back(
          {RuleModel::Kind::DispatchVmap, family, addr, dir + stage + suffix, "", "", c.origin});
    }
  }
  std::string canon = "stages|";
  for (const auto& r : c.rules) canon += ruleKey(r);
  c.comment = "palisade stages " + hex12(fnv1a(canon));
  return c;
}

std::string endpointOrigin(const ir::Endpoint& ep) {
  return "pod " + ep.namespace_() + "/" + ep.name();
}

std::pair<std::vector<Range>, std::vector<Range>> nodeAddressRanges(const ir::NodeInfo& node) {
  std::vector<Range> v4, v6;
  for (uint32_t a : node.addresses_v4()) v4.push_back({a, a});
  for (const auto& a : node.addresses_v6())
    v6.push_back(v6Prefix(v6Value(a.high(), a.low()), a.prefix_len()));
  return {normalize(std::move(v4), KeyType::Ipv4), normalize(std::move(v6), KeyType::Ipv6)};
}

}  // namespace palisade::datapath::nft
