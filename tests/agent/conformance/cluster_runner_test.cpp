// The cluster-netpol runner on small inline cases: it builds the topology,
// applies and deletes through the manifest reader, relabels (null removes),
// insists that rejects are refused, and grades whatever prober it is given.
#include "agent/conformance/cluster_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/conformance/cluster_topology.h"
#include "agent/conformance/evaluator_flow_prober.h"

namespace palisade::agent::conformance {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// shop/web and shop/db on n1, guest/client on n2, the host-network infra/agent on n2.
constexpr const char* kTopology =
    "topology:\n"
    "  nodes:\n"
    "    - {name: n1, labels: {zone: a}, addresses: [172.18.0.2, 'fc00::2']}\n"
    "    - {name: n2, labels: {zone: b}, addresses: [172.18.0.3, 'fc00::3', 198.51.100.3]}\n"
    "  namespaces:\n"
    "    - {name: shop, labels: {env: prod}}\n"
    "    - {name: guest, labels: {env: sandbox}}\n"
    "    - {name: infra, labels: {}}\n"
    "  pods:\n"
    "    - {name: web, namespace: shop, labels: {app: web}, node: n1,\n"
    "       ips: [10.244.1.10, 'fd00::10'], ports: [{name: http, port: 80}]}\n"
    "    - {name: db, namespace: shop, labels: {app: db}, node: n1, ips: [10.244.1.11]}\n"
    "    - {name: client, namespace: guest, labels: {app: client}, node: n2,\n"
    "       ips: [10.244.2.20, 'fd00::20']}\n"
    "    - {name: agent, namespace: infra, labels: {}, node: n2, hostNetwork: true,\n"
    "       ports: [{name: kubelet, port: 10250}]}\n";

constexpr const char* kWebOpen =
    "  - apiVersion: networking.k8s.io/v1\n"
    "    kind: NetworkPolicy\n"
    "    metadata: {name: web-open, namespace: shop}\n"
    "    spec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress], ingress: [{}]}\n";

/// An Admin CNP on the shop namespace with one ingress rule from sandbox namespaces on TCP/80.
std::string adminRule(const std::string& action) {
  return "  - apiVersion: policy.networking.k8s.io/v1alpha2\n"
         "    kind: ClusterNetworkPolicy\n"
         "    metadata: {name: guests}\n"
         "    spec:\n"
         "      tier: Admin\n"
         "      priority: 10\n"
         "      subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n"
         "      ingress:\n"
         "        - name: guests-on-http\n"
         "          action: " +
         action +
         "\n"
         "          from: [{namespaces: {matchLabels: {env: sandbox}}}]\n"
         "          protocols: [{tcp: {destinationPort: {number: 80}}}]\n";
}

constexpr const char* kBaselineDeny =
    "  - apiVersion: policy.networking.k8s.io/v1alpha2\n"
    "    kind: ClusterNetworkPolicy\n"
    "    metadata: {name: lockdown}\n"
    "    spec:\n"
    "      tier: Baseline\n"
    "      priority: 5\n"
    "      subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n"
    "      ingress: [{name: nobody, action: Deny, from: [{namespaces: {}}]}]\n";

/// `manifests` (written for `initial:`) moved right by `by` spaces, for a step's `apply:`.
std::string indented(const std::string& manifests, size_t by) {
  std::string out;
  std::string pad(by, ' ');
  size_t start = 0;
  while (start < manifests.size()) {
    size_t end = manifests.find('\n', start);
    if (end == std::string::npos) end = manifests.size() - 1;
    out += pad + manifests.substr(start, end - start + 1);
    start = end + 1;
  }
  return out;
}

ClusterCaseFile parse(const std::string& rest) {
  Result<ClusterCaseFile> c = parseClusterCaseText(std::string(kTopology) + rest, "inline.yaml");
  EXPECT_TRUE(c) << c.error().str();
  return c ? std::move(*c) : ClusterCaseFile{};
}

CaseResult run(const std::string& rest) {
  EvaluatorFlowProber prober;
  return runClusterCase(parse(rest), prober);
}

TEST(ClusterRunner, AdminDenyBeatsNetworkPolicyAllow) {
  CaseResult r = run(std::string("initial:\n") + kWebOpen + adminRule("Deny") +
                     "steps:\n"
                     "  - expect:\n"
                     "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
                     "      - {from: guest/client, to: shop/web, port: 8080, verdict: allow}\n"
                     "      - {from: shop/db, to: shop/web, port: 80, verdict: allow}\n"
                     "      - {from: guest/client, to: shop/web, port: 80, family: IPv6,\n"
                     "         verdict: deny}\n");
  EXPECT_TRUE(r.passed) << r.detail;
}

TEST(ClusterRunner, AFailingProbeSaysWhoDecided) {
  CaseResult r = run(std::string("initial:\n") + kWebOpen + adminRule("Deny") +
                     "steps:\n"
                     "  - name: wrong on purpose\n"
                     "    expect:\n"
                     "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n"
                     "      - {from: guest/client, to: shop/web, port: 8080, verdict: deny}\n");
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail,
              HasSubstr("step 1 \"wrong on purpose\": probe (line 37) guest/client -> shop/web "
                        "TCP/80 IPv4: expected allow, got deny (egress: not isolated; ingress: "
                        "denied by Admin ClusterNetworkPolicy guests rule 0 \"guests-on-http\" "
                        "(Deny))"));
  EXPECT_THAT(r.detail, HasSubstr("\n  step 1 \"wrong on purpose\": probe (line 38) "));
  EXPECT_THAT(r.detail, HasSubstr("ingress: allowed by shop/web-open rule 0"));
}

TEST(ClusterRunner, PassLandsInBaselineUnlessANetworkPolicyDecides) {
  CaseResult r = run(std::string("initial:\n") + adminRule("Pass") + kBaselineDeny +
                     "steps:\n"
                     "  - name: Pass, no NetworkPolicy, so Baseline denies\n"
                     "    expect:\n"
                     "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
                     "      - {from: guest/client, to: shop/db, port: 80, verdict: deny}\n"
                     "  - name: a NetworkPolicy overrides Baseline for web\n"
                     "    apply:\n" +
                     indented(kWebOpen, 4) +
                     "    expect:\n"
                     "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n"
                     "      - {from: guest/client, to: shop/db, port: 80, verdict: deny}\n"
                     "  - name: deleting the Baseline policy opens db\n"
                     "    delete: [{kind: ClusterNetworkPolicy, name: lockdown}]\n"
                     "    expect:\n"
                     "      - {from: guest/client, to: shop/db, port: 80, verdict: allow}\n");
  EXPECT_TRUE(r.passed) << r.detail;
}

TEST(ClusterRunner, ARejectThatIsAcceptedFailsTheStep) {
  CaseResult r =
      run("steps:\n"
          "  - reject:\n"
          "      - apiVersion: policy.networking.k8s.io/v1alpha2\n"
          "        kind: ClusterNetworkPolicy\n"
          "        metadata: {name: fine}\n"
          "        spec:\n"
          "          tier: Admin\n"
          "          priority: 1000\n"
          "          subject: {namespaces: {}}\n"
          "          ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"
          "      - apiVersion: policy.networking.k8s.io/v1alpha2\n"
          "        kind: ClusterNetworkPolicy\n"
          "        metadata: {name: too-high}\n"
          "        spec:\n"
          "          tier: Admin\n"
          "          priority: 1001\n"
          "          subject: {namespaces: {}}\n"
          "          ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"
          "    expect:\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n");
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail, HasSubstr("step 1: steps[0].reject[0] (line 19): accepted, but must be "
                                  "refused"));
  EXPECT_THAT(r.detail, Not(HasSubstr("reject[1]")));
  // The accepted reject did not become part of the state: the probe still passes.
  EXPECT_THAT(r.detail, Not(HasSubstr("probe")));
}

TEST(ClusterRunner, RejectsWhatOnlyTheApiServerWouldRefuse) {
  CaseResult r =
      run("steps:\n"
          "  - reject:\n"
          "      - {kind: NetworkPolicy, metadata: {name: p, namespace: shop}, spec: {podSelector: "
          "{}}}\n"
          "      - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
          "         metadata: {name: p, namespace: nowhere}, spec: {podSelector: {}}}\n"
          "      - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy,\n"
          "         metadata: {name: p}, spec: {podSelector: {}}}\n"
          "      - {apiVersion: policy.networking.k8s.io/v1, kind: ClusterNetworkPolicy,\n"
          "         metadata: {name: p}, spec: {}}\n"
          "      - {apiVersion: v1, kind: Namespace, metadata: {name: extra}}\n");
  EXPECT_TRUE(r.passed) << r.detail;
}

TEST(ClusterRunner, RelabelNullRemovesTheSubjectLabel) {
  CaseResult r =
      run("initial:\n"
          "  - apiVersion: policy.networking.k8s.io/v1alpha2\n"
          "    kind: ClusterNetworkPolicy\n"
          "    metadata: {name: prod-only-from-prod}\n"
          "    spec:\n"
          "      tier: Admin\n"
          "      priority: 1\n"
          "      subject:\n"
          "        pods: {namespaceSelector: {matchLabels: {env: prod}},\n"
          "               podSelector: {matchLabels: {app: web}}}\n"
          "      ingress: [{action: Deny, from: [{namespaces: {matchLabels: {env: sandbox}}}]}]\n"
          "steps:\n"
          "  - expect:\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
          "  - relabel: [{namespace: shop, labels: {env: null}}]\n"
          "    expect:\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n"
          "  - relabel: [{namespace: shop, labels: {env: prod}}, {namespace: shop, pod: web,\n"
          "              labels: {app: null, tier: front}}]\n"
          "    expect:\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n"
          "  - relabel: [{namespace: shop, pod: web, labels: {app: web}}]\n"
          "    expect:\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n");
  EXPECT_TRUE(r.passed) << r.detail;
}

TEST(ClusterRunner, NodesPeerMatchesNodesAndHostNetworkPods) {
  CaseResult r =
      run("initial:\n"
          "  - apiVersion: policy.networking.k8s.io/v1alpha2\n"
          "    kind: ClusterNetworkPolicy\n"
          "    metadata: {name: zone-b-kubelet}\n"
          "    spec:\n"
          "      tier: Admin\n"
          "      priority: 1\n"
          "      subject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n"
          "      egress:\n"
          "        - {action: Accept, to: [{nodes: {matchLabels: {zone: b}}}],\n"
          "           protocols: [{tcp: {destinationPort: {number: 10250}}}]}\n"
          "        - {action: Deny, to: [{networks: [0.0.0.0/0]}]}\n"
          "steps:\n"
          "  - expect:\n"
          "      - {from: shop/web, to: node/n2, port: 10250, verdict: allow}\n"
          "      - {from: shop/web, to: ip/198.51.100.3, port: 10250, verdict: allow}\n"
          "      - {from: shop/web, to: infra/agent, port: 10250, verdict: allow}\n"
          "      - {from: shop/web, to: node/n1, port: 10250, verdict: deny}\n"
          "      - {from: shop/web, to: infra/agent, port: 22, verdict: deny}\n"
          "      - {from: shop/web, to: guest/client, port: 80, verdict: deny}\n"
          "      - {from: shop/web, to: guest/client, port: 80, family: IPv6, verdict: allow}\n"
          "      - {from: guest/client, to: shop/web, port: 80, verdict: allow}\n");
  EXPECT_TRUE(r.passed) << r.detail;
}

TEST(ClusterRunner, ResolvesProbesToAddressesOfTheFamily) {
  ClusterCaseFile c = parse(
      "steps:\n"
      "  - expect:\n"
      "      - {from: shop/web, to: infra/agent, port: 1, family: IPv6, verdict: deny}\n"
      "      - {from: shop/web, to: node/n2, port: 1, verdict: deny}\n"
      "      - {from: shop/web, to: shop/db, port: 1, family: IPv6, verdict: deny}\n"
      "      - {from: shop/db, to: 'ip/fd00::99', port: 1, verdict: deny}\n");
  policy::ClusterState state;
  TopologyObjects(c.topology).installInto(state);
  const std::vector<Probe>& probes = c.steps.at(0).expect;

  Result<FlowProbe> to_host_pod = resolveProbe(probes[0], state);
  ASSERT_TRUE(to_host_pod) << to_host_pod.error().str();
  EXPECT_EQ(to_host_pod->src.toString(), "fd00::10");
  EXPECT_EQ(to_host_pod->dst.toString(), "fc00::3");  // its node's first IPv6 address
  EXPECT_EQ(to_host_pod->dst_pod, state.findPod("infra", "agent"));
  EXPECT_TRUE(state.pod(*to_host_pod->dst_pod).host_network);

  Result<FlowProbe> to_node = resolveProbe(probes[1], state);
  ASSERT_TRUE(to_node) << to_node.error().str();
  EXPECT_EQ(to_node->dst.toString(), "172.18.0.3");
  EXPECT_EQ(to_node->dst_pod, std::nullopt);

  Result<FlowProbe> v6_less = resolveProbe(probes[2], state);
  ASSERT_FALSE(v6_less);
  EXPECT_EQ(v6_less.error().str(), "shop/db has no IPv6 address");
  Result<FlowProbe> src_v6_less = resolveProbe(probes[3], state);
  ASSERT_FALSE(src_v6_less);
  EXPECT_EQ(src_v6_less.error().str(), "shop/db has no IPv6 address");
}

TEST(ClusterRunner, AProbeWithoutAnAddressOfItsFamilyFails) {
  CaseResult r =
      run("steps:\n"
          "  - expect:\n"
          "      - {from: shop/web, to: shop/db, port: 80, family: IPv6, verdict: allow}\n"
          "      - {from: shop/web, to: shop/db, port: 80, verdict: allow}\n");
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.detail,
            "step 1: probe (line 19) shop/web -> shop/db TCP/80 IPv6: shop/db has no IPv6 "
            "address");
}

TEST(ClusterRunner, AnInvalidObjectEndsTheCaseWithTheReadersMessage) {
  CaseResult r =
      run("steps:\n"
          "  - apply:\n"
          "      - apiVersion: networking.k8s.io/v1\n"
          "        kind: NetworkPolicy\n"
          "        metadata: {name: bad-port, namespace: shop}\n"
          "        spec: {podSelector: {}, ingress: [{ports: [{port: 70000}]}]}\n"
          "  - delete: [{kind: NetworkPolicy, namespace: shop, name: never-reached}]\n");
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail, HasSubstr("step 1: steps[0].apply[0] (line 19): refused: NetworkPolicy "
                                  "shop/bad-port: spec.ingress[0].ports[0].port: "));
  EXPECT_THAT(r.detail, HasSubstr("70000"));
  EXPECT_THAT(r.detail, Not(HasSubstr("step 2")));
}

TEST(ClusterRunner, AnInvalidInitialObjectFailsTheCase) {
  CaseResult r =
      run("initial:\n"
          "  - {apiVersion: policy.networking.k8s.io/v1alpha1, kind: BaselineAdminNetworkPolicy,\n"
          "     metadata: {name: not-default}, spec: {subject: {namespaces: {}}}}\n"
          "steps: [{}]\n");
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail, HasSubstr("initial[0] (line 18): refused: BaselineAdminNetworkPolicy "
                                  "not-default: metadata.name: "));
}

TEST(ClusterRunner, DeletingWhatDoesNotExistFails) {
  CaseResult r = run(std::string("initial:\n") + adminRule("Deny") +
                     "steps:\n"
                     "  - delete: [{kind: AdminNetworkPolicy, name: guests}]\n");
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.detail,
              HasSubstr("step 1: steps[0].delete[0] (line 31): no AdminNetworkPolicy guests"));
}

/// Says "allowed" to everything: the runner must grade, not trust.
class AllowAll : public FlowProber {
 public:
  FlowProbeReport probe(const policy::ClusterState&,
                        const std::vector<FlowProbe>& probes) override {
    FlowProbeReport report;
    report.outcomes.assign(probes.size(), FlowOutcome{true, "", "", {}, ""});
    return report;
  }
};

/// Cannot probe at all.
class CannotProbe : public FlowProber {
 public:
  FlowProbeReport probe(const policy::ClusterState&, const std::vector<FlowProbe>&) override {
    FlowProbeReport report;
    report.skipped = "no SCTP here";
    return report;
  }
};

TEST(ClusterRunner, GradesAnyProber) {
  ClusterCaseFile c =
      parse(std::string("initial:\n") + adminRule("Deny") +
            "steps:\n"
            "  - expect:\n"
            "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
            "      - {from: guest/client, to: shop/web, port: 81, verdict: allow}\n");
  AllowAll allow_all;
  CaseResult r = runClusterCase(c, allow_all);
  EXPECT_FALSE(r.passed);
  // No explanation from a prober that has none.
  EXPECT_EQ(r.detail,
            "step 1: probe (line 32) guest/client -> shop/web TCP/80 IPv4: expected deny, got "
            "allow");
  CannotProbe cannot;
  r = runClusterCase(c, cannot);
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(r.detail, "step 1: no SCTP here");
}

/// Allows everything, but cannot send port 80 (as a kernel without SCTP cannot
/// send SCTP): those flows are not probed, the rest are graded.
class NotPort80 : public FlowProber {
 public:
  FlowProbeReport probe(const policy::ClusterState&,
                        const std::vector<FlowProbe>& probes) override {
    FlowProbeReport report;
    for (const FlowProbe& p : probes)
      report.outcomes.push_back(FlowOutcome{true, "", "", {}, p.port == 80 ? "no port 80" : ""});
    return report;
  }
};

TEST(ClusterRunner, FlowsNotProbedAreCountedNotGraded) {
  ClusterCaseFile c =
      parse(std::string("initial:\n") + adminRule("Deny") +
            "steps:\n"
            "  - expect:\n"
            "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
            "      - {from: guest/client, to: shop/web, port: 81, verdict: allow}\n");
  NotPort80 prober;
  CaseResult r = runClusterCase(c, prober);
  EXPECT_TRUE(r.passed) << r.detail;
  EXPECT_EQ(r.not_probed, "1 probes not probed: no port 80");
}

/// Fails the first step, cannot probe the second: the failure must stand.
class WrongThenCannot : public FlowProber {
 public:
  FlowProbeReport probe(const policy::ClusterState&,
                        const std::vector<FlowProbe>& probes) override {
    FlowProbeReport report;
    if (calls_++ == 0)
      report.outcomes.assign(probes.size(), FlowOutcome{true, "", "", {}, ""});
    else
      report.skipped = "no SCTP here";
    return report;
  }

 private:
  int calls_ = 0;
};

TEST(ClusterRunner, ASkippedStepDoesNotHideEarlierFailures) {
  ClusterCaseFile c =
      parse(std::string("initial:\n") + adminRule("Deny") +
            "steps:\n"
            "  - expect:\n"
            "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n"
            "  - expect:\n"
            "      - {from: guest/client, to: shop/web, port: 80, verdict: deny}\n");
  WrongThenCannot prober;
  CaseResult r = runClusterCase(c, prober);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.skipped);
  EXPECT_THAT(r.detail, HasSubstr("expected deny, got allow"));
  EXPECT_THAT(r.detail, HasSubstr("step 2: not probed: no SCTP here"));
}

}  // namespace
}  // namespace palisade::agent::conformance
