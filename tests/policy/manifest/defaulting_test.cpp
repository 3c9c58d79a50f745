// The API server's defaulting, applied by the reader, kind by kind.
#include <gtest/gtest.h>

#include "tests/policy/manifest/manifest_test_util.h"

namespace palisade::policy {
namespace {

using testing::formatted;
using testing::readYaml;
using Strings = std::vector<std::string>;

ManifestSet readClean(std::string_view text) {
  ManifestSet set = readYaml(text);
  EXPECT_EQ(formatted(set.errors), Strings{});
  return set;
}

TEST(Defaulting, NamespaceGetsItsNameLabel) {
  ManifestSet set = readClean(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n"
      "  namespace: ignored\n  labels: {team: a}\n");
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].meta.namespace_, "");
  EXPECT_EQ(set.namespaces[0].meta.labels,
            (LabelMap{{"kubernetes.io/metadata.name", "prod"}, {"team", "a"}}));
}

TEST(Defaulting, NamespacedKindsDefaultToDefault) {
  ManifestSet set = readClean(R"(kind: Pod
apiVersion: v1
metadata: {name: a}
---
kind: NetworkPolicy
apiVersion: networking.k8s.io/v1
metadata: {name: b}
---
kind: Service
apiVersion: v1
metadata: {name: c}
---
kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {name: d}
addressType: IPv4
---
kind: Pod
apiVersion: v1
metadata: {name: e, namespace: other}
)");
  ASSERT_EQ(set.pods.size(), 2u);
  EXPECT_EQ(set.pods[0].meta.namespace_, "default");
  EXPECT_EQ(set.pods[1].meta.namespace_, "other");
  EXPECT_EQ(set.policies.at(0).meta.namespace_, "default");
  EXPECT_EQ(set.services.at(0).meta.namespace_, "default");
  EXPECT_EQ(set.endpoint_slices.at(0).meta.namespace_, "default");
}

TEST(Defaulting, PolicyTypesAndProtocol) {
  ManifestSet set = readClean(R"(kind: NetworkPolicy
metadata: {name: ingress-only, namespace: x}
spec:
  ingress:
  - ports: [{port: 80}, {}]
---
kind: NetworkPolicy
metadata: {name: with-egress, namespace: x}
spec:
  egress: [{}]
---
kind: NetworkPolicy
metadata: {name: empty-egress, namespace: x}
spec:
  egress: []
---
kind: NetworkPolicy
metadata: {name: explicit, namespace: x}
spec:
  egress: [{}]
  policyTypes: [Egress]
---
kind: NetworkPolicy
metadata: {name: empty-types, namespace: x}
spec:
  policyTypes: []
  egress: [{}]
)");
  ASSERT_EQ(set.policies.size(), 5u);
  const auto& p = set.policies;
  EXPECT_TRUE(p[0].affects_ingress);
  EXPECT_FALSE(p[0].affects_egress);
  ASSERT_EQ(p[0].ingress.at(0).ports.size(), 2u);
  EXPECT_EQ(p[0].ingress[0].ports[0].protocol, Protocol::TCP);
  EXPECT_EQ(p[0].ingress[0].ports[0].port->number(), 80);
  EXPECT_FALSE(p[0].ingress[0].ports[1].port.has_value());  // every TCP port
  EXPECT_TRUE(p[0].pod_selector.empty());
  EXPECT_TRUE(p[1].affects_ingress);
  EXPECT_TRUE(p[1].affects_egress);
  EXPECT_TRUE(p[2].affects_ingress);
  EXPECT_FALSE(p[2].affects_egress);
  EXPECT_FALSE(p[3].affects_ingress);
  EXPECT_TRUE(p[3].affects_egress);
  EXPECT_TRUE(p[4].affects_ingress);
  EXPECT_TRUE(p[4].affects_egress);
}

TEST(Defaulting, PolicyPeersAndSelectorsDecoded) {
  ManifestSet set = readClean(R"(kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector:
    matchLabels: {app: db}
    matchExpressions:
    - {key: tier, operator: NotIn, values: [a, b]}
    - {key: legacy, operator: DoesNotExist}
  ingress:
  - from:
    - podSelector: {}
      namespaceSelector: {matchLabels: {team: a}}
    - ipBlock: {cidr: "fd00::/64", except: ["fd00::/96"]}
    ports:
    - {port: metrics, protocol: SCTP}
)");
  const NetworkPolicy& np = set.policies.at(0);
  EXPECT_EQ(np.pod_selector.match_labels, (LabelMap{{"app", "db"}}));
  ASSERT_EQ(np.pod_selector.match_expressions.size(), 2u);
  EXPECT_EQ(np.pod_selector.match_expressions[0].op, SelectorOperator::NotIn);
  EXPECT_EQ(np.pod_selector.match_expressions[0].values, (Strings{"a", "b"}));
  EXPECT_EQ(np.pod_selector.match_expressions[1].op, SelectorOperator::DoesNotExist);
  const auto& peers = np.ingress.at(0).peers;
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_TRUE(peers[0].pod_selector->empty());
  EXPECT_EQ(peers[0].namespace_selector->match_labels, (LabelMap{{"team", "a"}}));
  EXPECT_EQ(peers[1].ip_block->cidr.toString(), "fd00::/64");
  EXPECT_EQ(np.ingress[0].ports.at(0).port->name(), "metrics");
  EXPECT_EQ(np.ingress[0].ports[0].protocol, Protocol::SCTP);
}

TEST(Defaulting, PodIpsAndPorts) {
  ManifestSet set = readClean(R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
spec:
  nodeName: node-1
  initContainers:
  - name: sidecar
    restartPolicy: Always
    ports: [{name: proxy, containerPort: 15001}]
  containers:
  - name: app
    ports:
    - {name: http, containerPort: 8080}
    - {containerPort: 53, protocol: UDP}
  - name: no-ports
status:
  phase: Running
  podIP: 10.0.0.5
  podIPs: [{ip: 10.0.0.5}, {ip: "fd00::5"}]
---
apiVersion: v1
kind: Pod
metadata: {name: legacy, namespace: x}
spec: {hostNetwork: true}
status: {podIP: 10.0.0.6}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, namespace: x}
status: {phase: Pending}
)");
  ASSERT_EQ(set.pods.size(), 3u);
  const Pod& web = set.pods[0];
  EXPECT_EQ(web.node_name, "node-1");
  EXPECT_EQ(web.phase, "Running");
  EXPECT_FALSE(web.host_network);
  ASSERT_EQ(web.ips.size(), 2u);
  EXPECT_EQ(web.ips[0].toString(), "10.0.0.5");
  EXPECT_EQ(web.ips[1].toString(), "fd00::5");
  ASSERT_EQ(web.ports.size(), 3u);
  EXPECT_EQ(web.ports[0].name, "proxy");
  EXPECT_EQ(web.ports[0].port, 15001);
  EXPECT_EQ(web.ports[1].name, "http");
  EXPECT_EQ(web.ports[1].protocol, Protocol::TCP);
  EXPECT_EQ(web.ports[2].port, 53);
  EXPECT_EQ(web.ports[2].protocol, Protocol::UDP);
  ASSERT_EQ(set.pods[1].ips.size(), 1u);
  EXPECT_EQ(set.pods[1].ips[0].toString(), "10.0.0.6");
  EXPECT_TRUE(set.pods[1].host_network);
  EXPECT_TRUE(set.pods[2].ips.empty());
}

TEST(Defaulting, ServiceTargetPortAndClusterIps) {
  ManifestSet set = readClean(R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: x}
spec:
  type: NodePort
  selector: {app: web}
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10, "fd00:96::10"]
  externalIPs: [192.0.2.1]
  ports:
  - {name: http, port: 80}
  - {name: https, port: 443, targetPort: 8443, nodePort: 30443}
  - {name: dns, port: 53, targetPort: dns, protocol: UDP}
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.1}, {hostname: lb.example.com}]
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: x}
spec:
  clusterIP: None
---
apiVersion: v1
kind: Service
metadata: {name: legacy, namespace: x}
spec:
  clusterIP: 10.96.0.11
  type: ExternalName
  externalName: db.example.com
)");
  ASSERT_EQ(set.services.size(), 3u);
  const Service& web = set.services[0];
  EXPECT_EQ(web.type, ServiceType::NodePort);
  EXPECT_EQ(*web.selector, (LabelMap{{"app", "web"}}));
  ASSERT_EQ(web.cluster_ips.size(), 2u);
  EXPECT_EQ(web.cluster_ips[1].toString(), "fd00:96::10");
  EXPECT_FALSE(web.headless);
  ASSERT_EQ(web.ports.size(), 3u);
  EXPECT_EQ(web.ports[0].target_port.number(), 80);
  EXPECT_EQ(web.ports[1].target_port.number(), 8443);
  EXPECT_EQ(web.ports[1].node_port, 30443);
  EXPECT_EQ(web.ports[2].target_port.name(), "dns");
  EXPECT_EQ(web.ports[2].protocol, Protocol::UDP);
  EXPECT_EQ(web.external_ips.at(0).toString(), "192.0.2.1");
  ASSERT_EQ(web.load_balancer_ips.size(), 1u);
  EXPECT_EQ(web.load_balancer_ips[0].toString(), "198.51.100.1");

  EXPECT_TRUE(set.services[1].headless);
  EXPECT_TRUE(set.services[1].cluster_ips.empty());
  EXPECT_FALSE(set.services[1].selector.has_value());
  EXPECT_EQ(set.services[2].cluster_ips.at(0).toString(), "10.96.0.11");
  EXPECT_EQ(set.services[2].type, ServiceType::ExternalName);
  EXPECT_EQ(set.services[2].external_name, "db.example.com");
}

TEST(Defaulting, EndpointSlice) {
  ManifestSet set = readClean(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: x
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
endpoints:
- addresses: [10.0.0.5]
  nodeName: node-1
  targetRef: {kind: Pod, namespace: x, name: web-1}
- addresses: [10.0.0.6]
  conditions: {ready: false}
- addresses: [10.0.0.7]
  conditions: {serving: true}
ports:
- {name: http, port: 8080}
- {name: dns, port: 53, protocol: UDP}
)");
  const EndpointSlice& s = set.endpoint_slices.at(0);
  EXPECT_EQ(s.service_name, "web");
  EXPECT_EQ(s.address_type, "IPv4");
  ASSERT_EQ(s.endpoints.size(), 3u);
  EXPECT_TRUE(s.endpoints[0].ready);
  EXPECT_EQ(s.endpoints[0].node_name, "node-1");
  EXPECT_EQ(s.endpoints[0].target_ref->name, "web-1");
  EXPECT_EQ(s.endpoints[0].addresses.at(0).toString(), "10.0.0.5");
  EXPECT_FALSE(s.endpoints[1].ready);
  EXPECT_TRUE(s.endpoints[2].ready);
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].protocol, Protocol::TCP);
  EXPECT_EQ(*s.ports[1].port, 53);
  EXPECT_EQ(s.ports[1].protocol, Protocol::UDP);
}

TEST(Defaulting, NodeCidrsAndAddresses) {
  ManifestSet set = readClean(R"(apiVersion: v1
kind: Node
metadata: {name: node-1, labels: {kubernetes.io/hostname: node-1}}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24, "fd00:244:1::/64"]
status:
  addresses:
  - {type: InternalIP, address: 192.168.1.10}
  - {type: ExternalIP, address: 203.0.113.10}
  - {type: Hostname, address: node-1}
  - {type: InternalDNS, address: 192.168.1.11}
  - {type: InternalIP, address: not-an-ip}
---
apiVersion: v1
kind: Node
metadata: {name: node-2}
spec: {podCIDR: 10.244.2.0/24}
)");
  ASSERT_EQ(set.nodes.size(), 2u);
  const Node& n = set.nodes[0];
  EXPECT_EQ(n.meta.namespace_, "");
  ASSERT_EQ(n.pod_cidrs.size(), 2u);
  EXPECT_EQ(n.pod_cidrs[1].toString(), "fd00:244:1::/64");
  ASSERT_EQ(n.addresses.size(), 2u);
  EXPECT_EQ(n.addresses[0].toString(), "192.168.1.10");
  EXPECT_EQ(n.addresses[1].toString(), "203.0.113.10");
  ASSERT_EQ(set.nodes[1].pod_cidrs.size(), 1u);
  EXPECT_EQ(set.nodes[1].pod_cidrs[0].toString(), "10.244.2.0/24");
}

TEST(Defaulting, MetadataFields) {
  ManifestSet set = readClean(
      "kind: Pod\nmetadata: {name: a, namespace: x, uid: u-1, "
      "resourceVersion: \"42\", labels: {app: web, empty: \"\"}}\n");
  const ObjectMeta& m = set.pods.at(0).meta;
  EXPECT_EQ(m.uid, "u-1");
  EXPECT_EQ(m.resource_version, "42");
  EXPECT_EQ(m.labels, (LabelMap{{"app", "web"}, {"empty", ""}}));
  EXPECT_EQ(m.location.file, "pol.yaml");
  EXPECT_EQ(m.location.line, 1);
}

}  // namespace
}  // namespace palisade::policy
