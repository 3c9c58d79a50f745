#pragma once
// Resolves a Service and a port the way traffic to it flows, so explain can
// judge the flow the enforcement point actually sees (post-DNAT: backend pod
// address and container port):
//
//   svc/NS/NAME:port ─▶ ServicePort (port, protocol)
//       ClusterIP/NodePort/LoadBalancer ─▶ EndpointSlices ─▶ backends (addr, slice port)
//                                      └─ no slices, selector ─▶ pods ─▶ targetPort per pod
//       headless ─▶ its pods directly on the targetPort
//       ExternalName ─▶ a DNS name (no addresses: nothing to judge)
//       selector-less + manual EndpointSlices ─▶ those addresses (maybe not pods)
//
// Pure: reads the ClusterState only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/model/objects.h"
#include "policy/net/ip.h"
#include "policy/state/cluster_state.h"

namespace palisade::policy {

/// One place the traffic can end up.
struct ServiceBackend {
  std::optional<PodId> pod;          // the backend pod, when it is one we know
  std::optional<IpAddress> address;  // the backend address (absent: pod without IP, or a name)
  std::string hostname;              // ExternalName target or an FQDN endpoint
  int32_t port = 0;                  // resolved destination port; 0 = unresolved
  Protocol protocol = Protocol::TCP;
  bool ready = true;
  std::string note;  // how the port was resolved, why the backend is odd
};

struct ServiceResolution {
  bool found = false;   // the Service exists
  std::string service;  // "ns/name"
  ServiceType type = ServiceType::ClusterIP;
  bool headless = false;
  std::optional<ServicePort> service_port;  // the matched port, if any
  std::vector<ServiceBackend> backends;
  std::vector<std::string> notes;  // about the service as a whole
  std::string error;               // non-empty: nothing could be resolved (unknown service, port)
};

/// Parses "svc/NS/NAME" into (NS, NAME); nullopt when `text` is not of that form.
std::optional<std::pair<std::string, std::string>> parseServiceRef(std::string_view text);

/// Resolves traffic to Service ns/name on `port` (the service port, or a
/// nodePort for NodePort/LoadBalancer services) and `protocol`.
ServiceResolution resolveService(const ClusterState& state, std::string_view ns,
                                 std::string_view name, int32_t port, Protocol protocol);

const char* serviceTypeName(ServiceType type);

}  // namespace palisade::policy
