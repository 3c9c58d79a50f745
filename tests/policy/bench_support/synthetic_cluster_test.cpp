// Invariants of the benchmark cluster generator: if the generator drifts (wrong counts, an
// invalid policy, a non-deterministic seed), every benchmark figure built on it is wrong.
#include "tests/bench/synthetic_cluster.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "policy/compile/compile.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"

namespace palisade::bench {
namespace {

using policy::Family;
using policy::NetworkPolicy;
using policy::Pod;
using policy::SelectorOperator;

const SyntheticCluster& small() {
  static const SyntheticCluster c = generateCluster(ClusterShape::scaled(1000, 7));
  return c;
}

TEST(SyntheticClusterTest, CountsFollowTheShape) {
  const SyntheticCluster& c = small();
  EXPECT_EQ(c.pods.size(), 1000u);
  EXPECT_EQ(c.namespaces.size(), 66u);
  EXPECT_EQ(c.policies.size(), 66u);
  EXPECT_EQ(c.nodes.size(), 10u);  // ceil(1000 / 110)
}

TEST(SyntheticClusterTest, DefaultShapeIsTheScaleLimits) {
  ClusterShape s;
  EXPECT_EQ(s.pods, 150'000u);
  EXPECT_EQ(s.namespaces, 10'000u);
  EXPECT_EQ(s.policies, 10'000u);
  EXPECT_EQ(s.pods_per_node, 110u);
}

TEST(SyntheticClusterTest, BenchNodeHoldsExactlyOneNodeOfPods) {
  const SyntheticCluster& c = small();
  std::map<std::string, size_t> per_node;
  for (const Pod& p : c.pods) per_node[p.node_name]++;
  EXPECT_EQ(per_node["node-0"], 110u);
  for (const auto& [node, n] : per_node) EXPECT_LE(n, 110u) << node;
  EXPECT_EQ(c.podsOnBenchNode().size(), 110u);

  // The scheduler's shuffle spreads node-0 over many namespaces, not one or two.
  std::set<std::string> namespaces;
  for (size_t i : c.podsOnBenchNode()) namespaces.insert(c.pods[i].meta.namespace_);
  EXPECT_GT(namespaces.size(), 20u);
}

TEST(SyntheticClusterTest, NamesAndAddressesAreUnique) {
  const SyntheticCluster& c = small();
  std::set<std::pair<std::string, std::string>> pods;
  std::set<std::pair<std::string, std::string>> policies;
  std::set<policy::IpAddress> ips;
  std::set<std::string> namespaces;
  for (const auto& ns : c.namespaces) {
    EXPECT_TRUE(namespaces.insert(ns.meta.name).second) << ns.meta.name;
    EXPECT_EQ(ns.meta.labels.at("kubernetes.io/metadata.name"), ns.meta.name);
  }
  for (const Pod& p : c.pods) {
    EXPECT_TRUE(pods.insert({p.meta.namespace_, p.meta.name}).second) << p.meta.name;
    EXPECT_TRUE(namespaces.count(p.meta.namespace_)) << p.meta.namespace_;
    ASSERT_FALSE(p.ips.empty()) << p.meta.name;
    if (p.host_network) continue;  // shares the node's address
    for (const auto& ip : p.ips) EXPECT_TRUE(ips.insert(ip).second) << ip.toString();
  }
  for (const NetworkPolicy& np : c.policies) {
    EXPECT_TRUE(policies.insert({np.meta.namespace_, np.meta.name}).second) << np.meta.name;
    EXPECT_TRUE(namespaces.count(np.meta.namespace_)) << np.meta.namespace_;
  }
}

TEST(SyntheticClusterTest, PodAddressesComeFromTheirNodesRanges) {
  const SyntheticCluster& c = small();
  std::map<std::string, const policy::Node*> nodes;
  for (const auto& n : c.nodes) nodes[n.meta.name] = &n;
  size_t dual = 0;
  for (const Pod& p : c.pods) {
    const policy::Node& node = *nodes.at(p.node_name);
    if (p.host_network) {
      EXPECT_EQ(p.ips, node.addresses);
      continue;
    }
    for (const auto& ip : p.ips) {
      bool inside = false;
      for (const auto& cidr : node.pod_cidrs) inside = inside || cidr.contains(ip);
      EXPECT_TRUE(inside) << p.meta.name << " " << ip.toString();
    }
    dual += p.ips.size() == 2 && p.ips[1].family() == Family::V6;
  }
  EXPECT_GT(dual, 110u);  // node-0 and every 4th node are dual-stack
}

TEST(SyntheticClusterTest, SameSeedSameClusterOtherSeedOtherCluster) {
  const std::string a = toYaml(generateCluster(ClusterShape::scaled(1000, 7)));
  EXPECT_EQ(a, toYaml(small()));
  EXPECT_NE(a, toYaml(generateCluster(ClusterShape::scaled(1000, 8))));
}

TEST(SyntheticClusterTest, EveryObjectPassesTheManifestReader) {
  const SyntheticCluster& c = small();
  policy::ManifestSet read = policy::readManifestText(toYaml(c), "synthetic.yaml");
  for (const auto& e : read.errors) ADD_FAILURE() << e.format();
  EXPECT_EQ(read.nodes.size(), c.nodes.size());
  EXPECT_EQ(read.namespaces.size(), c.namespaces.size());
  EXPECT_EQ(read.pods.size(), c.pods.size());
  EXPECT_EQ(read.policies.size(), c.policies.size());
}

TEST(SyntheticClusterTest, UpstreamModelPassesTheManifestReader) {
  const SyntheticCluster c = upstreamModel();
  EXPECT_EQ(c.pods.size(), 9u);
  EXPECT_EQ(c.namespaces.size(), 3u);
  for (const Pod& p : c.pods) {
    ASSERT_EQ(p.ports.size(), 4u);
    EXPECT_EQ(p.ports[0].name, "serve-80-tcp");
    EXPECT_EQ(p.meta.labels, (policy::LabelMap{{"pod", p.meta.name}}));
  }
  policy::ManifestSet read = policy::readManifestText(toYaml(c), "upstream.yaml");
  for (const auto& e : read.errors) ADD_FAILURE() << e.format();
  EXPECT_EQ(read.policies.size(), c.policies.size());
}

// The mix must really contain each feature the compiler pays for; at 10k pods (666
// policies) every template is drawn many times.
TEST(SyntheticClusterTest, PolicyMixCoversTheFeatures) {
  const SyntheticCluster c = generateCluster(ClusterShape::scaled(10'000, 3));
  std::map<std::string, size_t> seen;
  auto selector = [&](const policy::LabelSelector& s) {
    for (const auto& r : s.match_expressions) {
      if (r.op == SelectorOperator::In) seen["expr In"]++;
      if (r.op == SelectorOperator::NotIn) seen["expr NotIn"]++;
      if (r.op == SelectorOperator::Exists) seen["expr Exists"]++;
    }
  };
  for (const NetworkPolicy& np : c.policies) {
    selector(np.pod_selector);
    if (np.pod_selector.empty() && np.ingress.empty() && np.egress.empty()) seen["deny"]++;
    if (np.ingress.size() + np.egress.size() > 2) seen["multi-rule"]++;
    for (const auto* rules : {&np.ingress, &np.egress}) {
      const bool egress = rules == &np.egress;
      for (const auto& rule : *rules) {
        for (const auto& peer : rule.peers) {
          if (peer.pod_selector) selector(*peer.pod_selector);
          if (peer.namespace_selector) selector(*peer.namespace_selector);
          if (peer.pod_selector && peer.namespace_selector) seen["pod+ns"]++;
          if (!peer.pod_selector && peer.namespace_selector) seen["ns only"]++;
          if (peer.pod_selector && !peer.namespace_selector) seen["pod only"]++;
          if (peer.ip_block && !peer.ip_block->except.empty()) {
            seen[peer.ip_block->cidr.family() == Family::V4 ? "ipBlock v4 except"
                                                            : "ipBlock v6 except"]++;
          }
          if (egress && peer.pod_selector && peer.pod_selector->match_labels.count("k8s-app")) {
            seen["egress kube-dns"]++;
          }
        }
        for (const auto& port : rule.ports) {
          if (port.port && port.port->isNamed()) seen[egress ? "named egress" : "named ingress"]++;
          if (port.end_port) seen["endPort"]++;
          if (port.protocol == policy::Protocol::UDP) seen["udp"]++;
        }
        if (rule.ports.empty()) seen["any port"]++;
      }
    }
  }
  for (const char* feature :
       {"expr In", "expr NotIn", "expr Exists", "deny", "multi-rule", "pod+ns", "ns only",
        "pod only", "ipBlock v4 except", "ipBlock v6 except", "egress kube-dns", "named egress",
        "named ingress", "endPort", "udp", "any port"}) {
    EXPECT_GT(seen[feature], 5u) << feature;
  }
}

TEST(SyntheticClusterTest, LoadsIntoClusterState) {
  const SyntheticCluster& c = small();
  policy::ClusterState state;
  loadInto(c, state);
  EXPECT_EQ(state.podCount(), c.pods.size());
  const auto* local = state.podsOnNode(state.symbols().find("node-0"));
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->size(), 110u);
  for (const NetworkPolicy& np : c.policies) {
    EXPECT_TRUE(state.findPolicy(np.meta.namespace_, np.meta.name)) << np.meta.name;
  }
}

TEST(SyntheticClusterTest, ChurnMakesFreshPodsOnTheBenchNode) {
  const SyntheticCluster& c = small();
  PodChurn churn(c);
  std::set<std::pair<std::string, std::string>> names;
  std::set<policy::IpAddress> ips;
  for (const Pod& p : c.pods) {
    names.insert({p.meta.namespace_, p.meta.name});
    if (!p.host_network) ips.insert(p.ips.begin(), p.ips.end());
  }
  for (uint64_t serial = 0; serial < 100; ++serial) {
    Pod p = churn.newPod(serial);
    EXPECT_EQ(p.node_name, "node-0");
    EXPECT_TRUE(names.insert({p.meta.namespace_, p.meta.name}).second) << p.meta.name;
    for (const auto& ip : p.ips) EXPECT_TRUE(ips.insert(ip).second) << ip.toString();
  }
  EXPECT_NE(churn.relabel(1).at("app"), churn.relabel(2).at("app"));
  EXPECT_EQ(churn.relabel(2).at("app"), churn.relabelTarget().meta.labels.at("app"));
}

}  // namespace
}  // namespace palisade::bench

namespace palisade::bench {
namespace {

// The cluster tiers must reach the bench node in every shape the compiler has:
// both tiers' programs in both directions, and every peer kind among the rules,
// or the benchmarks' CNP figures measure nothing.
TEST(SyntheticClusterTest, ClusterPoliciesCoverBothTiersEveryPeerKindAndReachTheBenchNode) {
  const SyntheticCluster c = generateCluster(ClusterShape::scaled(10'000, 7));
  EXPECT_EQ(c.cluster_policies.size(), 13u);  // 10,000 / 750
  EXPECT_EQ(ClusterShape{}.cluster_policies, 200u);
  const SyntheticCluster full = generateCluster(ClusterShape::scaled(150'000, 7));
  ASSERT_EQ(full.cluster_policies.size(), 200u);
  std::set<std::string> names, kinds;
  size_t baseline = 0, max_rules = 0;
  for (const auto& p : full.cluster_policies) {
    EXPECT_TRUE(names.insert(p.meta.name).second) << p.meta.name;
    baseline += p.tier == policy::Tier::Baseline;
    const size_t rules = p.ingress.size() + p.egress.size();
    EXPECT_GE(rules, 1u) << p.meta.name;
    EXPECT_LE(p.ingress.size(), 25u);
    EXPECT_LE(p.egress.size(), 25u);
    max_rules = std::max(max_rules, rules);
    for (const auto* list : {&p.ingress, &p.egress}) {
      for (const auto& r : *list) {
        for (const auto& peer : r.peers) {
          if (peer.namespaces) kinds.insert("namespaces");
          if (peer.pods) kinds.insert("pods");
          if (!peer.networks.empty()) kinds.insert("networks");
          if (peer.nodes) kinds.insert("nodes");
          if (!peer.domain_names.empty()) kinds.insert("domainNames");
        }
      }
    }
  }
  EXPECT_GT(baseline, 50u);
  EXPECT_GT(max_rules, 15u);
  EXPECT_EQ(kinds,
            (std::set<std::string>{"domainNames", "namespaces", "networks", "nodes", "pods"}));

  policy::ClusterState state;
  loadInto(c, state);
  const ir::Ruleset rs = policy::compile(state, SyntheticCluster::kBenchNode);
  std::set<int> tiers;  // (tier, direction) pairs present
  for (const auto& prog : rs.programs()) tiers.insert(prog.tier() * 10 + prog.direction());
  EXPECT_TRUE(tiers.count(ir::TIER_ADMIN * 10 + ir::INGRESS));
  EXPECT_TRUE(tiers.count(ir::TIER_ADMIN * 10 + ir::EGRESS));
  EXPECT_TRUE(tiers.count(ir::TIER_BASELINE * 10 + ir::INGRESS));
  EXPECT_TRUE(tiers.count(ir::TIER_BASELINE * 10 + ir::EGRESS));
}

}  // namespace
}  // namespace palisade::bench
