#pragma once
// Hand-built ir::Rulesets for datapath tests (no policy compiler needed).
#include <arpa/inet.h>

#include <string>
#include <vector>

#include "proto/ir.h"

namespace palisade::datapath::testing {

inline uint32_t ip4(const std::string& s) {
  in_addr a{};
  inet_pton(AF_INET, s.c_str(), &a);
  return ntohl(a.s_addr);
}

inline ir::Ipv6Cidr ip6(const std::string& s, uint32_t len = 128) {
  unsigned char b[16] = {};
  inet_pton(AF_INET6, s.c_str(), b);
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | b[i];
  ir::Ipv6Cidr c;
  c.set_high(hi);
  c.set_low(lo);
  c.set_prefix_len(len);
  return c;
}

struct RuleSpec {
  uint32_t peer_set = 0;
  uint32_t port_set = 0;
  std::string policy = "default/p";  // "ns/name"
  uint32_t rule_index = 0;
};

class RulesetBuilder {
 public:
  ir::Ruleset rs;

  /// CIDRs like "10.0.0.0/8" or "10.0.0.1" (host); v6 with ':'.
  uint32_t peerSet(const std::vector<std::string>& cidrs, const std::string& desc = "") {
    auto* p = rs.add_peer_sets();
    p->set_id(rs.peer_sets_size());
    p->set_description(desc);
    for (const auto& c : cidrs) {
      auto slash = c.find('/');
      std::string addr = c.substr(0, slash);
      bool v6 = addr.find(':') != std::string::npos;
      uint32_t len = slash == std::string::npos ? (v6 ? 128 : 32) : std::stoul(c.substr(slash + 1));
      if (v6) {
        *p->add_v6() = ip6(addr, len);
      } else {
        auto* x = p->add_v4();
        x->set_address(ip4(addr));
        x->set_prefix_len(len);
      }
    }
    return p->id();
  }

  uint32_t portSet(const std::vector<std::tuple<ir::Protocol, uint32_t, uint32_t>>& ranges) {
    auto* p = rs.add_port_sets();
    p->set_id(rs.port_sets_size());
    for (auto [proto, first, last] : ranges) {
      auto* r = p->add_ranges();
      r->set_protocol(proto);
      r->set_first(first);
      r->set_last(last);
    }
    return p->id();
  }

  uint32_t program(ir::Direction dir, const std::vector<RuleSpec>& rules,
                   const std::vector<std::string>& isolated_by = {"default/p"}) {
    auto* p = rs.add_programs();
    p->set_id(rs.programs_size());
    p->set_direction(dir);
    for (const auto& r : rules) {
      auto* x = p->add_rules();
      x->set_peer_set(r.peer_set);
      x->set_port_set(r.port_set);
      auto slash = r.policy.find('/');
      x->mutable_provenance()->set_policy_namespace(r.policy.substr(0, slash));
      x->mutable_provenance()->set_policy_name(r.policy.substr(slash + 1));
      x->mutable_provenance()->set_rule_index(r.rule_index);
      x->mutable_provenance()->set_direction(dir);
    }
    for (const auto& i : isolated_by) {
      auto slash = i.find('/');
      auto* ref = p->add_isolated_by();
      ref->set_namespace_(i.substr(0, slash));
      ref->set_name(i.substr(slash + 1));
    }
    return p->id();
  }

  ir::Endpoint& endpoint(const std::string& ns, const std::string& name, const std::string& ip,
                         uint32_t ingress, uint32_t egress) {
    auto* e = rs.add_endpoints();
    e->set_namespace_(ns);
    e->set_name(name);
    if (ip.find(':') != std::string::npos)
      *e->add_ipv6() = ip6(ip);
    else
      e->add_ipv4(ip4(ip));
    e->set_ingress_program(ingress);
    e->set_egress_program(egress);
    e->set_state(ir::Endpoint::READY);
    return *e;
  }

  void nodeAddress(const std::string& ip) {
    if (ip.find(':') != std::string::npos)
      *rs.mutable_node()->add_addresses_v6() = ip6(ip);
    else
      rs.mutable_node()->add_addresses_v4(ip4(ip));
  }
};

/// A small but complete ruleset: two ingress programs, one egress program,
/// peer sets with v4 and v6, port sets with ranges.
inline ir::Ruleset sampleRuleset() {
  RulesetBuilder b;
  uint32_t web = b.peerSet({"10.0.1.0/24", "fd00::1"}, "pods {app=web}");
  uint32_t blk = b.peerSet({"192.168.0.0/16", "172.16.0.5"}, "ipBlock");
  uint32_t http = b.portSet({{ir::TCP, 80, 80}, {ir::TCP, 8000, 8080}});
  uint32_t dns = b.portSet({{ir::UDP, 53, 53}, {ir::TCP, 53, 53}});
  uint32_t db_in =
      b.program(ir::INGRESS, {{web, http, "shop/allow-db", 0}, {blk, 0, "shop/allow-db", 1}},
                {"shop/allow-db"});
  uint32_t deny_in = b.program(ir::INGRESS, {}, {"shop/deny-all"});
  uint32_t eg = b.program(ir::EGRESS, {{0, dns, "shop/egress", 0}, {web, 0, "shop/egress", 1}},
                          {"shop/egress"});
  b.endpoint("shop", "db-0", "10.0.1.10", db_in, eg);
  b.endpoint("shop", "db-1", "10.0.1.11", db_in, 0);
  b.endpoint("shop", "cache", "10.0.1.12", deny_in, eg);
  b.endpoint("shop", "v6pod", "fd00::10", db_in, 0);
  b.nodeAddress("10.0.1.1");
  b.nodeAddress("fd00::1:1");
  return b.rs;
}

}  // namespace palisade::datapath::testing
