// Cluster-netpol case files: the format's defaults, the values it carries,
// and errors that say which file, which field, which line and why.
#include "agent/conformance/cluster_case_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::agent::conformance {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Line 1: "topology:"; pods x/a (line 9), y/b (line 11), the host-network y/h (line 12).
constexpr const char* kTopology =
    "topology:\n"
    "  nodes:\n"
    "    - {name: n1, labels: {zone: a}, addresses: [172.18.0.2, 'fc00::2']}\n"
    "    - {name: n2, labels: {zone: b}, addresses: [172.18.0.3, 198.51.100.3]}\n"
    "  namespaces:\n"
    "    - {name: x, labels: {team: red}}\n"
    "    - {name: y, labels: {kubernetes.io/metadata.name: y}}\n"
    "  pods:\n"
    "    - {name: a, namespace: x, labels: {app: web}, node: n1, ips: [10.0.1.1, 'fd00::1'],\n"
    "       ports: [{name: http, port: 80}, {port: 53, protocol: UDP}]}\n"
    "    - {name: b, namespace: y, labels: {}, node: n1, ips: [10.0.2.1]}\n"
    "    - {name: h, namespace: y, labels: {}, node: n2, hostNetwork: true}\n";

/// A case of kTopology plus `rest` (which starts at line 13).
std::string caseText(const std::string& rest) { return std::string(kTopology) + rest; }

std::string errorOf(const std::string& text) {
  Result<ClusterCaseFile> c = parseClusterCaseText(text, "cases/c.yaml");
  EXPECT_FALSE(c) << "parsed: " << text;
  return c ? std::string() : c.error().str();
}

/// The error of a case whose only step probes `probe`.
std::string probeError(const std::string& probe) {
  return errorOf(caseText("steps:\n  - expect:\n      - " + probe + "\n"));
}

TEST(ClusterCaseFile, ReadsTopologyWithDefaults) {
  Result<ClusterCaseFile> c =
      parseClusterCaseText(caseText("name: t\nfeatures: [Anything]\nsteps: [{}]\n"), "c.yaml");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->path, "c.yaml");
  EXPECT_EQ(c->name, "t");
  const Topology& t = c->topology;
  ASSERT_EQ(t.nodes.size(), 2u);
  ASSERT_EQ(t.nodes[1].addresses.size(), 2u);
  EXPECT_EQ(t.nodes[1].addresses[1].toString(), "198.51.100.3");
  EXPECT_EQ(t.nodes[0].labels.at("zone"), "a");
  // The implied label is not carried; writing it as it is is allowed.
  EXPECT_TRUE(t.namespaces[1].labels.empty());
  const TopologyPod* a = t.findPod("x", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->host_network);
  ASSERT_EQ(a->ips.size(), 2u);
  EXPECT_EQ(a->ips[1].family(), policy::Family::V6);
  ASSERT_EQ(a->ports.size(), 2u);
  EXPECT_EQ(a->ports[0].name, "http");
  EXPECT_EQ(a->ports[0].protocol, policy::Protocol::TCP);  // default
  EXPECT_EQ(a->ports[1].name, "");
  EXPECT_EQ(a->ports[1].protocol, policy::Protocol::UDP);
  const TopologyPod* h = t.findPod("y", "h");
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(h->host_network);
  EXPECT_TRUE(h->ips.empty());
  ASSERT_EQ(c->steps.size(), 1u);
  EXPECT_TRUE(c->steps[0].expect.empty());
}

TEST(ClusterCaseFile, ProbesDefaultToTcpAndIpv4) {
  Result<ClusterCaseFile> c = parseClusterCaseText(
      caseText("steps:\n"
               "  - name: probes\n"
               "    expect:\n"
               "      - {from: x/a, to: y/b, port: 80, verdict: allow}\n"
               "      - {from: x/a, to: node/n2, protocol: UDP, port: 53, verdict: deny}\n"
               "      - {from: x/a, to: 'ip/fd00::9', protocol: SCTP, port: 9, verdict: deny}\n"
               "      - {from: x/a, to: y/h, port: 80, family: IPv6, verdict: allow}\n"),
      "c.yaml");
  ASSERT_TRUE(c) << c.error().str();
  const std::vector<Probe>& p = c->steps[0].expect;
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(c->steps[0].name, "probes");
  EXPECT_EQ(p[0].protocol, policy::Protocol::TCP);
  EXPECT_EQ(p[0].family, policy::Family::V4);
  EXPECT_TRUE(p[0].allowed);
  EXPECT_EQ(p[0].to.kind, ProbeTarget::Kind::Pod);
  EXPECT_EQ(p[0].line, 16);
  EXPECT_EQ(p[0].describe(), "x/a -> y/b TCP/80 IPv4");
  EXPECT_EQ(p[1].to.kind, ProbeTarget::Kind::Node);
  EXPECT_EQ(p[1].to.name, "n2");
  EXPECT_FALSE(p[1].allowed);
  // ip/ADDRESS: the address's family, without saying so.
  EXPECT_EQ(p[2].to.kind, ProbeTarget::Kind::Address);
  EXPECT_EQ(p[2].family, policy::Family::V6);
  EXPECT_EQ(p[2].describe(), "x/a -> ip/fd00::9 SCTP/9 IPv6");
  EXPECT_EQ(p[3].family, policy::Family::V6);
}

TEST(ClusterCaseFile, RelabelNullRemovesAKey) {
  Result<ClusterCaseFile> c = parseClusterCaseText(
      caseText("steps:\n"
               "  - relabel:\n"
               "      - {namespace: x, labels: {team: blue, old: null, gone: ~}}\n"
               "      - {namespace: x, pod: a, labels: {app: api}}\n"),
      "c.yaml");
  ASSERT_TRUE(c) << c.error().str();
  const std::vector<Relabel>& r = c->steps[0].relabel;
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].pod, "");
  EXPECT_EQ(r[0].labels.at("team"), "blue");
  EXPECT_EQ(r[0].labels.at("old"), std::nullopt);
  EXPECT_EQ(r[0].labels.at("gone"), std::nullopt);
  EXPECT_EQ(r[1].pod, "a");
  EXPECT_EQ(r[1].labels.at("app"), "api");
}

TEST(ClusterCaseFile, ManifestsStayTextWithWhereTheyAre) {
  Result<ClusterCaseFile> c = parseClusterCaseText(
      caseText("initial:\n"
               "  - apiVersion: networking.k8s.io/v1\n"
               "    kind: NetworkPolicy\n"
               "    metadata: {name: deny, namespace: x}\n"
               "    spec: {podSelector: {}}\n"
               "steps:\n"
               "  - delete: [{kind: NetworkPolicy, namespace: x, name: deny}]\n"
               "    reject:\n"
               "      - {kind: ClusterNetworkPolicy, metadata: {name: p}}\n"),
      "c.yaml");
  ASSERT_TRUE(c) << c.error().str();
  ASSERT_EQ(c->initial.size(), 1u);
  const CaseManifest& np = c->initial[0];
  EXPECT_EQ(np.field, "initial[0]");
  EXPECT_EQ(np.line, 14);
  EXPECT_THAT(np.text, HasSubstr("kind: NetworkPolicy"));
  EXPECT_TRUE(np.has_api_version);
  EXPECT_EQ(np.metadata_namespace, "x");
  const ClusterCaseStep& step = c->steps[0];
  ASSERT_EQ(step.remove.size(), 1u);
  EXPECT_EQ(step.remove[0].kind, "NetworkPolicy");
  EXPECT_EQ(step.remove[0].namespace_, "x");
  ASSERT_EQ(step.reject.size(), 1u);
  EXPECT_EQ(step.reject[0].field, "steps[0].reject[0]");
  EXPECT_FALSE(step.reject[0].has_api_version);
  EXPECT_EQ(step.reject[0].metadata_namespace, std::nullopt);
}

TEST(ClusterCaseFileErrors, WrongTypeNamesFileFieldAndLine) {
  std::string e = probeError("{from: x/a, to: y/b, port: eighty, verdict: allow}");
  EXPECT_THAT(e, StartsWith("cases/c.yaml: steps[0].expect[0].port (line 15): "));
  EXPECT_THAT(e, HasSubstr("expected a 32-bit integer, got \"eighty\""));
  EXPECT_THAT(probeError("{from: x/a, to: y/b, port: 0, verdict: allow}"),
              HasSubstr("steps[0].expect[0].port (line 15): port 0 is outside 1..65535"));
  EXPECT_THAT(probeError("{from: x/a, to: y/b, port: 80, verdict: maybe}"),
              HasSubstr("steps[0].expect[0].verdict (line 15): must be allow or deny"));
  EXPECT_THAT(probeError("{from: x/a, to: y/b, port: 80, protocol: ICMP, verdict: deny}"),
              HasSubstr("steps[0].expect[0].protocol (line 15): unknown protocol \"ICMP\""));
  EXPECT_THAT(probeError("{from: x/a, to: y/b, port: 80, family: IPv5, verdict: deny}"),
              HasSubstr("steps[0].expect[0].family (line 15): must be IPv4 or IPv6"));
  EXPECT_THAT(probeError("{from: x/a, to: y/b, verdict: deny}"),
              HasSubstr("steps[0].expect[0].port: missing"));
}

TEST(ClusterCaseFileErrors, ProbeNamesMustBeInTheTopology) {
  EXPECT_THAT(probeError("{from: x/zz, to: y/b, port: 80, verdict: deny}"),
              HasSubstr("steps[0].expect[0].from (line 15): no pod \"x/zz\""));
  EXPECT_THAT(probeError("{from: y/h, to: y/b, port: 80, verdict: deny}"),
              HasSubstr("y/h is host-network"));
  EXPECT_THAT(probeError("{from: x/a, to: node/n9, port: 80, verdict: deny}"),
              HasSubstr("steps[0].expect[0].to (line 15): no node \"n9\""));
  EXPECT_THAT(probeError("{from: x/a, to: b, port: 80, verdict: deny}"),
              HasSubstr("expected namespace/pod, node/NAME or ip/ADDRESS, got \"b\""));
  EXPECT_THAT(probeError("{from: x/a, to: ip/10.0.2.1, port: 80, verdict: deny}"),
              HasSubstr("10.0.2.1 is the Pod IP of y/b: name the pod"));
  EXPECT_THAT(probeError("{from: x/a, to: ip/10.0.0.300, port: 80, verdict: deny}"),
              HasSubstr("not an IP address: \"10.0.0.300\""));
  EXPECT_THAT(probeError("{from: x/a, to: ip/10.0.0.9, port: 80, family: IPv6, verdict: deny}"),
              HasSubstr("steps[0].expect[0].family (line 15): is not the family of 10.0.0.9"));
}

TEST(ClusterCaseFileErrors, UnknownFieldsOutsideTheTopLevel) {
  EXPECT_THAT(probeError("{from: x/a, to: y/b, port: 80, familly: IPv6, verdict: deny}"),
              HasSubstr("steps[0].expect[0].familly (line 15): unknown field"));
  EXPECT_THAT(errorOf(caseText("steps: [{expects: []}]\n")),
              HasSubstr("steps[0].expects (line 13): unknown field"));
}

TEST(ClusterCaseFileErrors, PodsNeedTheirAddresses) {
  // Not host-network and no ips: there is nothing to probe.
  EXPECT_THAT(errorOf("topology:\n"
                      "  nodes: [{name: n1, addresses: [172.18.0.2]}]\n"
                      "  namespaces: [{name: x}]\n"
                      "  pods:\n"
                      "    - {name: a, namespace: x, node: n1}\n"
                      "steps: [{}]\n"),
              HasSubstr("topology.pods[0].ips (line 5): missing: a pod that is not host-network "
                        "needs its IPs"));
  EXPECT_THAT(
      errorOf("topology:\n"
              "  nodes: [{name: n1, addresses: [172.18.0.2]}]\n"
              "  namespaces: [{name: x}]\n"
              "  pods:\n"
              "    - {name: a, namespace: x, node: n1, hostNetwork: true, ips: [10.0.0.1]}\n"
              "steps: [{}]\n"),
      HasSubstr("topology.pods[0].ips (line 5): a host-network pod has no ips"));
  EXPECT_THAT(errorOf("topology:\n"
                      "  nodes: [{name: n1, addresses: [172.18.0.2]}]\n"
                      "  namespaces: [{name: x}]\n"
                      "  pods:\n"
                      "    - {name: a, namespace: x, node: n1, ips: [10.0.0.1, 10.0.0.2]}\n"
                      "steps: [{}]\n"),
              HasSubstr("more than one address of a family"));
  EXPECT_THAT(errorOf("topology:\n"
                      "  nodes: [{name: n1, addresses: [172.18.0.2]}]\n"
                      "  namespaces: [{name: x}]\n"
                      "  pods:\n"
                      "    - {name: a, namespace: x, node: n1, ips: [172.18.0.2]}\n"
                      "steps: [{}]\n"),
              HasSubstr("172.18.0.2 is already a node's or another pod's address"));
  EXPECT_THAT(errorOf("topology:\n"
                      "  nodes: [{name: n1, addresses: [172.18.0.2]}]\n"
                      "  namespaces: [{name: x}]\n"
                      "  pods:\n"
                      "    - {name: a, namespace: x, node: n2, ips: [10.0.0.1]}\n"
                      "steps: [{}]\n"),
              HasSubstr("topology.pods[0].node (line 5): no node \"n2\""));
}

TEST(ClusterCaseFileErrors, NamespacesKeepTheirNameLabel) {
  EXPECT_THAT(errorOf("topology:\n"
                      "  namespaces: [{name: x, labels: {kubernetes.io/metadata.name: y}}]\n"
                      "steps: [{}]\n"),
              HasSubstr("must equal the namespace's name \"x\""));
  EXPECT_THAT(errorOf("topology:\n  namespaces: [{name: ip}]\nsteps: [{}]\n"),
              HasSubstr("\"ip\" is reserved for probes"));
  EXPECT_THAT(
      errorOf(caseText(
          "steps: [{relabel: [{namespace: x, labels: {kubernetes.io/metadata.name: null}}]}]\n")),
      HasSubstr("cannot be changed or removed"));
  EXPECT_THAT(errorOf(caseText("steps: [{relabel: [{namespace: x, pod: q, labels: {}}]}]\n")),
              HasSubstr("steps[0].relabel[0].pod (line 13): no pod \"x/q\""));
}

TEST(ClusterCaseFileErrors, DeleteNamesAPolicyKindAndItsScope) {
  EXPECT_THAT(errorOf(caseText("steps: [{delete: [{kind: Pod, namespace: x, name: a}]}]\n")),
              HasSubstr("steps[0].delete[0].kind (line 13): not a policy kind: \"Pod\""));
  EXPECT_THAT(errorOf(caseText("steps: [{delete: [{kind: NetworkPolicy, name: p}]}]\n")),
              HasSubstr("steps[0].delete[0].namespace: missing"));
  EXPECT_THAT(
      errorOf(caseText("steps: [{delete: [{kind: AdminNetworkPolicy, namespace: x, name: p}]}]\n")),
      HasSubstr("AdminNetworkPolicy is cluster-scoped: no namespace"));
}

TEST(ClusterCaseFileErrors, MissingPartsAndShapes) {
  EXPECT_EQ(errorOf("steps: [{}]\n"), "cases/c.yaml: topology: missing");
  EXPECT_EQ(errorOf(kTopology), "cases/c.yaml: no steps");
  EXPECT_EQ(errorOf("- a\n"), "cases/c.yaml: not a mapping");
  EXPECT_THAT(errorOf(caseText("initial: [3]\nsteps: [{}]\n")),
              HasSubstr("initial[0] (line 13): expected a manifest (a mapping)"));
  EXPECT_THAT(errorOf(caseText("steps: {a: b}\n")), HasSubstr("steps (line 13): expected a list"));
  EXPECT_THAT(errorOf("topology: {nodes: [{name: n1, addresses: [300.1.1.1]}]}\nsteps: [{}]\n"),
              HasSubstr("topology.nodes[0].addresses[0] (line 1): not an IP address"));
  EXPECT_THAT(errorOf("topology: {namespaces: [{name: x}, {name: x}]}\nsteps: [{}]\n"),
              HasSubstr("topology.namespaces[1] (line 1): duplicate namespace \"x\""));
}

TEST(ClusterCaseFileErrors, SyntaxErrorCarriesYamlCppPosition) {
  EXPECT_THAT(errorOf("topology: {nodes: [x\n"),
              StartsWith("cases/c.yaml: yaml-cpp: error at line "));
}

TEST(ClusterCaseFileErrors, UnreadableFileCarriesErrno) {
  Result<ClusterCaseFile> c = loadClusterCaseFile("/nonexistent/case.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ENOENT);
}

TEST(ClusterCaseFile, ReadsTheFormatsOwnExample) {
  Result<ClusterCaseFile> c =
      loadClusterCaseFile(std::string(PALISADE_SOURCE_DIR) +
                          "/tests/conformance/cluster-netpol/example-03-nodes-peer.yaml");
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->topology.nodes.size(), 2u);
  EXPECT_TRUE(c->topology.findPod("infra", "agent")->host_network);
  ASSERT_EQ(c->steps.size(), 2u);
  EXPECT_EQ(c->steps[0].expect.size(), 10u);
  EXPECT_EQ(c->steps[1].relabel.at(0).labels.at("egress"), std::nullopt);
}

}  // namespace
}  // namespace palisade::agent::conformance
