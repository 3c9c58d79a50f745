#pragma once
// The Kubernetes object model palisade needs, as plain values: what the
// manifest reader and the API decoder produce, after the API server's
// defaulting. Only the fields policy needs are kept.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "policy/net/ip.h"

namespace palisade::policy {

enum class Protocol : uint8_t { TCP = 6, UDP = 17, SCTP = 132 };
const char* protocolName(Protocol p);
/// "TCP", "UDP", "SCTP" (upper case, as the API spells them).
std::optional<Protocol> parseProtocol(std::string_view text);

/// Where an object (or one of its fields) was read from. line 0 = unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
};

using LabelMap = std::map<std::string, std::string>;

struct ObjectMeta {
  // Empty for cluster-scoped kinds.
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  LabelMap labels;
  std::string resource_version;
  std::string uid;
  SourceLocation location;
};

// ---- label selectors (metav1.LabelSelector) ----

enum class SelectorOperator : uint8_t { In, NotIn, Exists, DoesNotExist };

struct LabelSelectorRequirement {
  std::string key;
  SelectorOperator op = SelectorOperator::Exists;
  std::vector<std::string> values;
};

/// An empty selector (no matchLabels, no matchExpressions) matches everything.
struct LabelSelector {
  LabelMap match_labels;
  std::vector<LabelSelectorRequirement> match_expressions;
  bool empty() const { return match_labels.empty() && match_expressions.empty(); }
};

// ---- NetworkPolicy (networking.k8s.io/v1) ----

/// intstr.IntOrString: a port number or a named port.
struct PortRef {
  std::variant<int32_t, std::string> value;
  bool isNamed() const { return std::holds_alternative<std::string>(value); }
  int32_t number() const { return std::get<int32_t>(value); }
  const std::string& name() const { return std::get<std::string>(value); }
};

struct NetworkPolicyPort {
  Protocol protocol = Protocol::TCP;  // defaulted
  std::optional<PortRef> port;        // absent = every port of the protocol
  std::optional<int32_t> end_port;    // requires a numeric port
};

struct IpBlock {
  Cidr cidr;
  std::vector<Cidr> except;
};

/// Exactly one shape is set, as validated: pod and/or namespace selector, or ipBlock.
struct NetworkPolicyPeer {
  std::optional<LabelSelector> pod_selector;
  std::optional<LabelSelector> namespace_selector;
  std::optional<IpBlock> ip_block;
};

/// One ingress or egress rule. Empty peers = any peer; empty ports = any port.
struct NetworkPolicyRule {
  std::vector<NetworkPolicyPeer> peers;  // `from` or `to`
  std::vector<NetworkPolicyPort> ports;
};

struct NetworkPolicy {
  ObjectMeta meta;
  LabelSelector pod_selector;
  std::vector<NetworkPolicyRule> ingress;
  std::vector<NetworkPolicyRule> egress;
  bool affects_ingress = true;  // policyTypes after defaulting
  bool affects_egress = false;
};

// ---- core/v1 ----

struct Namespace {
  ObjectMeta meta;  // labels include kubernetes.io/metadata.name after defaulting
};

struct ContainerPort {
  std::string name;  // may be empty
  int32_t port = 0;
  Protocol protocol = Protocol::TCP;
};

struct Pod {
  ObjectMeta meta;        // namespace defaulted to "default"
  std::string node_name;  // spec.nodeName
  bool host_network = false;
  std::string phase;                 // status.phase
  std::vector<IpAddress> ips;        // status.podIPs (or podIP)
  std::vector<ContainerPort> ports;  // every container's ports (init + sidecars too)
};

struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname...
  std::string address;
};

struct Node {
  ObjectMeta meta;
  std::vector<Cidr> pod_cidrs;       // spec.podCIDRs (or podCIDR)
  std::vector<IpAddress> addresses;  // status.addresses of IP types
};

struct ServicePort {
  std::string name;
  Protocol protocol = Protocol::TCP;
  int32_t port = 0;
  PortRef target_port;    // defaulted to `port`
  int32_t node_port = 0;  // 0 = none
};

enum class ServiceType : uint8_t { ClusterIP, NodePort, LoadBalancer, ExternalName };

struct Service {
  ObjectMeta meta;
  ServiceType type = ServiceType::ClusterIP;
  std::optional<LabelMap> selector;    // absent = selector-less (manual endpoints)
  std::vector<IpAddress> cluster_ips;  // empty when headless ("None") or unallocated
  bool headless = false;
  std::vector<ServicePort> ports;
  std::string external_name;
  std::vector<IpAddress> external_ips;
  std::vector<IpAddress> load_balancer_ips;  // status.loadBalancer.ingress[].ip
};

struct EndpointSlicePort {
  std::string name;
  Protocol protocol = Protocol::TCP;
  std::optional<int32_t> port;
};

struct EndpointTargetRef {
  std::string kind;
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
};

struct EndpointSliceEndpoint {
  std::vector<IpAddress> addresses;
  bool ready = true;  // conditions.ready; unset means ready
  std::optional<EndpointTargetRef> target_ref;
  std::string node_name;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<EndpointSliceEndpoint> endpoints;
  std::vector<EndpointSlicePort> ports;
};

}  // namespace palisade::policy
