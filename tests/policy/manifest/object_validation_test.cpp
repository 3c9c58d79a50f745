// Validation of names, metadata and the non-policy kinds.
#include <gtest/gtest.h>

#include "tests/policy/manifest/manifest_test_util.h"

namespace palisade::policy {
namespace {

using testing::formatted;
using testing::readYaml;
using Strings = std::vector<std::string>;

Strings errorsOf(std::string_view text) { return formatted(readYaml(text).errors); }

TEST(ObjectValidation, MissingName) {
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata:\n  namespace: x\n"),
            Strings{"pol.yaml:3: Pod: metadata.name: required value"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata:\n  name: \"\"\n"),
            Strings{"pol.yaml:3: Pod: metadata.name: required value"});
  EXPECT_EQ(errorsOf("kind: Namespace\nspec: {}\n"),
            Strings{"pol.yaml:1: Namespace: metadata.name: required value"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: [a]\n"),
            Strings{"pol.yaml:2: Pod: metadata: expected a mapping, got a list"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata:\n  name: 5\n"),
            Strings{"pol.yaml:3: Pod: metadata.name: expected a string, got an integer"});
}

TEST(ObjectValidation, InvalidNames) {
  EXPECT_EQ(errorsOf("kind: Namespace\nmetadata: {name: a.b}\n"),
            Strings{"pol.yaml:2: Namespace a.b: metadata.name: invalid name \"a.b\": must be a "
                    "DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
                    "ending with a letter or digit)"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: Web_1, namespace: x}\n"),
            Strings{"pol.yaml:2: Pod x/Web_1: metadata.name: invalid name \"Web_1\": must be a "
                    "DNS-1123 subdomain (at most 253 lowercase letters, digits, '-' or '.', "
                    "starting and ending with a letter or digit)"});
  EXPECT_EQ(errorsOf("kind: Service\nmetadata: {name: 1web, namespace: x}\n"),
            Strings{"pol.yaml:2: Service x/1web: metadata.name: invalid name \"1web\": must be a "
                    "DNS-1035 label (at most 63 lowercase letters, digits or '-', starting with a "
                    "letter and ending with a letter or digit)"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: web, namespace: Prod}\n"),
            Strings{"pol.yaml:2: Pod Prod/web: metadata.namespace: invalid name \"Prod\": must be "
                    "a DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
                    "ending with a letter or digit)"});
  EXPECT_TRUE(errorsOf("kind: Pod\nmetadata: {name: web-1.a.b, namespace: x}\n").empty());
  EXPECT_TRUE(errorsOf("kind: Node\nmetadata: {name: ip-10-0-0-1.ec2.internal}\n").empty());
}

TEST(ObjectValidation, InvalidPodIps) {
  EXPECT_EQ(errorsOf(R"(kind: Pod
metadata: {name: web, namespace: x}
status:
  podIP: 10.0.0.300
  podIPs:
  - ip: 10.0.0.5
  - ip: nope
  - {}
)"),
            (Strings{
                "pol.yaml:7: Pod x/web: status.podIPs[1].ip: invalid IP address \"nope\"",
                "pol.yaml:8: Pod x/web: status.podIPs[2].ip: required value",
                "pol.yaml:4: Pod x/web: status.podIP: invalid IP address \"10.0.0.300\"",
            }));
}

TEST(ObjectValidation, ContainerPorts) {
  EXPECT_EQ(errorsOf(R"(kind: Pod
metadata: {name: web, namespace: x}
spec:
  containers:
  - name: app
    ports:
    - {name: HTTP, containerPort: 80}
    - {containerPort: 0}
    - {name: dns}
    - {containerPort: 53, protocol: ICMP}
)"),
            (Strings{
                "pol.yaml:7: Pod x/web: spec.containers[0].ports[0].name: invalid named port "
                "\"HTTP\": must be an IANA_SVC_NAME (at most 15 lowercase letters, digits or '-', "
                "with at least one letter, no leading, trailing or double '-')",
                "pol.yaml:8: Pod x/web: spec.containers[0].ports[1].containerPort: invalid port 0: "
                "must be between 1 and 65535",
                "pol.yaml:9: Pod x/web: spec.containers[0].ports[2].containerPort: required value",
                "pol.yaml:10: Pod x/web: spec.containers[0].ports[3].protocol: unsupported "
                "protocol \"ICMP\": must be TCP, UDP or SCTP",
            }));
}

TEST(ObjectValidation, Service) {
  EXPECT_EQ(errorsOf(R"(kind: Service
metadata: {name: web, namespace: x}
spec:
  type: Magic
  clusterIP: 10.96.0.300
  selector: {"a b": c}
  ports:
  - {port: 0}
  - {port: 80, targetPort: Web}
  - {port: 80, targetPort: 70000}
  - {port: 80, targetPort: 0}
)"),
            (Strings{
                "pol.yaml:4: Service x/web: spec.type: invalid service type \"Magic\": must be "
                "ClusterIP, NodePort, LoadBalancer or ExternalName",
                "pol.yaml:6: Service x/web: spec.selector: invalid label key \"a b\": name part "
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character",
                "pol.yaml:5: Service x/web: spec.clusterIP: invalid IP address \"10.96.0.300\"",
                "pol.yaml:8: Service x/web: spec.ports[0].port: invalid port 0: must be between 1 "
                "and 65535",
                "pol.yaml:9: Service x/web: spec.ports[1].targetPort: invalid named port \"Web\": "
                "must be an IANA_SVC_NAME (at most 15 lowercase letters, digits or '-', with at "
                "least one letter, no leading, trailing or double '-')",
                "pol.yaml:10: Service x/web: spec.ports[2].targetPort: invalid port 70000: must "
                "be between 1 and 65535",
            }));
}

TEST(ObjectValidation, EndpointSlice) {
  EXPECT_EQ(errorsOf(R"(kind: EndpointSlice
apiVersion: discovery.k8s.io/v1
metadata: {name: web-1, namespace: x}
addressType: IPv4
endpoints:
- addresses: ["fd00::1", bogus]
  conditions: {ready: "yes"}
ports:
- {port: 70000}
)"),
            (Strings{
                "pol.yaml:6: EndpointSlice x/web-1: endpoints[0].addresses[0]: address "
                "\"fd00::1\" does not match addressType IPv4",
                "pol.yaml:6: EndpointSlice x/web-1: endpoints[0].addresses[1]: invalid IP address "
                "\"bogus\"",
                "pol.yaml:7: EndpointSlice x/web-1: endpoints[0].conditions.ready: expected a "
                "boolean, got a string",
                "pol.yaml:9: EndpointSlice x/web-1: ports[0].port: invalid port 70000: must be "
                "between 1 and 65535",
            }));
  EXPECT_EQ(errorsOf("kind: EndpointSlice\nmetadata: {name: s}\n"),
            Strings{"pol.yaml:1: EndpointSlice default/s: addressType: required value"});
  EXPECT_EQ(errorsOf("kind: EndpointSlice\nmetadata: {name: s}\naddressType: IPX\n"),
            Strings{"pol.yaml:3: EndpointSlice default/s: addressType: invalid addressType "
                    "\"IPX\": must be IPv4, IPv6 or FQDN"});
  // FQDN slices carry names, which are not addresses to enforce on.
  ManifestSet fqdn = readYaml(
      "kind: EndpointSlice\nmetadata: {name: s}\naddressType: FQDN\n"
      "endpoints: [{addresses: [db.example.com]}]\n");
  EXPECT_TRUE(fqdn.errors.empty());
  EXPECT_TRUE(fqdn.endpoint_slices.at(0).endpoints.at(0).addresses.empty());
}

TEST(ObjectValidation, Node) {
  EXPECT_EQ(errorsOf("kind: Node\nmetadata: {name: n1}\nspec:\n  podCIDRs: [10.244.0.0/33]\n"),
            Strings{"pol.yaml:4: Node n1: spec.podCIDRs[0]: invalid CIDR \"10.244.0.0/33\""});
}

TEST(ObjectValidation, YamlTypesFollowTheApiServer) {
  // A quoted number is a string; an unquoted one is an integer.
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: a, labels: {v: \"1\"}}\n"), Strings{});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: a}\nspec: {hostNetwork: \"true\"}\n"),
            Strings{"pol.yaml:3: Pod default/a: spec.hostNetwork: expected a boolean, got a "
                    "string"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
                     "  - ports: [{containerPort: 80.5}]\n"),
            Strings{"pol.yaml:5: Pod default/a: spec.containers[0].ports[0].containerPort: "
                    "expected an integer, got a number"});
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n"
                     "  - ports: [{containerPort: 99999999999999999999}]\n"),
            Strings{"pol.yaml:5: Pod default/a: spec.containers[0].ports[0].containerPort: "
                    "expected an integer, got a number"});
  // Null fields read as absent, as in the API's JSON decoding.
  EXPECT_EQ(errorsOf("kind: Pod\nmetadata: {name: a, labels: ~}\nspec:\nstatus: null\n"),
            Strings{});
}

}  // namespace
}  // namespace palisade::policy
