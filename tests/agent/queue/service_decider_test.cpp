// Service edge cases: a new connection whose destination is still a Service
// address (ClusterIP or this node's NodePort) is judged against the Service's
// backends; held while it has no ready backend.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "agent/queue/ruleset_decider.h"
#include "agent/queue/service_table.h"
#include "policy/compile/compile.h"
#include "policy/manifest/reader.h"

namespace palisade::agent::queue {
namespace {

using datapath::queue::Explain;
using datapath::queue::QueuedPacket;
using datapath::queue::Verdict;

constexpr const char* kCluster = R"(
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: 10.8.0.0/24}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns, labels: {kubernetes.io/metadata.name: ns}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: ns, labels: {app: client}}
spec: {nodeName: node-a, containers: [{name: c}]}
status: {podIP: 10.8.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: ns, labels: {app: other}}
spec: {nodeName: node-a, containers: [{name: c}]}
status: {podIP: 10.8.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: ns, labels: {app: db}}
spec: {nodeName: node-a, containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
status: {podIP: 10.8.0.3}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec:
  type: NodePort
  clusterIP: 10.96.0.10
  selector: {app: db}
  ports: [{port: 80, targetPort: pg, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: ns}
spec: {clusterIP: 10.96.0.11, selector: {app: nobody}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-client, namespace: ns}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 5432}]}]
)";

QueuedPacket tcp(const std::string& src, const std::string& dst, uint16_t dport) {
  QueuedPacket q;
  q.packet.src.family = q.packet.dst.family = 4;
  inet_pton(AF_INET, src.c_str(), q.packet.src.bytes);
  inet_pton(AF_INET, dst.c_str(), q.packet.dst.bytes);
  q.packet.protocol = IPPROTO_TCP;
  q.packet.has_ports = true;
  q.packet.dst_port = dport;
  return q;
}

class QueueServiceDecider : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = policy::readManifestText(kCluster, "cluster.yaml", policy::ManifestFormat::Auto);
    ASSERT_TRUE(set.errors.empty()) << set.errors.front().format();
    state_ = policy::ClusterState::fromManifests(set);
    ASSERT_TRUE(decider_.update(policy::compile(state_, "node-a")));
    table_ = std::make_shared<const ServiceTable>(ServiceTable::build(state_, "node-a"));
    decider_.updateServices(table_);
  }
  policy::ClusterState state_;
  std::shared_ptr<const ServiceTable> table_;
  RulesetDecider decider_;
};

TEST_F(QueueServiceDecider, TableHasClusterIpsAndThisNodesNodePorts) {
  auto tcpProto = policy::Protocol::TCP;
  const ServiceTarget* vip = table_->find(*policy::IpAddress::parse("10.96.0.10"), tcpProto, 80);
  ASSERT_TRUE(vip);
  EXPECT_EQ(vip->service, "ns/db");
  ASSERT_EQ(vip->backends.size(), 1u);
  EXPECT_EQ(vip->backends[0].port, 5432);  // the named target port, resolved on the pod
  EXPECT_TRUE(table_->find(*policy::IpAddress::parse("192.168.1.10"), tcpProto, 30080));
  EXPECT_FALSE(table_->find(*policy::IpAddress::parse("10.96.0.10"), tcpProto, 81));
  EXPECT_FALSE(table_->find(*policy::IpAddress::parse("10.96.0.10"), policy::Protocol::UDP, 80));
}

TEST_F(QueueServiceDecider, KernelMatchSplitsVirtualAddressesFromNodePorts) {
  datapath::nft::ServiceMatch m = table_->kernelMatch();
  uint32_t tcp80 = uint32_t(IPPROTO_TCP) << 16 | 80;
  EXPECT_EQ(m.vips_v4, (std::vector<uint32_t>{0x0a60000a, 0x0a60000b}));  // 10.96.0.10, .11
  EXPECT_TRUE(m.vips_v6.empty());
  EXPECT_EQ(m.ports, (std::vector<uint32_t>{tcp80, tcp80}));
  EXPECT_EQ(m.node_ports, (std::vector<uint32_t>{uint32_t(IPPROTO_TCP) << 16 | 30080}));
}

TEST_F(QueueServiceDecider, UntranslatedServiceTrafficIsJudgedOnItsBackends) {
  auto ok = decider_.decide(tcp("10.8.0.2", "10.96.0.10", 80), Explain::Yes);
  EXPECT_EQ(ok.verdict, Verdict::Accept) << ok.reason;
  EXPECT_NE(ok.reason.find("service ns/db"), std::string::npos) << ok.reason;
  auto denied = decider_.decide(tcp("10.8.0.4", "10.96.0.10", 80), Explain::Yes);
  EXPECT_EQ(denied.verdict, Verdict::Drop) << denied.reason;
  EXPECT_NE(denied.reason.find("10.8.0.3:5432"), std::string::npos) << denied.reason;
  // Through this node's NodePort, the same.
  EXPECT_EQ(decider_.decide(tcp("10.8.0.2", "192.168.1.10", 30080), Explain::No).verdict,
            Verdict::Accept);
  EXPECT_EQ(decider_.decide(tcp("10.8.0.4", "192.168.1.10", 30080), Explain::No).verdict,
            Verdict::Drop);
  // No ready backend yet: held like a pending pod.
  auto empty = decider_.decide(tcp("10.8.0.2", "10.96.0.11", 80), Explain::Yes);
  EXPECT_EQ(empty.verdict, Verdict::Hold) << empty.reason;
  EXPECT_NE(empty.reason.find("no ready backend"), std::string::npos);
}

}  // namespace
}  // namespace palisade::agent::queue
