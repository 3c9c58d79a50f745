#pragma once
// Service virtual addresses as the packet queue needs them: a new connection
// whose destination is still a Service address when it reaches our base
// chain (postrouting, after kube-proxy's DNAT) was not translated — no
// kube-proxy rule yet, or a proxy that translates later — so it is judged
// against the backends the Service resolves to (policy/service/resolve.h).
//
//   ClusterIP / external IP / load-balancer IP : port   ┐
//   this node's address : nodePort (NodePort, LB)       ┘─▶ backends (address, port, ready)
//
// Built on the reconcile thread from the ClusterState of a programmed
// revision; immutable afterwards, shared with the queue threads.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "datapath/nft/queue_rules.h"
#include "policy/net/ip.h"
#include "policy/service/resolve.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent::queue {

struct ServiceTarget {
  std::string service;  // "ns/name"
  std::vector<policy::ServiceBackend> backends;
  bool node_port = false;  // reached on a node address rather than a virtual one
};

class ServiceTable {
 public:
  /// `node`: this node's name (its addresses carry the NodePorts).
  static ServiceTable build(const policy::ClusterState& state, const std::string& node);
  /// The Service behind address:port/protocol, or null.
  const ServiceTarget* find(const policy::IpAddress& address, policy::Protocol protocol,
                            int32_t port) const;
  size_t size() const { return by_vip_.size(); }
  /// What the kernel's queue rules match to send untranslated Service
  /// traffic here (datapath/nft/queue_rules.h).
  datapath::nft::ServiceMatch kernelMatch() const;

 private:
  using Key = std::tuple<policy::IpAddress, uint8_t, int32_t>;
  std::map<Key, ServiceTarget> by_vip_;
};

}  // namespace palisade::agent::queue
