#include "datapath/nft/queue_rules.h"

#include <algorithm>

#include "datapath/nft/render.h"
#include "datapath/nft/render_parts.h"

namespace palisade::datapath::nft {
namespace {

SetModel& addSet(TableModel& t, const std::string& name, KeyType key, const char* origin) {
  SetModel& s = t.sets[name];
  s.name = name;
  s.key = key;
  s.origin = origin;
  return s;
}

}  // namespace

void addQueueRules(const ir::Ruleset& rs, const QueueRules& q, TableModel& t,
                   std::vector<RuleModel>& base) {
  if (!q.enabled()) return;
  SetModel& pods4 = addSet(t, "pods_v4", KeyType::Ipv4, "local pod addresses");
  SetModel& pods6 = addSet(t, "pods_v6", KeyType::Ipv6, "local pod addresses");
  for (const auto& ep : rs.endpoints()) {
    for (uint32_t a : ep.ipv4()) pods4.ranges.push_back({a, a});
    for (const auto& a : ep.ipv6()) {
      U128 v = v6Value(a.high(), a.low());
      pods6.ranges.push_back({v, v});
    }
  }
  using K = RuleModel::Kind;
  std::vector<RuleModel> rules;
  auto rule = [&](K kind, Family f, Addr a, std::string set, std::string unless,
                  std::string comment) {
    RuleModel r{kind, f, a, std::move(set), "", std::move(comment), "queue rules"};
    r.unless = std::move(unless);
    r.queue = q.target;
    rules.push_back(std::move(r));
  };
  if (q.pending_pods) {
    SetModel& c4 = addSet(t, "pod_cidrs_v4", KeyType::Ipv4, "node pod CIDRs");
    SetModel& c6 = addSet(t, "pod_cidrs_v6", KeyType::Ipv6, "node pod CIDRs");
    for (const auto& c : rs.node().pod_cidrs_v4()) c4.ranges.push_back(cidrRange(c));
    for (const auto& c : rs.node().pod_cidrs_v6()) c6.ranges.push_back(cidrRange(c));
    SetModel& k4 = addSet(t, "known_v4", KeyType::Ipv4, "known pod and node addresses");
    SetModel& k6 = addSet(t, "known_v6", KeyType::Ipv6, "known pod and node addresses");
    auto [node4, node6] = nodeAddressRanges(rs.node());
    k4.ranges = pods4.ranges;
    k6.ranges = pods6.ranges;
    k4.ranges.insert(k4.ranges.end(), node4.begin(), node4.end());
    k6.ranges.insert(k6.ranges.end(), node6.begin(), node6.end());
    for (SetModel* s : {&c4, &c6, &k4, &k6}) s->ranges = normalize(std::move(s->ranges), s->key);
    for (Addr a : {Addr::Saddr, Addr::Daddr}) {
      rule(K::QueueUnknown, Family::Ip, a, "pod_cidrs_v4", "known_v4", "pending pod");
      rule(K::QueueUnknown, Family::Ip6, a, "pod_cidrs_v6", "known_v6", "pending pod");
    }
  }
  if (q.untranslated_services) {
    SetModel& v4 = addSet(t, "service_vips_v4", KeyType::Ipv4, "Service virtual addresses");
    SetModel& v6 = addSet(t, "service_vips_v6", KeyType::Ipv6, "Service virtual addresses");
    SetModel& ports = addSet(t, "service_ports", KeyType::ProtoService, "Service ports");
    SetModel& nodeports = addSet(t, "node_ports", KeyType::ProtoService, "Service NodePorts");
    for (uint32_t a : q.services.vips_v4) v4.ranges.push_back({a, a});
    for (U128 a : q.services.vips_v6) v6.ranges.push_back({a, a});
    for (uint32_t p : q.services.ports) ports.ranges.push_back({p, p});
    for (uint32_t p : q.services.node_ports) nodeports.ranges.push_back({p, p});
    for (SetModel* s : {&v4, &v6, &ports, &nodeports})
      s->ranges = normalize(std::move(s->ranges), s->key);
    auto service = [&](Family f, std::string addresses, std::string port_set) {
      rule(K::QueueServicePort, f, Addr::Daddr, std::move(addresses), "", "untranslated service");
      rules.back().ports = std::move(port_set);
    };
    service(Family::Ip, "service_vips_v4", "service_ports");
    service(Family::Ip6, "service_vips_v6", "service_ports");
    service(Family::Ip, "node_v4", "node_ports");
    service(Family::Ip6, "node_v6", "node_ports");
  }
  pods4.ranges = normalize(std::move(pods4.ranges), KeyType::Ipv4);
  pods6.ranges = normalize(std::move(pods6.ranges), KeyType::Ipv6);
  if (q.all_local_pods) {
    for (Addr a : {Addr::Saddr, Addr::Daddr}) {
      rule(K::QueueAddrInSet, Family::Ip, a, "pods_v4", "", "user-space mode");
      rule(K::QueueAddrInSet, Family::Ip6, a, "pods_v6", "", "user-space mode");
    }
  }
  auto at = std::find_if(base.begin(), base.end(),
                         [](const RuleModel& r) { return r.kind == K::DispatchVmap; });
  base.insert(at, rules.begin(), rules.end());
}

}  // namespace palisade::datapath::nft
