// The queue decides with RulesetEvaluator::allows and builds no reason
// (Explain::No); the decision log asks for reasons (Explain::Yes), which go
// through RulesetEvaluator::evaluate. Both must give the same verdict for every
// flow: this runs a dual-stack cluster with ingress and egress isolation,
// ipBlock excepts, named ports, port ranges, UDP and SCTP, Services and a
// pending pod through both and compares every verdict.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <map>
#include <string>
#include <vector>

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
spec: {podCIDR: 10.8.0.0/24, podCIDRs: [10.8.0.0/24, "fd00:8::/64"]}
status: {addresses: [{type: InternalIP, address: 192.168.1.10}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {kubernetes.io/metadata.name: shop, team: web}}
---
apiVersion: v1
kind: Namespace
metadata: {name: ops, labels: {kubernetes.io/metadata.name: ops, team: ops}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.8.0.2, podIPs: [{ip: 10.8.0.2}, {ip: "fd00:8::2"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {nodeName: node-a, containers: [{name: c, ports: [{name: pg, containerPort: 5432}]}]}
status: {podIP: 10.8.0.3, podIPs: [{ip: 10.8.0.3}, {ip: "fd00:8::3"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: cache}}
spec: {nodeName: node-a, containers: [{name: c}]}
status: {podIP: 10.8.0.4}
---
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: ops, labels: {app: agent}}
spec: {nodeName: node-a, containers: [{name: c}]}
status: {podIP: 10.8.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: remote, namespace: shop, labels: {app: web}}
spec: {nodeName: node-b, containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
status: {podIP: 10.9.0.7}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: db}, ports: [{port: 80, targetPort: pg}]}
---
apiVersion: v1
kind: Service
metadata: {name: nobody, namespace: shop}
spec: {clusterIP: 10.96.0.11, selector: {app: nobody}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}, {protocol: UDP, port: 5000, endPort: 5010}]
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.8.0.4/32, 10.9.0.0/16]}}]
    ports: [{protocol: SCTP, port: 9}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
  - to: [{namespaceSelector: {matchLabels: {team: ops}}}]
    ports: [{protocol: TCP, port: 443}]
  - to: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: http}]
  - to: [{ipBlock: {cidr: "2001:db8::/32"}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: ops}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
)";

QueuedPacket flow(const std::string& src, const std::string& dst, uint8_t proto, uint16_t dport) {
  QueuedPacket q;
  auto& p = q.packet;
  const bool v6 = src.find(':') != std::string::npos;
  p.src.family = p.dst.family = v6 ? 6 : 4;
  inet_pton(v6 ? AF_INET6 : AF_INET, src.c_str(), p.src.bytes);
  inet_pton(v6 ? AF_INET6 : AF_INET, dst.c_str(), p.dst.bytes);
  p.protocol = proto;
  p.has_ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
  p.src_port = 40000;
  p.dst_port = p.has_ports ? dport : 0;
  return q;
}

TEST(QueueDeciderExplain, CheapPathGivesTheVerdictsOfTheFullPath) {
  auto set = policy::readManifestText(kCluster, "cluster.yaml", policy::ManifestFormat::Auto);
  ASSERT_TRUE(set.errors.empty()) << set.errors.front().format();
  auto state = policy::ClusterState::fromManifests(set);
  RulesetDecider d;
  ASSERT_TRUE(d.update(policy::compile(state, "node-a")));
  d.updateServices(std::make_shared<const ServiceTable>(ServiceTable::build(state, "node-a")));

  // Local pods, the node, a pod of another node, a pending address inside the
  // pod CIDR, outside addresses (one inside the ipBlock, one in an except),
  // the two Service addresses.
  const std::vector<std::string> v4 = {"10.8.0.2",  "10.8.0.3",     "10.8.0.4",  "10.8.0.5",
                                       "10.8.0.77", "192.168.1.10", "10.9.0.7",  "10.1.2.3",
                                       "192.0.2.1", "10.96.0.10",   "10.96.0.11"};
  const std::vector<std::string> v6 = {"fd00:8::2", "fd00:8::3", "fd00:8::99", "2001:db8::1",
                                       "2001:db9::1"};
  const std::vector<uint8_t> protocols = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP};
  const std::vector<uint16_t> ports = {9, 80, 443, 5000, 5005, 5011, 5432, 8080, 9090};

  std::map<Verdict, int> seen;
  int flows = 0;
  auto check = [&](const std::string& src, const std::string& dst, uint8_t proto, uint16_t port) {
    QueuedPacket q = flow(src, dst, proto, port);
    auto cheap = d.decide(q, Explain::No);
    auto full = d.decide(q, Explain::Yes);
    ++flows;
    ++seen[full.verdict];
    EXPECT_EQ(cheap.verdict, full.verdict) << src << " -> " << dst << " proto " << int(proto)
                                           << " port " << port << ": " << full.reason;
    EXPECT_TRUE(cheap.reason.empty()) << cheap.reason;
    EXPECT_FALSE(full.reason.empty());
  };
  for (const auto* family : {&v4, &v6})
    for (const auto& src : *family)
      for (const auto& dst : *family)
        for (uint8_t proto : protocols)
          for (uint16_t port : ports) check(src, dst, proto, port);

  // The set of flows reaches every kind of answer, each many times: a cheap
  // path that always accepted (or always dropped) could not pass.
  EXPECT_EQ(flows, (11 * 11 + 5 * 5) * 4 * 9);
  EXPECT_GT(seen[Verdict::Accept], 100);
  EXPECT_GT(seen[Verdict::Drop], 100);
  EXPECT_GT(seen[Verdict::Hold], 100);
}

}  // namespace
}  // namespace palisade::agent::queue
