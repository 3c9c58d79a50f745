// The cluster tiers' decoder against the CRDs' validation: v1alpha2
// ClusterNetworkPolicy and v1alpha1 AdminNetworkPolicy /
// BaselineAdminNetworkPolicy onto one model, errors naming object and field.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "policy/manifest/decode_cluster_policy.h"
#include "policy/manifest/node_yaml.h"
#include "policy/state/cluster_state.h"

namespace palisade::policy::manifest {
namespace {

struct Decoded {
  std::optional<ClusterPolicy> policy;
  std::vector<std::string> errors;
};

Decoded decode(const std::string& text,
               const ClusterPolicyDialect& d = kClusterNetworkPolicyV1alpha2) {
  Diagnostics diags;
  const SourceLocation where{"cnp.yaml", 1};  // the context keeps a reference: not a temporary
  DecodeContext ctx(clusterPolicyKindName(d.kind), where, diags);
  Decoded out;
  out.policy = decodeClusterPolicyT(YamlNode(YAML::Load(text), 0), d, ctx);
  for (const auto& e : diags) out.errors.push_back(e.format());
  return out;
}

/// A CNP named `p` whose spec lines follow.
std::string cnp(const std::string& spec) {
  return "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\n"
         "metadata:\n  name: p\nspec:\n" +
         spec;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

TEST(ClusterPolicyDecode, ClusterNetworkPolicyWithEveryPeerKind) {
  auto d = decode(cnp(R"(  tier: Admin
  priority: 10
  subject:
    pods:
      podSelector: {matchLabels: {app: web}}
  ingress:
  - name: from-monitoring
    action: Accept
    from:
    - namespaces: {matchLabels: {team: monitoring}}
    protocols:
    - tcp: {destinationPort: {number: 9090}}
    - destinationNamedPort: metrics
  egress:
  - action: Deny
    to:
    - networks: [169.254.169.254/32, "fd00::/8"]
  - action: Pass
    to:
    - nodes: {matchExpressions: [{key: role, operator: Exists}]}
    protocols:
    - udp: {destinationPort: {range: {start: 1000, end: 2000}}}
  - action: Accept
    to:
    - domainNames: ["*.example.test", "api.example.test"]
)"));
  ASSERT_TRUE(d.policy) << joined(d.errors);
  const ClusterPolicy& p = *d.policy;
  EXPECT_EQ(p.tier, Tier::Admin);
  EXPECT_EQ(p.priority, 10);
  ASSERT_TRUE(p.subject.pods);
  EXPECT_TRUE(p.subject.pods->namespace_selector.empty());  // omitted: every namespace
  ASSERT_EQ(p.ingress.size(), 1u);
  EXPECT_EQ(p.ingress[0].name, "from-monitoring");
  EXPECT_EQ(p.ingress[0].action, ClusterRuleAction::Accept);
  ASSERT_EQ(p.ingress[0].ports.size(), 2u);
  EXPECT_EQ(p.ingress[0].ports[0].first, 9090);
  EXPECT_EQ(p.ingress[0].ports[1].named_port, "metrics");
  ASSERT_EQ(p.egress.size(), 3u);
  EXPECT_EQ(p.egress[0].peers[0].networks.size(), 2u);
  EXPECT_EQ(p.egress[1].action, ClusterRuleAction::Pass);
  EXPECT_EQ(p.egress[1].ports[0].protocol, Protocol::UDP);
  EXPECT_EQ(p.egress[1].ports[0].first, 1000);
  EXPECT_EQ(p.egress[1].ports[0].last, 2000);
  EXPECT_EQ(p.egress[2].peers[0].domain_names.size(), 2u);
}

TEST(ClusterPolicyDecode, CrdValidationErrorsNameObjectAndField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  tier: Admin\n  priority: 1001\n  subject: {namespaces: {}}\n",
       "spec.priority: priority 1001 is outside 0..1000"},
      {"  tier: Top\n  priority: 1\n  subject: {namespaces: {}}\n", "spec.tier: invalid tier"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}, pods: {podSelector: {}}}\n",
       "spec.subject: exactly one of namespaces or pods must be set, not both"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Accept\n"
       "    from: [{namespaces: {}, pods: {podSelector: {}}}]\n",
       "spec.ingress[0].from[0]: exactly one peer kind must be set, got 2"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Allow\n"
       "    from: [{namespaces: {}}]\n",
       "spec.ingress[0].action: invalid action \"Allow\": must be Accept, Deny or Pass"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n"
       "    to: [{networks: [10.0.0.0/33]}]\n",
       "spec.egress[0].to[0].networks[0]: invalid CIDR \"10.0.0.0/33\""},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n"
       "    to: [{nodes: {}}]\n    protocols: [{destinationNamedPort: http}]\n",
       "spec.egress[0]: networks, nodes and domainNames peers cannot be used with named ports"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n"
       "    to: [{pods: {podSelector: {}}}]\n"
       "    protocols: [{tcp: {destinationPort: {range: {start: 90, end: 80}}}}]\n",
       "spec.egress[0].protocols[0].tcp.destinationPort.range: start port 90 must be less than "
       "end port 80"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - action: Deny\n"
       "    to: [{domainNames: [\"exa*mple.test\"]}]\n",
       "spec.egress[0].to[0].domainNames[0]: invalid domain name"},
      {"  tier: Admin\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - action: Deny\n"
       "    from: []\n",
       "spec.ingress[0].from: must have at least one peer"},
  };
  for (const auto& [spec, want] : cases) {
    auto d = decode(cnp(spec));
    EXPECT_FALSE(d.policy) << spec;
    const std::string all = joined(d.errors);
    EXPECT_NE(all.find(want), std::string::npos) << "want: " << want << "\ngot: " << all;
    EXPECT_NE(all.find("cnp.yaml:"), std::string::npos) << all;
    EXPECT_NE(all.find("ClusterNetworkPolicy p"), std::string::npos) << all;
  }
}

TEST(ClusterPolicyDecode, MoreThanTwentyFiveRulesPeersOrProtocolsAreRefused) {
  std::string rules = "  tier: Baseline\n  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n";
  for (int i = 0; i < 26; ++i) rules += "  - {action: Deny, from: [{namespaces: {}}]}\n";
  auto d = decode(cnp(rules));
  EXPECT_FALSE(d.policy);
  EXPECT_NE(joined(d.errors).find("spec.ingress: too many: 26, at most 25"), std::string::npos)
      << joined(d.errors);
}

TEST(ClusterPolicyDecode, APeerOfOnlyUnknownFieldsFailsClosed) {
  auto d = decode(cnp(R"(  tier: Admin
  priority: 1
  subject: {namespaces: {}}
  egress:
  - action: Deny
    to: [{serviceAccounts: {name: x}}]
  - action: Accept
    to: [{namespaces: {}}]
)"));
  ASSERT_TRUE(d.policy) << joined(d.errors);
  EXPECT_TRUE(d.policy->egress[0].failClosed());
  EXPECT_FALSE(d.policy->egress[1].failClosed());
}

TEST(ClusterPolicyDecode, AdminNetworkPolicyV1alpha1MapsOntoTheAdminTier) {
  auto d = decode(R"(apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: gryffindor}
spec:
  priority: 20
  subject:
    pods:
      namespaceSelector: {matchLabels: {house: gryffindor}}
      podSelector: {}
  ingress:
  - action: Allow
    from: [{namespaces: {}}]
    ports:
    - portNumber: {protocol: UDP, port: 53}
    - portRange: {start: 8080, end: 8090}
    - namedPort: web
)",
                  kAdminNetworkPolicyV1alpha1);
  ASSERT_TRUE(d.policy) << joined(d.errors);
  EXPECT_EQ(d.policy->kind, ClusterPolicyKind::AdminNetworkPolicy);
  EXPECT_EQ(d.policy->tier, Tier::Admin);
  EXPECT_EQ(d.policy->ingress[0].action, ClusterRuleAction::Accept);
  const auto& ports = d.policy->ingress[0].ports;
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(ports[0].protocol, Protocol::UDP);
  EXPECT_EQ(ports[0].first, 53);
  EXPECT_EQ(ports[1].protocol, Protocol::TCP);  // portRange defaults to TCP
  EXPECT_EQ(ports[1].last, 8090);
  EXPECT_EQ(ports[2].named_port, "web");

  // v1alpha1 `pods` needs both selectors; `Accept` is v1alpha2's word.
  auto bad = decode(R"(kind: AdminNetworkPolicy
metadata: {name: x}
spec:
  priority: 1
  subject: {pods: {podSelector: {}}}
  egress: [{action: Accept, to: [{namespaces: {}}]}]
)",
                    kAdminNetworkPolicyV1alpha1);
  EXPECT_FALSE(bad.policy);
  const std::string all = joined(bad.errors);
  EXPECT_NE(all.find("spec.subject.pods.namespaceSelector: required value"), std::string::npos)
      << all;
  EXPECT_NE(all.find("invalid action \"Accept\": must be Allow, Deny or Pass"), std::string::npos)
      << all;
}

TEST(ClusterPolicyDecode, V1alpha1PortRangeWithStartAfterEndIsValidAndMatchesNothing) {
  // v1alpha1's CRD has no start < end rule (v1alpha2's has).
  auto d = decode(R"(kind: AdminNetworkPolicy
metadata: {name: backwards}
spec:
  priority: 2
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}],
             ports: [{portRange: {protocol: TCP, start: 90, end: 80}}]}]
)",
                  kAdminNetworkPolicyV1alpha1);
  ASSERT_TRUE(d.policy) << joined(d.errors);
  ClusterState state;
  state.upsertClusterPolicy(*d.policy);
  const ClusterPolicyRecord& rec = state.clusterPolicy(0);
  ASSERT_EQ(rec.ingress.size(), 1u);
  EXPECT_TRUE(rec.ingress[0].matches_nothing);
}

TEST(ClusterPolicyDecode, BaselineAdminNetworkPolicyIsTheSingletonDefaultWithoutPass) {
  auto d = decode(R"(kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]
)",
                  kBaselineAdminNetworkPolicyV1alpha1);
  ASSERT_TRUE(d.policy) << joined(d.errors);
  EXPECT_EQ(d.policy->tier, Tier::Baseline);
  auto bad = decode(R"(kind: BaselineAdminNetworkPolicy
metadata: {name: other}
spec:
  subject: {namespaces: {}}
  ingress: [{action: Pass, from: [{namespaces: {}}]}]
)",
                    kBaselineAdminNetworkPolicyV1alpha1);
  EXPECT_FALSE(bad.policy);
  const std::string all = joined(bad.errors);
  EXPECT_NE(all.find("must be named \"default\""), std::string::npos) << all;
  EXPECT_NE(all.find("must be Allow or Deny"), std::string::npos) << all;
}

TEST(ClusterPolicyDecode, PrecedenceIsPriorityThenNameThenKindAndTheBanpIsLast) {
  auto make = [](ClusterPolicyKind kind, int32_t priority, std::string name) {
    ClusterPolicy p;
    p.kind = kind;
    p.priority = priority;
    p.meta.name = std::move(name);
    return p;
  };
  using K = ClusterPolicyKind;
  EXPECT_TRUE(evaluatedBefore(make(K::ClusterNetworkPolicy, 1, "z"),
                              make(K::ClusterNetworkPolicy, 2, "a")));
  EXPECT_TRUE(
      evaluatedBefore(make(K::ClusterNetworkPolicy, 5, "a"), make(K::AdminNetworkPolicy, 5, "b")));
  EXPECT_TRUE(
      evaluatedBefore(make(K::ClusterNetworkPolicy, 5, "a"), make(K::AdminNetworkPolicy, 5, "a")));
  EXPECT_TRUE(evaluatedBefore(make(K::ClusterNetworkPolicy, 1000, "z"),
                              make(K::BaselineAdminNetworkPolicy, 0, "default")));
}

TEST(ClusterPolicyDecode, DomainNamesFollowTheCrdPattern) {
  for (const char* good : {"example.test", "*.example.test", "a-b_c.example.test.", "x1.y2"})
    EXPECT_TRUE(validDomainName(good)) << good;
  for (const char* bad :
       {"example", "*.example", "*example.test", "-a.test", "a..test", "a.*.test", "", "."})
    EXPECT_FALSE(validDomainName(bad)) << bad;
}

}  // namespace
}  // namespace palisade::policy::manifest
