#include "agent/queue/service_table.h"

namespace palisade::agent::queue {

ServiceTable ServiceTable::build(const policy::ClusterState& state, const std::string& node) {
  ServiceTable t;
  std::vector<policy::IpAddress> node_addresses;
  if (const auto* n = state.findNode(node)) node_addresses = n->addresses;
  for (const auto& [key, svc] : state.services()) {
    if (svc.type == policy::ServiceType::ExternalName) continue;
    for (const auto& sp : svc.ports) {
      auto add = [&](const policy::IpAddress& a, int32_t port) {
        auto r = policy::resolveService(state, key.first, key.second, port, sp.protocol);
        if (!r.error.empty()) return;
        t.by_vip_[{a, static_cast<uint8_t>(sp.protocol), port}] =
            ServiceTarget{key.first + "/" + key.second, std::move(r.backends)};
      };
      for (const auto* list : {&svc.cluster_ips, &svc.external_ips, &svc.load_balancer_ips})
        for (const auto& a : *list) add(a, sp.port);
      if (sp.node_port != 0)
        for (const auto& a : node_addresses) add(a, sp.node_port);
    }
  }
  return t;
}

const ServiceTarget* ServiceTable::find(const policy::IpAddress& address, policy::Protocol protocol,
                                        int32_t port) const {
  auto it = by_vip_.find({address, static_cast<uint8_t>(protocol), port});
  return it == by_vip_.end() ? nullptr : &it->second;
}

}  // namespace palisade::agent::queue
