#include "agent/queue/service_table.h"

namespace palisade::agent::queue {

ServiceTable ServiceTable::build(const policy::ClusterState& state, const std::string& node) {
  ServiceTable t;
  std::vector<policy::IpAddress> node_addresses;
  if (const auto* n = state.findNode(node)) node_addresses = n->addresses;
  for (const auto& entry : state.services()) {
    // Not a structured binding: the lambda below captures it (clang-tidy's clang 14 refuses).
    const auto& key = entry.first;
    const auto& svc = entry.second;
    if (svc.type == policy::ServiceType::ExternalName) continue;
    for (const auto& sp : svc.ports) {
      auto add = [&](const policy::IpAddress& a, int32_t port, bool node_port) {
        auto r = policy::resolveService(state, key.first, key.second, port, sp.protocol);
        if (!r.error.empty()) return;
        t.by_vip_[{a, static_cast<uint8_t>(sp.protocol), port}] =
            ServiceTarget{key.first + "/" + key.second, std::move(r.backends), node_port};
      };
      for (const auto* list : {&svc.cluster_ips, &svc.external_ips, &svc.load_balancer_ips})
        for (const auto& a : *list) add(a, sp.port, false);
      if (sp.node_port != 0)
        for (const auto& a : node_addresses) add(a, sp.node_port, true);
    }
  }
  return t;
}

const ServiceTarget* ServiceTable::find(const policy::IpAddress& address, policy::Protocol protocol,
                                        int32_t port) const {
  auto it = by_vip_.find({address, static_cast<uint8_t>(protocol), port});
  return it == by_vip_.end() ? nullptr : &it->second;
}

datapath::nft::ServiceMatch ServiceTable::kernelMatch() const {
  datapath::nft::ServiceMatch m;
  for (const auto& [key, target] : by_vip_) {
    const auto& [address, protocol, port] = key;
    uint32_t proto_port = uint32_t(protocol) << 16 | uint32_t(port);
    if (target.node_port) {
      m.node_ports.push_back(proto_port);
      continue;
    }
    m.ports.push_back(proto_port);
    if (address.isV4())
      m.vips_v4.push_back(address.v4Value());
    else
      m.vips_v6.push_back(datapath::nft::U128(address.high()) << 64 | address.low());
  }
  return m;
}

}  // namespace palisade::agent::queue
