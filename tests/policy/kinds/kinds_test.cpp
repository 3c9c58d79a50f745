// The table of object kinds: names, API paths, and that every consumer of
// "any object" (manifest dispatch, JSON decoding, state writers) reaches the
// right entry.
#include "policy/kinds/kinds.h"

#include <gtest/gtest.h>

#include <set>

#include "policy/manifest/decode_json.h"
#include "policy/manifest/reader.h"

namespace palisade::policy {
namespace {

TEST(Kinds, NamesAndPathsAreTheApiServers) {
  EXPECT_EQ(kindInfo(kindId<Pod>()).collectionPath(), "/api/v1/pods");
  EXPECT_EQ(kindInfo(kindId<NetworkPolicy>()).collectionPath(),
            "/apis/networking.k8s.io/v1/networkpolicies");
  EXPECT_EQ(kindInfo(kindId<EndpointSlice>()).apiVersion(), "discovery.k8s.io/v1");
  EXPECT_EQ(kindInfo(kindId<Node>()).watch, WatchScope::ThisNode);
  EXPECT_FALSE(kindInfo(kindId<Namespace>()).namespaced);
  EXPECT_EQ(kindInfo(kindId<ClusterNetworkPolicy>()).collectionPath(),
            "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies");
  EXPECT_EQ(kindInfo(kindId<AdminNetworkPolicy>()).collectionPath(),
            "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies");
  EXPECT_EQ(kindInfo(kindId<BaselineAdminNetworkPolicy>()).collectionPath(),
            "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies");
  // Only the CRD-served kinds may be absent from an API server (404 = none yet).
  for (const KindInfo& k : Kinds::kInfos)
    EXPECT_EQ(k.custom, k.group == "policy.networking.k8s.io") << k.name;
  std::set<std::string_view> names, resources;
  for (const KindInfo& k : Kinds::kInfos) {
    EXPECT_TRUE(names.insert(k.name).second) << k.name;
    EXPECT_TRUE(resources.insert(k.resource).second) << k.resource;
  }
}

TEST(Kinds, FindKindChecksTheVersion) {
  EXPECT_EQ(findKind("NetworkPolicy", "networking.k8s.io/v1"), kindId<NetworkPolicy>());
  EXPECT_EQ(findKind("NetworkPolicy"), kindId<NetworkPolicy>());  // hand-written, no apiVersion
  EXPECT_FALSE(findKind("NetworkPolicy", "extensions/v1beta1"));
  EXPECT_FALSE(findKind("Deployment", "apps/v1"));
  EXPECT_FALSE(findKind("pod"));  // kinds are case-sensitive
}

TEST(Kinds, AnyObjectAlternativesFollowTheTable) {
  Kinds::forEach([]<class K>() {
    AnyObject o = typename K::Object{};
    EXPECT_EQ(kindInfo(kindOf(o)).name, K::kInfo.name);
  });
}

// One document of every kind: each lands in its own ManifestSet vector, and
// the state writers of the table create and remove it.
TEST(Kinds, EveryKindDecodesAndReachesTheState) {
  const char* text = R"(
apiVersion: v1
kind: Namespace
metadata: {name: web}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: web, labels: {app: a}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.5}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: web}
spec: {podSelector: {}}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: web}
spec: {selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc-1, namespace: web, labels: {kubernetes.io/service-name: svc}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.5]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: guard}
spec:
  tier: Admin
  priority: 10
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {matchLabels: {team: x}}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 20
  subject: {namespaces: {}}
  ingress: [{action: Allow, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: [0.0.0.0/0]}]}]
)";
  ManifestSet set = readManifestText(text, "all.yaml");
  ASSERT_TRUE(set.errors.empty()) << set.errors.front().format();
  Kinds::forEach([&]<class K>() { EXPECT_EQ((set.*K::kObjects).size(), 1u) << K::kInfo.name; });

  ClusterState state;
  Kinds::forEach([&]<class K>() { upsertInto(state, AnyObject((set.*K::kObjects).front())); });
  EXPECT_TRUE(state.findPod("web", "a"));
  EXPECT_TRUE(state.findPolicy("web", "deny"));
  EXPECT_TRUE(state.findService("web", "svc"));
  // The three cluster-tier kinds are one model but separate objects: a CNP
  // and an ANP of the same name both land, and each kind removes only its own.
  EXPECT_TRUE(state.findClusterPolicy(ClusterPolicyKind::ClusterNetworkPolicy, "guard"));
  EXPECT_TRUE(state.findClusterPolicy(ClusterPolicyKind::AdminNetworkPolicy, "guard"));
  EXPECT_TRUE(state.findClusterPolicy(ClusterPolicyKind::BaselineAdminNetworkPolicy, "default"));
  removeFrom(state, kindId<ClusterNetworkPolicy>(), "", "guard");
  EXPECT_FALSE(state.findClusterPolicy(ClusterPolicyKind::ClusterNetworkPolicy, "guard"));
  EXPECT_TRUE(state.findClusterPolicy(ClusterPolicyKind::AdminNetworkPolicy, "guard"));
  removeFrom(state, kindId<AdminNetworkPolicy>(), "", "guard");
  removeFrom(state, kindId<BaselineAdminNetworkPolicy>(), "", "default");
  EXPECT_FALSE(state.findClusterPolicy(ClusterPolicyKind::AdminNetworkPolicy, "guard"));
  EXPECT_FALSE(state.findClusterPolicy(ClusterPolicyKind::BaselineAdminNetworkPolicy, "default"));
  removeFrom(state, kindId<Pod>(), "web", "a");
  removeFrom(state, kindId<NetworkPolicy>(), "web", "deny");
  removeFrom(state, kindId<Service>(), "web", "svc");
  EXPECT_FALSE(state.findPod("web", "a"));
  EXPECT_FALSE(state.findPolicy("web", "deny"));
  EXPECT_FALSE(state.findService("web", "svc"));
}

TEST(Kinds, JsonDecodingNamesTheKindInErrors) {
  simdjson::dom::parser parser;
  simdjson::dom::element el = parser.parse(std::string_view(R"({"metadata": {"name": 3}})"));
  Diagnostics diags;
  EXPECT_FALSE(decodeJsonAs(kindId<NetworkPolicy>(), el, {}, diags));
  ASSERT_FALSE(diags.empty());
  EXPECT_EQ(diags.front().kind, "NetworkPolicy");
}

}  // namespace
}  // namespace palisade::policy
