#pragma once
// A canonical text of what a ruleset decides, independent of ids and order:
// per endpoint, its addresses and its programs spelled out with the peer
// and port set contents. Two rulesets with the same canon enforce the same.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "policy/net/ip.h"
#include "proto/ir.h"

namespace palisade::policy::testing {

inline std::string cidrText(const ir::Ipv4Cidr& c) {
  return Cidr::create(IpAddress::v4(c.address()), c.prefix_len())->toString();
}
inline std::string cidrText(const ir::Ipv6Cidr& c) {
  return Cidr::create(IpAddress::v6(c.high(), c.low()), c.prefix_len())->toString();
}

inline std::string peerSetText(const ir::Ruleset& rs, uint32_t id) {
  if (id == 0) return "any";
  const ir::PeerSet& s = rs.peer_sets(static_cast<int>(id - 1));
  std::string out;
  for (const auto& c : s.v4()) out += cidrText(c) + " ";
  for (const auto& c : s.v6()) out += cidrText(c) + " ";
  return out;
}

inline std::string portSetText(const ir::Ruleset& rs, uint32_t id) {
  if (id == 0) return "any";
  std::string out;
  for (const auto& r : rs.port_sets(static_cast<int>(id - 1)).ranges()) {
    out += std::to_string(r.protocol()) + ":" + std::to_string(r.first()) + "-" +
           std::to_string(r.last()) + " ";
  }
  return out;
}

/// A program spelled out. A NetworkPolicy program is a union (rule order is
/// not meaning); a tier program is first-match, so its order is kept.
inline std::string programText(const ir::Ruleset& rs, uint32_t id) {
  if (id == 0) return "not isolated";
  const ir::Program& p = rs.programs(static_cast<int>(id - 1));
  std::vector<std::string> isolated, rules;
  for (const auto& ref : p.isolated_by()) isolated.push_back(ref.namespace_() + "/" + ref.name());
  for (const auto& r : p.rules()) {
    const std::string peers = peerSetText(rs, r.peer_set());
    if (peers.empty()) continue;  // an empty set matches nothing
    const ir::Provenance& pv = r.provenance();
    rules.push_back("[" + peers + "|" + portSetText(rs, r.port_set()) + "|" +
                    std::to_string(r.action()) + "|" + pv.policy_kind() + ":" +
                    pv.policy_namespace() + "/" + pv.policy_name() + "#" +
                    std::to_string(pv.rule_index()) + "]");
  }
  std::sort(isolated.begin(), isolated.end());
  if (p.tier() == ir::TIER_NETWORK_POLICY) {
    std::sort(rules.begin(), rules.end());
    rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
  } else {
    rules.erase(std::unique(rules.begin(), rules.end()), rules.end());  // adjacent repeats
  }
  std::string out = "isolated by";
  for (const auto& s : isolated) out += " " + s;
  out += "; rules";
  for (const auto& s : rules) out += " " + s;
  return out;
}

inline std::string canon(const ir::Ruleset& rs) {
  std::map<std::string, std::string> by_name;
  // Endpoints share programs: spell each out once.
  std::map<uint32_t, std::string> programs;
  auto programText = [&](uint32_t id) -> const std::string& {
    auto it = programs.find(id);
    if (it == programs.end()) it = programs.emplace(id, testing::programText(rs, id)).first;
    return it->second;
  };
  for (const auto& e : rs.endpoints()) {
    std::string text;
    for (uint32_t a : e.ipv4()) text += IpAddress::v4(a).toString() + " ";
    for (const auto& a : e.ipv6()) text += IpAddress::v6(a.high(), a.low()).toString() + " ";
    text += "\n  in: " + programText(e.ingress_program());
    text += "\n  out: " + programText(e.egress_program());
    text += "\n  admin in: " + programText(e.admin_ingress_program());
    text += "\n  admin out: " + programText(e.admin_egress_program());
    text += "\n  baseline in: " + programText(e.baseline_ingress_program());
    text += "\n  baseline out: " + programText(e.baseline_egress_program());
    by_name[e.namespace_() + "/" + e.name()] = text;
  }
  std::string out;
  for (const auto& [name, text] : by_name) out += name + " " + text + "\n";
  return out;
}

}  // namespace palisade::policy::testing
