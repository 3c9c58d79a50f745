// NetworkPolicy validation: each rule with its exact message, field path and line.
#include <gtest/gtest.h>

#include "tests/policy/manifest/manifest_test_util.h"

namespace palisade::policy {
namespace {

using testing::policyErrors;
using testing::policyWithSpec;
using testing::readYaml;
using Strings = std::vector<std::string>;

constexpr const char* kLabelNameRule =
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character";
constexpr const char* kLabelValueRule =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr const char* kSvcNameRule =
    ": must be an IANA_SVC_NAME (at most 15 lowercase letters, digits or '-', with at least one "
    "letter, no leading, trailing or double '-')";

TEST(PolicyValidation, InvalidCidrIsReportedAtItsLine) {
  const char* text = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: x
spec:
  podSelector: {}
  ingress:
  - from:
    - podSelector: {}
    - ipBlock:
        cidr: 10.0.0.0/33
)";
  ManifestSet set = readYaml(text);
  EXPECT_TRUE(set.policies.empty());
  EXPECT_EQ(testing::formatted(set.errors),
            Strings{"pol.yaml:12: NetworkPolicy x/deny-all: spec.ingress[0].from[1].ipBlock.cidr: "
                    "invalid CIDR \"10.0.0.0/33\""});
}

TEST(PolicyValidation, ExceptMustBeStrictlyInsideCidr) {
  EXPECT_EQ(policyErrors(R"(  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/16
        except:
        - 10.0.0.0/16
        - 10.1.0.0/24
        - 10.0.1.0/24
        - fd00::/64
        - bogus
)"),
            (Strings{
                "pol.yaml:12: NetworkPolicy x/p: spec.egress[0].to[0].ipBlock.except[0]: "
                "\"10.0.0.0/16\" is not strictly inside cidr \"10.0.0.0/16\"",
                "pol.yaml:13: NetworkPolicy x/p: spec.egress[0].to[0].ipBlock.except[1]: "
                "\"10.1.0.0/24\" is not strictly inside cidr \"10.0.0.0/16\"",
                "pol.yaml:15: NetworkPolicy x/p: spec.egress[0].to[0].ipBlock.except[3]: "
                "\"fd00::/64\" is not strictly inside cidr \"10.0.0.0/16\"",
                "pol.yaml:16: NetworkPolicy x/p: spec.egress[0].to[0].ipBlock.except[4]: "
                "invalid CIDR \"bogus\"",
            }));
}

TEST(PolicyValidation, IpBlockCidrRequired) {
  EXPECT_EQ(policyErrors("  ingress:\n  - from:\n    - ipBlock:\n        except: [10.0.0.0/8]\n"),
            Strings{"pol.yaml:10: NetworkPolicy x/p: spec.ingress[0].from[0].ipBlock.cidr: "
                    "required value"});
}

TEST(PolicyValidation, IpBlockHostBitsAreMasked) {
  ManifestSet set = readYaml(policyWithSpec(R"(  ingress:
  - from:
    - ipBlock:
        cidr: 10.1.2.3/8
        except: [10.1.2.3/16]
)"));
  ASSERT_TRUE(set.errors.empty()) << testing::formatted(set.errors)[0];
  ASSERT_EQ(set.policies.size(), 1u);
  const IpBlock& block = *set.policies[0].ingress[0].peers[0].ip_block;
  EXPECT_EQ(block.cidr.toString(), "10.0.0.0/8");
  ASSERT_EQ(block.except.size(), 1u);
  EXPECT_EQ(block.except[0].toString(), "10.1.0.0/16");
}

TEST(PolicyValidation, PortOutOfRange) {
  EXPECT_EQ(policyErrors(R"(  ingress:
  - ports:
    - port: 70000
    - port: 0
    - port: -1
)"),
            (Strings{
                "pol.yaml:9: NetworkPolicy x/p: spec.ingress[0].ports[0].port: invalid port 70000: "
                "must be between 1 and 65535",
                "pol.yaml:10: NetworkPolicy x/p: spec.ingress[0].ports[1].port: invalid port 0: "
                "must be between 1 and 65535",
                "pol.yaml:11: NetworkPolicy x/p: spec.ingress[0].ports[2].port: invalid port -1: "
                "must be between 1 and 65535",
            }));
}

TEST(PolicyValidation, EndPortRules) {
  EXPECT_EQ(policyErrors(R"(  egress:
  - ports:
    - port: http
      endPort: 90
    - port: 100
      endPort: 90
    - endPort: 90
    - port: 80
      endPort: 65536
)"),
            (Strings{
                "pol.yaml:10: NetworkPolicy x/p: spec.egress[0].ports[0].endPort: endPort requires "
                "a numeric port, not the named port \"http\"",
                "pol.yaml:12: NetworkPolicy x/p: spec.egress[0].ports[1].endPort: endPort 90 must "
                "not be less than port 100",
                "pol.yaml:13: NetworkPolicy x/p: spec.egress[0].ports[2].endPort: endPort requires "
                "port",
                "pol.yaml:15: NetworkPolicy x/p: spec.egress[0].ports[3].endPort: invalid port "
                "65536: must be between 1 and 65535",
            }));
}

TEST(PolicyValidation, EndPortRangeAccepted) {
  ManifestSet set = readYaml(policyWithSpec(R"(  egress:
  - ports:
    - port: 80
      endPort: 80
    - port: 1000
      endPort: 2000
      protocol: UDP
)"));
  ASSERT_TRUE(set.errors.empty());
  const auto& ports = set.policies.at(0).egress.at(0).ports;
  ASSERT_EQ(ports.size(), 2u);
  EXPECT_EQ(ports[0].port->number(), 80);
  EXPECT_EQ(*ports[0].end_port, 80);
  EXPECT_EQ(ports[1].protocol, Protocol::UDP);
  EXPECT_EQ(*ports[1].end_port, 2000);
}

TEST(PolicyValidation, UnknownProtocol) {
  EXPECT_EQ(policyErrors("  ingress:\n  - ports:\n    - protocol: ICMP\n    - protocol: tcp\n"),
            (Strings{
                "pol.yaml:9: NetworkPolicy x/p: spec.ingress[0].ports[0].protocol: unsupported "
                "protocol \"ICMP\": must be TCP, UDP or SCTP",
                "pol.yaml:10: NetworkPolicy x/p: spec.ingress[0].ports[1].protocol: unsupported "
                "protocol \"tcp\": must be TCP, UDP or SCTP",
            }));
}

TEST(PolicyValidation, NamedPortMustBeIanaSvcName) {
  EXPECT_EQ(
      policyErrors(R"(  ingress:
  - ports:
    - port: Http
    - port: "8080"
    - port: web-
    - port: a--b
    - port: abcdefghijklmnop
    - port: metrics-2
)"),
      (Strings{
          std::string("pol.yaml:9: NetworkPolicy x/p: spec.ingress[0].ports[0].port: invalid "
                      "named port \"Http\"") +
              kSvcNameRule,
          std::string("pol.yaml:10: NetworkPolicy x/p: spec.ingress[0].ports[1].port: invalid "
                      "named port \"8080\"") +
              kSvcNameRule,
          std::string("pol.yaml:11: NetworkPolicy x/p: spec.ingress[0].ports[2].port: invalid "
                      "named port \"web-\"") +
              kSvcNameRule,
          std::string("pol.yaml:12: NetworkPolicy x/p: spec.ingress[0].ports[3].port: invalid "
                      "named port \"a--b\"") +
              kSvcNameRule,
          std::string("pol.yaml:13: NetworkPolicy x/p: spec.ingress[0].ports[4].port: invalid "
                      "named port \"abcdefghijklmnop\"") +
              kSvcNameRule,
      }));
}

TEST(PolicyValidation, MetadataLabels) {
  std::string text = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: p
  namespace: x
  labels:
    "a b": ok
    example.com/app: web
    -bad.example/x: y
    good: "-bad"
    long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    empty: ""
    version: 1
)";
  EXPECT_EQ(testing::formatted(readYaml(text).errors),
            (Strings{
                "pol.yaml:7: NetworkPolicy x/p: metadata.labels: invalid label key \"a b\": " +
                    std::string(kLabelNameRule),
                "pol.yaml:9: NetworkPolicy x/p: metadata.labels: invalid label key "
                "\"-bad.example/x\": prefix part must be a lowercase DNS-1123 subdomain of at most "
                "253 characters",
                "pol.yaml:10: NetworkPolicy x/p: metadata.labels: invalid label value \"-bad\": " +
                    std::string(kLabelValueRule),
                "pol.yaml:11: NetworkPolicy x/p: metadata.labels: invalid label value "
                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no "
                "more than 63 characters",
                "pol.yaml:13: NetworkPolicy x/p: metadata.labels: label \"version\": expected a "
                "string, got an integer",
            }));
}

TEST(PolicyValidation, SelectorLabels) {
  EXPECT_EQ(policyErrors(R"(  podSelector:
    matchLabels:
      app/: web
      tier: "a b"
    matchExpressions:
    - key: "-x"
      operator: Exists
    - key: env
      operator: In
      values: ["prod", "no way"]
)"),
            (Strings{
                "pol.yaml:9: NetworkPolicy x/p: spec.podSelector.matchLabels: invalid label key "
                "\"app/\": name part must be non-empty",
                "pol.yaml:10: NetworkPolicy x/p: spec.podSelector.matchLabels: invalid label value "
                "\"a b\": " +
                    std::string(kLabelValueRule),
                "pol.yaml:12: NetworkPolicy x/p: spec.podSelector.matchExpressions[0].key: invalid "
                "label key \"-x\": " +
                    std::string(kLabelNameRule),
                "pol.yaml:16: NetworkPolicy x/p: spec.podSelector.matchExpressions[1].values[1]: "
                "invalid label value \"no way\": " +
                    std::string(kLabelValueRule),
            }));
}

TEST(PolicyValidation, SelectorOperators) {
  EXPECT_EQ(policyErrors(R"(  ingress:
  - from:
    - namespaceSelector:
        matchExpressions:
        - key: a
          operator: Equals
          values: [x]
        - key: b
          operator: In
        - key: c
          operator: NotIn
          values: []
        - key: d
          operator: Exists
          values: [x]
        - key: e
          operator: DoesNotExist
        - operator: Exists
)"),
            (Strings{
                "pol.yaml:12: NetworkPolicy x/p: spec.ingress[0].from[0].namespaceSelector."
                "matchExpressions[0].operator: invalid operator \"Equals\": must be In, NotIn, "
                "Exists or DoesNotExist",
                "pol.yaml:14: NetworkPolicy x/p: spec.ingress[0].from[0].namespaceSelector."
                "matchExpressions[1].values: must be non-empty when operator is In",
                "pol.yaml:18: NetworkPolicy x/p: spec.ingress[0].from[0].namespaceSelector."
                "matchExpressions[2].values: must be non-empty when operator is NotIn",
                "pol.yaml:21: NetworkPolicy x/p: spec.ingress[0].from[0].namespaceSelector."
                "matchExpressions[3].values: must be empty when operator is Exists",
                "pol.yaml:24: NetworkPolicy x/p: spec.ingress[0].from[0].namespaceSelector."
                "matchExpressions[5].key: required value",
            }));
}

TEST(PolicyValidation, PolicyTypes) {
  EXPECT_EQ(policyErrors("  policyTypes: [Ingress, Egress, Ingress, Sideways]\n"),
            (Strings{
                "pol.yaml:7: NetworkPolicy x/p: spec.policyTypes[2]: duplicate policy type "
                "\"Ingress\"",
                "pol.yaml:7: NetworkPolicy x/p: spec.policyTypes[3]: invalid policy type "
                "\"Sideways\": must be Ingress or Egress",
            }));
}

TEST(PolicyValidation, PeerShapes) {
  EXPECT_EQ(policyErrors(R"(  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/8
      podSelector: {}
    - {}
    - namespaceSelector: {}
      podSelector:
        matchLabels: {app: db}
)"),
            (Strings{
                "pol.yaml:9: NetworkPolicy x/p: spec.ingress[0].from[0]: ipBlock may not be "
                "combined with podSelector or namespaceSelector",
                "pol.yaml:12: NetworkPolicy x/p: spec.ingress[0].from[1]: must specify "
                "podSelector, namespaceSelector or ipBlock",
            }));
}

TEST(PolicyValidation, WrongTypesAreErrorsNotCrashes) {
  EXPECT_EQ(
      policyErrors("  podSelector: []\n  ingress: {}\n  egress:\n  - to: hello\n"
                   "    ports:\n    - port: [80]\n      endPort: x\n  policyTypes: Ingress\n"),
      (Strings{
          "pol.yaml:7: NetworkPolicy x/p: spec.podSelector: expected a mapping, got a list",
          "pol.yaml:8: NetworkPolicy x/p: spec.ingress: expected a list, got a mapping",
          "pol.yaml:10: NetworkPolicy x/p: spec.egress[0].to: expected a list, got a string",
          "pol.yaml:12: NetworkPolicy x/p: spec.egress[0].ports[0].port: expected a port "
          "number or name, got a list",
          "pol.yaml:13: NetworkPolicy x/p: spec.egress[0].ports[0].endPort: expected an "
          "integer, got a string",
          "pol.yaml:14: NetworkPolicy x/p: spec.policyTypes: expected a list, got a string",
      }));
  EXPECT_EQ(
      testing::formatted(readYaml("kind: NetworkPolicy\nmetadata: {name: p}\nspec: 5\n").errors),
      Strings{"pol.yaml:3: NetworkPolicy default/p: spec: expected a mapping, got an integer"});
}

TEST(PolicyValidation, InvalidObjectIsLeftOutOthersKept) {
  std::string text = policyWithSpec("  ingress:\n  - ports:\n    - port: 0\n") + "---\n" +
                     policyWithSpec("  ingress: []\n");
  text.replace(text.rfind("name: p"), 7, "name: q");  // not a duplicate of the first
  ManifestSet set = readYaml(text);
  ASSERT_EQ(set.errors.size(), 1u);
  ASSERT_EQ(set.policies.size(), 1u);
  EXPECT_EQ(set.policies[0].meta.name, "q");
  EXPECT_EQ(set.policies[0].meta.location.line, 11);
}

}  // namespace
}  // namespace palisade::policy
