// Services in the lab as kube-proxy makes them, with policies judged on the
// backend after DNAT: ClusterIP with a named targetPort (resolved per pod),
// NodePort on every node's address, hairpin through a pod's own Service,
// headless (no VIP), ipBlock peers and named ports in policies.
#include "agent/lab/probe.h"
#include "tests/kernel/lab_support.h"

namespace palisade::agent::lab {
namespace {

using testing::isRoot;
using testing::ManifestDir;
using testing::ScopedLab;

// web-1 serves "http" on 8080, web-2 on 9090: the named targetPort of
// Service w2 must reach 9090. client and other sit on different nodes.
constexpr const char* kModel = R"(
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: app, labels: {app: web, id: w1}}
spec: {nodeName: n-a, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.1.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: app, labels: {app: web, id: w2}}
spec: {nodeName: n-b, containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
status: {podIP: 10.1.0.12}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {app: client}}
spec: {nodeName: n-a, containers: [{name: c}]}
status: {podIP: 10.1.0.21}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: app, labels: {app: other}}
spec: {nodeName: n-b, containers: [{name: c}]}
status: {podIP: 10.1.0.22}
---
apiVersion: v1
kind: Service
metadata: {name: w2, namespace: app}
spec:
  clusterIP: 10.96.1.2
  selector: {id: w2}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: app}
spec:
  type: NodePort
  clusterIP: 10.96.1.1
  selector: {id: w1}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: app}
spec:
  clusterIP: None
  selector: {id: w1}
  ports: [{port: 8080}]
---
# web-2 admits only the client's address, and only on its named port.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: w2-from-client, namespace: app}
spec:
  podSelector: {matchLabels: {id: w2}}
  policyTypes: [Ingress]
  ingress: [{from: [{ipBlock: {cidr: 10.1.0.21/32}}], ports: [{port: http}]}]
---
# other may only reach web-1's address on 8080: judged after DNAT.
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: other-egress, namespace: app}
spec:
  podSelector: {matchLabels: {app: other}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.1.0.0/24, except: [10.1.0.12/32]}}], ports: [{port: 8080}]}]
)";

TEST(LabServices, PoliciesJudgeTranslatedTraffic) {
  if (!isRoot()) GTEST_SKIP() << "needs root (network namespaces)";
  ManifestDir dir("svc");
  ScopedLab lab("kt-svc", {dir.write("model.yaml", kModel)}, 0);
  ASSERT_TRUE(lab.ok()) << lab.error();
  const LabState& s = lab.state();
  ASSERT_EQ(s.nodes.size(), 2u);

  const LabService* headless = nullptr;
  for (const LabService& svc : s.services) {
    if (svc.name == "db") headless = &svc;
    if (svc.name == "w2") {
      ASSERT_EQ(svc.ports.size(), 1u);
      ASSERT_EQ(svc.ports[0].backends.size(), 1u);
      EXPECT_EQ(svc.ports[0].backends[0].port, 9090) << "named targetPort on web-2";
    }
  }
  ASSERT_NE(headless, nullptr);
  EXPECT_TRUE(headless->headless);
  EXPECT_TRUE(headless->cluster_ips.empty()) << "headless Services get no VIP";

  auto ip = [](const char* text) { return *IpAddress::parse(text); };
  const std::string client = s.findPod("app", "client")->netns;
  const std::string other = s.findPod("app", "other")->netns;
  const std::string web1 = s.findPod("app", "web-1")->netns;
  const std::string web2 = s.findPod("app", "web-2")->netns;
  struct Cell {
    std::string from;
    ProbeTarget to;
    bool allowed;
    const char* what;
  };
  std::vector<Cell> cells = {
      {client, {ip("10.96.1.2"), 80}, true, "client -> w2 ClusterIP: ipBlock + named port"},
      {other, {ip("10.96.1.2"), 80}, false, "other -> w2 ClusterIP: egress except web-2"},
      {web1, {ip("10.96.1.2"), 80}, false, "web-1 -> w2 ClusterIP: not in ipBlock"},
      {web2, {ip("10.96.1.2"), 80}, false, "web-2 -> own Service (hairpin): not in ipBlock"},
      {web1, {ip("10.96.1.1"), 80}, true, "web-1 -> own Service (hairpin): not isolated"},
      {other, {ip("10.96.1.1"), 80}, true, "other -> web ClusterIP: egress to 10.1.0.11:8080"},
      {client, {s.nodes[0].addr4, 30080}, true, "client -> NodePort on its node"},
      {other, {s.nodes[1].addr4, 30080}, true, "other -> NodePort on its node, backend remote"},
      {client, {s.nodes[1].addr4, 30080}, true, "client -> NodePort on the other node"},
      // On its own node other's egress sees the other node's address (the
      // DNAT happens over there), which its ipBlock does not cover.
      {other, {s.nodes[0].addr4, 30080}, false, "other -> NodePort on the other node"},
      {other, {ip("10.1.0.12"), 9090}, false, "other -> web-2 directly"},
      {client, {ip("10.1.0.11"), 8080}, true, "client -> web-1 directly (headless db)"},
  };
  for (const Cell& c : cells) {
    ProbeCells got = probeCells({c.from}, {{c.to}}, policy::Protocol::TCP, 300);
    ASSERT_TRUE(got.errors.empty()) << got.errors.front();
    EXPECT_EQ(got.allowed[0][0], c.allowed) << c.what;
  }
}

}  // namespace
}  // namespace palisade::agent::lab
