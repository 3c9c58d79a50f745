// The cluster tiers in the kernel: ClusterNetworkPolicies and NetworkPolicies
// compiled by the real compiler, programmed into a node namespace, judged by
// real TCP. Every probed flow must get the verdict the IR evaluator gives, and
// the flows that show each rule of DESIGN.md §8 are named: an Admin Deny over
// a NetworkPolicy allow, a Pass into the NetworkPolicy tier, an egress Accept
// that does not skip the destination's ingress, a Baseline Deny where no
// NetworkPolicy decides, a nodes peer. A relabel then moves a pod into a
// subject through the delta path (set elements only).
#include <gtest/gtest.h>

#include <string>

#include "policy/compile/compile.h"
#include "policy/compile/incremental.h"
#include "policy/evaluate/ruleset_evaluator.h"
#include "policy/manifest/reader.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/programmer_support.h"

namespace palisade::datapath::nft {
namespace {

using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::programmerIn;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;

// Pods 1..4 of the topology are x/a, x/b, y/c, y/d; x is team red, y blue.
std::string manifests(const Topology& t) {
  std::string y = R"(
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {zone: a}}
status:
  addresses:
)";
  for (const auto& ip : t.node_ip) y += "    - {type: InternalIP, address: " + ip + "}\n";
  y += R"(---
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {team: red}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {team: blue}}
)";
  const char* names[] = {"x/a", "x/b", "y/c", "y/d"};
  for (int i = 0; i < 4; ++i) {
    std::string ns(names[i], 1), pod(names[i] + 2);
    y += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: " + pod + ", namespace: " + ns +
         ", labels: {app: " + pod + "}}\nspec: {nodeName: n1, containers: [{name: c}]}\n" +
         "status: {podIP: " + t.pod_ip[i] + "}\n";
  }
  y += R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-a, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
    - from: [{namespaceSelector: {}}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard-red}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {matchLabels: {team: blue}}}
  egress:
    - {name: no-http, action: Deny, to: [{namespaces: {matchLabels: {team: red}}}],
       protocols: [{tcp: {destinationPort: {number: 80}}}]}
    - {name: pass-81, action: Pass, to: [{namespaces: {matchLabels: {team: red}}}],
       protocols: [{tcp: {destinationPort: {number: 81}}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: d-first}
spec:
  tier: Admin
  priority: 5
  subject: {pods: {podSelector: {matchLabels: {app: d}}}}
  egress:
    - {name: d-http, action: Accept, to: [{namespaces: {}}],
       protocols: [{tcp: {destinationPort: {number: 80}}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-node-ssh}
spec:
  tier: Admin
  priority: 20
  subject: {namespaces: {}}
  egress:
    - {action: Deny, to: [{nodes: {matchLabels: {zone: a}}}],
       protocols: [{tcp: {destinationPort: {number: 22}}}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: red-default}
spec:
  tier: Baseline
  priority: 1
  subject: {namespaces: {matchLabels: {team: red}}}
  ingress:
    - {name: deny-all, action: Deny, from: [{namespaces: {}}]}
)";
  return y;
}

class DatapathTiers : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = palisade::testing::kernelTestsUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    topo_ = std::make_unique<Topology>(4);
    policy::ManifestSet set = policy::readManifestText(manifests(*topo_), "tiers.yaml");
    ASSERT_TRUE(set.errors.empty()) << set.errors.front().format();
    state_ = policy::ClusterState::fromManifests(set);
    for (int i = 0; i < 4; ++i) {
      listeners_.push_back(tcpListen(topo_->pods[i], 80));
      listeners_.push_back(tcpListen(topo_->pods[i], 81));
    }
    listeners_.push_back(tcpListen(topo_->node, 22));
    listeners_.push_back(tcpListen(topo_->node, 23));
  }

  /// Probes every ordered pod pair on 80 and 81 and every pod to the node on 22
  /// and 23; each kernel verdict must be the IR evaluator's. Returns "" or the
  /// disagreements.
  std::string kernelMatchesEvaluator(const ir::Ruleset& rs) {
    auto eval = policy::RulesetEvaluator::create(rs);
    if (!eval) return eval.error().str();
    std::string out;
    auto check = [&](int from, const std::string& to, uint16_t port) {
      const bool want = eval->allows(*policy::IpAddress::parse(topo_->pod_ip[from]),
                                     *policy::IpAddress::parse(to), policy::Protocol::TCP, port);
      const bool got = tcpConnect(topo_->pods[from], to, port) == Conn::Ok;
      if (want != got)
        out += "pod" + std::to_string(from + 1) + " -> " + to + ":" + std::to_string(port) +
               (want ? " should pass; " : " should drop; ");
    };
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j)
        if (i != j)
          for (uint16_t port : {80, 81}) check(i, topo_->pod_ip[j], port);
      for (uint16_t port : {22, 23}) check(i, topo_->node_ip[0], port);
    }
    return out;
  }

  bool allows(const ir::Ruleset& rs, int from, const std::string& to, uint16_t port) {
    auto eval = policy::RulesetEvaluator::create(rs);
    return eval && eval->allows(*policy::IpAddress::parse(topo_->pod_ip[from]),
                                *policy::IpAddress::parse(to), policy::Protocol::TCP, port);
  }

  std::unique_ptr<Topology> topo_;
  policy::ClusterState state_;
  std::vector<palisade::testing::Fd> listeners_;
};

TEST_F(DatapathTiers, KernelVerdictsAreTheEvaluatorsAndShowEachTierRule) {
  const ir::Ruleset rs = policy::compile(state_, "n1");
  auto prog = programmerIn(topo_->node);
  ASSERT_TRUE(prog);
  auto r = prog->sync(rs);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(kernelMatchesEvaluator(rs), "");

  const auto& ip = topo_->pod_ip;
  EXPECT_FALSE(allows(rs, 2, ip[0], 80));  // y/c → x/a:80: Admin Deny over the NP allow
  EXPECT_TRUE(allows(rs, 2, ip[0], 81));   // ...:81: Pass, then the NP allows
  EXPECT_FALSE(allows(rs, 2, ip[1], 81));  // y/c → x/b:81: Pass, no NP selects b: Baseline Deny
  EXPECT_TRUE(allows(rs, 3, ip[0], 80));   // y/d → x/a:80: d-first Accepts before guard-red
  EXPECT_FALSE(allows(rs, 3, ip[1], 80));  // y/d → x/b:80: Accepted egress, Baseline ingress Deny
  EXPECT_TRUE(allows(rs, 0, ip[2], 80));   // x/a → y/c: nothing applies
  EXPECT_FALSE(allows(rs, 0, topo_->node_ip[0], 22));  // nodes peer
  EXPECT_TRUE(allows(rs, 0, topo_->node_ip[0], 23));
}

TEST_F(DatapathTiers, RelabelIntoASubjectIsASetElementDelta) {
  policy::IncrementalCompiler compiler(state_, "n1");
  auto prog = programmerIn(topo_->node);
  ASSERT_TRUE(prog);
  ASSERT_TRUE(prog->sync(compiler.ruleset()).ok());
  ASSERT_FALSE(allows(compiler.ruleset(), 2, topo_->pod_ip[0], 80));

  // y/c becomes app=d: d-first's subject, so its egress to x/a:80 is Accepted.
  ir::RulesetDelta delta = compiler.mergePodLabels("y", "c", {{"app", "d"}});
  ASSERT_FALSE(delta.full());
  auto r = prog->apply(compiler.ruleset(), {&delta, 1});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->from_ir_delta) << r->full_because;
  EXPECT_TRUE(r->elements_only);
  EXPECT_TRUE(allows(compiler.ruleset(), 2, topo_->pod_ip[0], 80));
  EXPECT_EQ(kernelMatchesEvaluator(compiler.ruleset()), "");
}

}  // namespace
}  // namespace palisade::datapath::nft
