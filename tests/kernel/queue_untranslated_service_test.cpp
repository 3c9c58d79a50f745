// Service traffic that reaches our chains untranslated, on the real kernel,
// wired as palisade-agent wires it: the NftKernel inside a QueueKernel, the
// Service table staged before each revision (its addresses become the queue
// rules' set elements) and handed to the decider once the kernel has it.
//
// No proxy runs here, as on a node whose kube-proxy has not programmed the
// Service yet: pod a connects to the ClusterIP and the packet leaves the node
// still aimed at it (the node routes the virtual address to pod b, which
// answers on it). The static ruleset cannot see b's policy in that packet;
// the queue judges it against the backend, b.
#include <gtest/gtest.h>

#include "agent/queue/queue_kernel.h"
#include "agent/queue/queue_service.h"
#include "datapath/nft/kernel.h"
#include "policy/compile/compile.h"
#include "policy/manifest/reader.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/queue_support.h"

namespace palisade::agent::queue {
namespace {

using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::shell;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
namespace nft = palisade::datapath::nft;
using namespace std::chrono_literals;

constexpr const char* kVip = "10.96.0.10";

/// Pods a (10.77.1.2) and b (10.77.2.2) on node-a; Service web → `selector`;
/// b admits TCP 80 only from pods labelled app=`b_admits`.
std::string cluster(const std::string& selector, const std::string& b_admits) {
  return R"(
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDR: 10.77.0.0/16}
status: {addresses: [{type: InternalIP, address: 10.77.1.1}, {type: InternalIP, address: 10.77.2.1}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: ns, labels: {app: client}}
spec: {nodeName: node-a, containers: [{name: c}]}
status: {podIP: 10.77.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: ns, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: c, ports: [{containerPort: 80}]}]}
status: {podIP: 10.77.2.2}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {clusterIP: )" +
         std::string(kVip) + R"(, selector: {app: )" + selector + R"(}, ports: [{port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-ingress, namespace: ns}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: )" +
         b_admits + R"(}}}], ports: [{port: 80}]}]
)";
}

class QueueUntranslatedService : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_QUEUE(native_);
    topo_ = std::make_unique<Topology>(2);
    // The virtual address lives on b and the node routes it there.
    shell("ip -n " + topo_->pods[1] + " addr add " + kVip + "/32 dev eth0");
    shell("ip -n " + topo_->node + " route add " + kVip + "/32 via " + topo_->pod_ip[1]);
  }

  /// The agent's wiring, queue rules on or off (off: the static ruleset alone).
  void start(bool queue_rules, std::chrono::milliseconds pending_timeout = 5s) {
    QueueServiceOptions o;
    o.pending_timeout = pending_timeout;
    auto s = inNetns(topo_->node, [&] { return QueueService::start(o); });
    ASSERT_TRUE(s.ok()) << s.error().str();
    service_ = std::move(*s);
    nft::QueueRules rules;
    if (queue_rules) {
      rules.pending_pods = rules.untranslated_services = true;
      rules.target = queueTarget(o, native_);
    }
    auto k = inNetns(topo_->node, [&] { return nft::openNftKernel(nft::DenyAction::Drop, rules); });
    ASSERT_TRUE(k.ok()) << k.error().str();
    QueueService* q = service_.get();
    kernel_ = std::make_unique<QueueKernel>(
        std::move(*k),
        [q](const ir::Ruleset& rs, std::shared_ptr<const ServiceTable> t) {
          q->programmed(rs, std::move(t));
        },
        rules);
  }

  /// What the reconciler does for one revision: stage the Services, program.
  void program(const std::string& manifests) {
    auto set = policy::readManifestText(manifests, "cluster.yaml", policy::ManifestFormat::Auto);
    ASSERT_TRUE(set.errors.empty()) << set.errors.front().format();
    auto state = policy::ClusterState::fromManifests(set);
    auto rs = policy::compile(state, "node-a");
    rs.set_revision(++revision_);
    kernel_->stageServices(
        std::make_shared<const ServiceTable>(ServiceTable::build(state, "node-a")));
    auto r = inNetns(topo_->node, [&] { return kernel_->sync(rs); });
    ASSERT_TRUE(r.ok()) << r.error().str();
  }

  Conn toVip(int timeout_ms = 1000) { return tcpConnect(topo_->pods[0], kVip, 80, timeout_ms); }

  bool native_ = false;
  uint64_t revision_ = 0;
  std::unique_ptr<Topology> topo_;
  std::unique_ptr<QueueService> service_;
  std::unique_ptr<QueueKernel> kernel_;
};

TEST_F(QueueUntranslatedService, StaticRulesetAloneLetsItPast) {
  // Why the queue is needed: b denies a, yet a reaches b through the
  // untranslated virtual address, which no dispatch entry knows.
  start(false);
  program(cluster("web", "nobody"));
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(tcpConnect(topo_->pods[0], topo_->pod_ip[1], 80, 1000), Conn::Timeout);
  EXPECT_EQ(toVip(), Conn::Ok);
  EXPECT_EQ(service_->counters().received, 0u);
}

TEST_F(QueueUntranslatedService, DeniedByTheBackendsPolicy) {
  start(true);
  program(cluster("web", "nobody"));
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(toVip(), Conn::Timeout);
  auto c = service_->counters();
  EXPECT_GE(c.dropped, 1u);
  EXPECT_EQ(c.accepted, 0u);
}

TEST_F(QueueUntranslatedService, AllowedByTheBackendsPolicy) {
  start(true);
  program(cluster("web", "client"));
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(toVip(), Conn::Ok);
  auto c = service_->counters();
  EXPECT_EQ(c.accepted, 1u);
  // Established now: the reply and the rest of the connection never queue.
  EXPECT_EQ(c.received, 1u);
}

TEST_F(QueueUntranslatedService, NoReadyBackendIsHeldThenFailsClosed) {
  start(true, 300ms);
  program(cluster("nobody", "client"));
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(toVip(900), Conn::Timeout);
  auto c = service_->counters();
  EXPECT_GE(c.held, 1u);
  EXPECT_GE(c.timed_out, 1u);
}

TEST_F(QueueUntranslatedService, AServiceAddedLaterReachesTheRules) {
  // Revision 1 has no Service: the address is not in the queue's set, so the
  // static ruleset alone decides (and lets it past, as above).
  start(true);
  std::string without = cluster("web", "nobody");
  without.erase(without.find("---\napiVersion: v1\nkind: Service"),
                without.find("---\napiVersion: networking.k8s.io") -
                    without.find("---\napiVersion: v1\nkind: Service"));
  program(without);
  Fd l = tcpListen(topo_->pods[1], 80);
  EXPECT_EQ(toVip(), Conn::Ok);
  EXPECT_EQ(service_->counters().received, 0u);
  program(cluster("web", "nobody"));
  EXPECT_EQ(toVip(), Conn::Timeout);
  EXPECT_GE(service_->counters().dropped, 1u);
}

}  // namespace
}  // namespace palisade::agent::queue
