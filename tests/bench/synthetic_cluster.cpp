#include "tests/bench/synthetic_cluster.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "tests/bench/seeded_rng.h"
#include "tests/bench/synthetic_cluster_policies.h"

namespace palisade::bench {

using policy::Cidr;
using policy::ContainerPort;
using policy::IpAddress;
using policy::IpBlock;
using policy::LabelMap;
using policy::LabelSelector;
using policy::LabelSelectorRequirement;
using policy::NetworkPolicy;
using policy::NetworkPolicyPeer;
using policy::NetworkPolicyPort;
using policy::NetworkPolicyRule;
using policy::Pod;
using policy::PortRef;
using policy::Protocol;
using policy::SelectorOperator;

namespace {

// Characters Kubernetes uses for generated name suffixes (no vowels, no confusables).
constexpr std::string_view kSuffixChars = "bcdfghjklmnpqrstvwxz2456789";

std::string randomSuffix(Rng& rng, size_t len) {
  std::string s;
  for (size_t i = 0; i < len; ++i) s += kSuffixChars[rng.below(kSuffixChars.size())];
  return s;
}

enum class Tier { Frontend, Backend, Db, Cache, Worker, Queue };

const char* tierName(Tier t) {
  switch (t) {
    case Tier::Frontend:
      return "frontend";
    case Tier::Backend:
      return "backend";
    case Tier::Db:
      return "db";
    case Tier::Cache:
      return "cache";
    case Tier::Worker:
      return "worker";
    case Tier::Queue:
      return "queue";
  }
  return "?";
}

struct AppKind {
  std::string_view name;
  Tier tier;
};

// clang-format off
constexpr std::array<AppKind, 36> kAppKinds = {{
    {"web", Tier::Frontend}, {"frontend", Tier::Frontend}, {"ui", Tier::Frontend},
    {"portal", Tier::Frontend}, {"storefront", Tier::Frontend}, {"dashboard", Tier::Frontend},
    {"api", Tier::Backend}, {"auth", Tier::Backend}, {"payments", Tier::Backend},
    {"cart", Tier::Backend}, {"catalog", Tier::Backend}, {"orders", Tier::Backend},
    {"search", Tier::Backend}, {"users", Tier::Backend}, {"inventory", Tier::Backend},
    {"shipping", Tier::Backend}, {"billing", Tier::Backend}, {"notifications", Tier::Backend},
    {"checkout", Tier::Backend}, {"gateway", Tier::Backend}, {"recommender", Tier::Backend},
    {"postgres", Tier::Db}, {"mysql", Tier::Db}, {"mongo", Tier::Db}, {"redis", Tier::Cache},
    {"memcached", Tier::Cache}, {"worker", Tier::Worker}, {"scheduler", Tier::Worker},
    {"consumer", Tier::Worker}, {"batch", Tier::Worker}, {"cron", Tier::Worker},
    {"indexer", Tier::Worker}, {"kafka", Tier::Queue}, {"rabbitmq", Tier::Queue},
    {"nats", Tier::Queue}, {"reports", Tier::Backend},
}};
// clang-format on

// clang-format off
constexpr std::array<std::string_view, 40> kTeamWords = {
    "payments", "identity", "growth", "search", "checkout", "platform", "data", "ml", "mobile",
    "web", "ads", "billing", "risk", "fraud", "infra", "sre", "security", "support", "logistics",
    "catalog", "pricing", "content", "media", "messaging", "social", "maps", "travel", "hr",
    "finance", "legal", "sales", "marketing", "analytics", "core", "edge", "storage", "compute",
    "network", "devex", "quality",
};
// clang-format on

constexpr std::array<std::string_view, 4> kEnvs = {"prod", "staging", "dev", "test"};

ContainerPort port(std::string name, int32_t number, Protocol proto = Protocol::TCP) {
  return ContainerPort{std::move(name), number, proto};
}

// Port numbers differ per app on purpose: a named port then resolves to different numbers
// on different destination pods, which is what makes named ports costly to compile.
std::vector<ContainerPort> appPorts(const AppKind& kind, Rng& rng) {
  static constexpr std::array<int32_t, 5> kHttp = {80, 8080, 8000, 3000, 5000};
  static constexpr std::array<int32_t, 3> kGrpc = {50051, 9000, 8443};
  static constexpr std::array<int32_t, 4> kMetrics = {9090, 9100, 9102, 8081};
  std::vector<ContainerPort> ports;
  switch (kind.tier) {
    case Tier::Frontend:
      ports.push_back(port("http", rng.pick(kHttp)));
      break;
    case Tier::Backend:
      ports.push_back(port("http", rng.pick(kHttp)));
      if (rng.chance(0.6)) ports.push_back(port("grpc", rng.pick(kGrpc)));
      break;
    case Tier::Db:
      if (kind.name == "postgres") ports.push_back(port("postgres", 5432));
      if (kind.name == "mysql") ports.push_back(port("mysql", 3306));
      if (kind.name == "mongo") ports.push_back(port("mongo", 27017));
      break;
    case Tier::Cache:
      ports.push_back(kind.name == "redis" ? port("redis", 6379) : port("memcache", 11211));
      break;
    case Tier::Worker:
      break;
    case Tier::Queue:
      ports.push_back(port("amqp", kind.name == "kafka" ? 9092 : 5672));
      if (kind.name == "nats") ports.push_back(port("gossip", 6222, Protocol::UDP));
      break;
  }
  ports.push_back(port("metrics", rng.pick(kMetrics)));
  return ports;
}

struct AppPlan {
  const AppKind* kind;
  std::vector<ContainerPort> ports;
  std::string hash;         // pod-template-hash of the current ReplicaSet
  std::string canary_hash;  // non-empty while a rollout is in progress
  size_t replicas = 0;
};

struct NamespacePlan {
  std::string name;
  std::string team;
  std::string env;
  std::vector<AppPlan> apps;
  size_t pods = 0;
  size_t policies = 0;
};

// ---- small builders for selectors, peers and ports ----

LabelSelector matchLabels(LabelMap labels) { return LabelSelector{std::move(labels), {}}; }

LabelSelectorRequirement requirement(std::string key, SelectorOperator op,
                                     std::vector<std::string> values = {}) {
  return LabelSelectorRequirement{std::move(key), op, std::move(values)};
}

NetworkPolicyPeer podPeer(LabelSelector pods) {
  NetworkPolicyPeer p;
  p.pod_selector = std::move(pods);
  return p;
}

NetworkPolicyPeer nsPeer(LabelSelector namespaces) {
  NetworkPolicyPeer p;
  p.namespace_selector = std::move(namespaces);
  return p;
}

NetworkPolicyPeer bothPeer(LabelSelector namespaces, LabelSelector pods) {
  NetworkPolicyPeer p;
  p.namespace_selector = std::move(namespaces);
  p.pod_selector = std::move(pods);
  return p;
}

Cidr cidr(std::string_view text) {
  auto c = Cidr::parse(text, /*allow_host_bits=*/false);
  if (!c) throw std::logic_error("synthetic cluster: bad CIDR literal " + std::string(text));
  return *c;
}

NetworkPolicyPeer blockPeer(std::string_view base, const std::vector<std::string>& except) {
  IpBlock block{cidr(base), {}};
  for (const auto& e : except) block.except.push_back(cidr(e));
  NetworkPolicyPeer p;
  p.ip_block = std::move(block);
  return p;
}

NetworkPolicyPort numbered(int32_t number, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{number}, std::nullopt};
}

NetworkPolicyPort named(std::string name, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{std::move(name)}, std::nullopt};
}

NetworkPolicyPort range(int32_t first, int32_t last, Protocol proto = Protocol::TCP) {
  return NetworkPolicyPort{proto, PortRef{first}, last};
}

std::string nodeName(size_t i) { return "node-" + std::to_string(i); }

// Node i's pods live in 10.<i/256>.<i%256>.0/24 and, when dual-stack, fd00:10:244:<i>::/64.
uint32_t nodeV4Base(size_t i) { return (10u << 24) | (static_cast<uint32_t>(i & 0xffff) << 8); }
constexpr uint64_t kV6Prefix = 0xfd00'0010'0244'0000ull;
IpAddress nodeAddress(size_t i) {  // InternalIP, 172.16.0.0/12
  return IpAddress::v4(((172u << 24) | (16u << 16)) + static_cast<uint32_t>(i + 10));
}

// ---- the policy mix ----

class PolicyWriter {
 public:
  PolicyWriter(const NamespacePlan& ns, const std::vector<std::string>& teams, size_t nodes,
               Rng& rng)
      : ns_(ns), teams_(teams), nodes_(nodes), rng_(rng) {}

  std::vector<NetworkPolicy> write() {
    std::vector<NetworkPolicy> out;
    bool deny_egress = rng_.chance(0.3);
    for (size_t i = 0; i < ns_.policies; ++i) {
      if (i == 0) {
        out.push_back(deny_egress ? defaultDeny("default-deny-all", true)
                                  : defaultDeny("default-deny-ingress", false));
      } else if (i == 1) {
        // With egress denied the namespace cannot even resolve names until DNS is allowed.
        out.push_back(deny_egress ? allowDns() : allowSameNamespace());
      } else if (i == 2) {
        out.push_back(deny_egress ? allowSameNamespace() : mixed());
      } else {
        out.push_back(mixed());
      }
    }
    return out;
  }

 private:
  NetworkPolicy base(std::string name, LabelSelector subjects) {
    NetworkPolicy np;
    np.meta.namespace_ = ns_.name;
    // Suffix repeats (the mix may pick the same template and app twice).
    std::string unique = name;
    for (int n = 2; !names_.insert(unique).second; ++n) unique = name + "-" + std::to_string(n);
    np.meta.name = std::move(unique);
    np.meta.uid = "np-" + randomSuffix(rng_, 12);
    np.pod_selector = std::move(subjects);
    return np;
  }

  const AppPlan* app(std::initializer_list<Tier> tiers) {
    std::vector<const AppPlan*> fit;
    for (const auto& a : ns_.apps) {
      if (std::find(tiers.begin(), tiers.end(), a.kind->tier) != tiers.end()) fit.push_back(&a);
    }
    if (fit.empty()) return nullptr;
    return fit[rng_.below(fit.size())];
  }
  std::string appName(std::initializer_list<Tier> tiers) {
    const AppPlan* a = app(tiers);
    return a ? std::string(a->kind->name) : std::string(rng_.pick(kAppKinds).name);
  }
  const std::string& someTeam() { return rng_.chance(0.5) ? ns_.team : rng_.pick(teams_); }
  std::string nodeCidr() {  // a /24 of some node in 10.0.0.0/16
    size_t i = rng_.below(std::min<size_t>(nodes_, 256));
    return "10.0." + std::to_string(i) + ".0/24";
  }

  NetworkPolicy defaultDeny(std::string name, bool egress) {
    NetworkPolicy np = base(std::move(name), {});
    np.affects_egress = egress;
    return np;
  }
  NetworkPolicy allowSameNamespace() {
    NetworkPolicy np = base("allow-same-namespace", {});
    np.ingress.push_back({{podPeer({})}, {}});
    return np;
  }
  NetworkPolicy allowDns() {
    NetworkPolicy np = base("allow-dns", {});
    np.affects_ingress = false;
    np.affects_egress = true;
    np.egress.push_back({{bothPeer(matchLabels({{"kubernetes.io/metadata.name", "kube-system"}}),
                                   matchLabels({{"k8s-app", "kube-dns"}}))},
                         {numbered(53, Protocol::UDP), numbered(53, Protocol::TCP)}});
    return np;
  }

  NetworkPolicy mixed() {
    switch (rng_.below(16)) {
      case 0:
      case 1:
      case 2: {  // the classic: frontend → backend on the named http port
        std::string a = appName({Tier::Backend});
        NetworkPolicy np = base("allow-" + a + "-from-frontend", matchLabels({{"app", a}}));
        np.ingress.push_back({{podPeer(matchLabels({{"tier", "frontend"}}))}, {named("http")}});
        return np;
      }
      case 3:
      case 4: {  // another team's namespaces may call this service
        std::string a = appName({Tier::Backend, Tier::Frontend});
        std::string team = someTeam();
        NetworkPolicy np = base("allow-" + a + "-from-" + team, matchLabels({{"app", a}}));
        np.ingress.push_back({{nsPeer(matchLabels({{"team", team}}))},
                              {rng_.chance(0.5) ? named("grpc") : numbered(8080)}});
        return np;
      }
      case 5: {  // Prometheus scraping every pod's metrics port
        NetworkPolicy np = base("allow-metrics-scrape", {});
        np.ingress.push_back(
            {{bothPeer(matchLabels({{"kubernetes.io/metadata.name", "monitoring"}}),
                       matchLabels({{"app", "prometheus"}}))},
             {named("metrics")}});
        return np;
      }
      case 6: {  // expressions on both sides
        LabelSelector subjects;
        subjects.match_expressions.push_back(
            requirement("tier", SelectorOperator::In, {"backend", "db"}));
        NetworkPolicy np = base("allow-backend-from-prod", std::move(subjects));
        LabelSelector nss;
        nss.match_expressions.push_back(
            requirement("env", SelectorOperator::NotIn, {"dev", "test"}));
        nss.match_expressions.push_back(requirement("team", SelectorOperator::Exists));
        nss.match_labels = {{"team", ns_.team}};
        LabelSelector pods;
        pods.match_expressions.push_back(requirement("app", SelectorOperator::Exists));
        np.ingress.push_back({{bothPeer(std::move(nss), std::move(pods))},
                              {numbered(8080), numbered(5432), numbered(50051)}});
        return np;
      }
      case 7: {  // public frontends: the ingress controller plus load-balancer health checks
        NetworkPolicy np = base("allow-ingress-controller", matchLabels({{"tier", "frontend"}}));
        np.ingress.push_back(
            {{bothPeer(matchLabels({{"kubernetes.io/metadata.name", "ingress-nginx"}}),
                       matchLabels({{"app.kubernetes.io/name", "ingress-nginx"}})),
              blockPeer("0.0.0.0/0", {"10.0.0.0/8"})},
             {named("http")}});
        return np;
      }
      case 8: {  // egress to the internet, not to the cluster or the metadata service
        std::string a = appName({Tier::Backend, Tier::Worker});
        NetworkPolicy np = base("allow-" + a + "-external", matchLabels({{"app", a}}));
        np.affects_ingress = false;
        np.affects_egress = true;
        np.egress.push_back(
            {{blockPeer("0.0.0.0/0", {"10.0.0.0/8", "172.16.0.0/12", "169.254.169.254/32"}),
              blockPeer("::/0", {"fd00::/8"})},
             {numbered(443)}});
        return np;
      }
      case 9: {  // frontends may only call backends, by named ports (egress named ports)
        NetworkPolicy np = base("frontend-egress", matchLabels({{"tier", "frontend"}}));
        np.affects_egress = true;
        np.egress.push_back(
            {{podPeer(matchLabels({{"tier", "backend"}}))}, {named("http"), named("grpc")}});
        LabelSelector backends;
        backends.match_expressions.push_back(
            requirement("tier", SelectorOperator::In, {"backend"}));
        np.egress.push_back(
            {{bothPeer(matchLabels({{"env", ns_.env}}), std::move(backends))}, {named("grpc")}});
        return np;
      }
      case 10: {  // NodePorts of other nodes, except a few node ranges
        std::string a = appName({Tier::Worker, Tier::Backend});
        NetworkPolicy np = base("allow-" + a + "-nodeports", matchLabels({{"app", a}}));
        np.affects_ingress = false;
        np.affects_egress = true;
        std::vector<std::string> except = {nodeCidr()};
        if (std::string second = nodeCidr(); second != except[0]) except.push_back(second);
        np.egress.push_back({{blockPeer("10.0.0.0/16", except)}, {range(30000, 32767)}});
        return np;
      }
      case 11: {  // one policy, several rules each way
        std::string a = appName({Tier::Backend});
        NetworkPolicy np = base(a + "-policy", matchLabels({{"app", a}}));
        np.affects_egress = true;
        np.ingress.push_back({{podPeer(matchLabels({{"tier", "frontend"}}))}, {named("http")}});
        np.ingress.push_back({{nsPeer(matchLabels({{"team", someTeam()}}))}, {named("grpc")}});
        np.ingress.push_back({{blockPeer("192.168.0.0/16", {"192.168.1.0/24", "192.168.2.0/24"})},
                              {range(8000, 8100)}});
        np.egress.push_back({{podPeer(matchLabels({{"tier", "db"}}))},
                             {numbered(5432), numbered(3306), numbered(6379)}});
        LabelSelector nss = matchLabels({{"env", "prod"}});
        nss.match_expressions.push_back(requirement("team", SelectorOperator::In, {ns_.team}));
        np.egress.push_back({{nsPeer(std::move(nss))}, {named("metrics")}});
        return np;
      }
      case 12: {  // by environment, excluding old versions
        std::string a = appName({Tier::Frontend, Tier::Backend});
        LabelSelector subjects = matchLabels({{"app", a}});
        subjects.match_expressions.push_back(
            requirement("version", SelectorOperator::NotIn, {"v0"}));
        NetworkPolicy np = base("allow-" + a + "-from-" + ns_.env, std::move(subjects));
        LabelSelector nss;
        nss.match_expressions.push_back(
            requirement("env", SelectorOperator::In, {ns_.env, "staging"}));
        nss.match_expressions.push_back(requirement("team", SelectorOperator::In, {ns_.team}));
        np.ingress.push_back(
            {{nsPeer(std::move(nss))}, {named("http"), range(5000, 5100, Protocol::UDP)}});
        return np;
      }
      case 13: {  // databases from backends only
        NetworkPolicy np = base("allow-db-from-backend", matchLabels({{"tier", "db"}}));
        np.ingress.push_back({{podPeer(matchLabels({{"tier", "backend"}}))},
                              {named("postgres"), named("mysql"), named("mongo")}});
        return np;
      }
      case 14: {  // IPv6 pod range minus one node
        std::string a = appName({Tier::Backend, Tier::Cache});
        NetworkPolicy np = base("allow-" + a + "-v6", matchLabels({{"app", a}}));
        np.ingress.push_back({{blockPeer("fd00:10:244::/48", {"fd00:10:244:5::/64"})},
                              {named("redis"), named("http")}});
        return np;
      }
      default: {  // a team's own namespaces, every port (no ports list)
        std::string a = appName({Tier::Cache, Tier::Queue, Tier::Db});
        NetworkPolicy np = base("allow-" + a + "-from-team", matchLabels({{"app", a}}));
        np.ingress.push_back({{bothPeer(matchLabels({{"team", ns_.team}}), {}), podPeer({})}, {}});
        return np;
      }
    }
  }

  const NamespacePlan& ns_;
  const std::vector<std::string>& teams_;
  size_t nodes_;
  Rng& rng_;
  std::unordered_set<std::string> names_;
};

Pod makePod(const std::string& ns, std::string name, LabelMap labels,
            std::vector<ContainerPort> ports) {
  Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = std::move(name);
  p.meta.labels = std::move(labels);
  p.phase = "Running";
  p.ports = std::move(ports);
  return p;
}

policy::Namespace makeNamespace(const std::string& name, LabelMap labels) {
  policy::Namespace ns;
  ns.meta.name = name;
  ns.meta.labels = std::move(labels);
  ns.meta.labels["kubernetes.io/metadata.name"] = name;  // the API server's defaulting
  return ns;
}

}  // namespace

ClusterShape ClusterShape::scaled(size_t pods, uint64_t seed) {
  ClusterShape s;
  s.pods = pods;
  s.namespaces = std::max<size_t>(5, pods / 15);
  s.policies = pods / 15;
  // 200 at 150k pods; never fewer than 8, so small clusters have both tiers' shapes too.
  s.cluster_policies = std::max<size_t>(8, pods / 750);
  s.seed = seed;
  return s;
}

std::vector<size_t> SyntheticCluster::podsOnBenchNode() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < pods.size(); ++i) {
    if (pods[i].node_name == kBenchNode) out.push_back(i);
  }
  return out;
}

SyntheticCluster generateCluster(const ClusterShape& shape) {
  if (shape.namespaces < 5 || shape.pods_per_node == 0) {
    throw std::invalid_argument("synthetic cluster: need at least 5 namespaces");
  }
  Rng rng(shape.seed);
  SyntheticCluster c;
  c.shape = shape;
  const size_t node_count = (shape.pods + shape.pods_per_node - 1) / shape.pods_per_node;
  const size_t daemon_pods = shape.host_network_daemonset ? node_count : 0;
  constexpr size_t kSystemPods = 2 + 2 + 3;  // coredns, prometheus, ingress-nginx
  if (shape.pods < daemon_pods + kSystemPods) {
    throw std::invalid_argument("synthetic cluster: too few pods for the system pods");
  }

  for (size_t i = 0; i < node_count; ++i) {
    policy::Node n;
    n.meta.name = nodeName(i);
    n.meta.labels = {{"kubernetes.io/hostname", n.meta.name},
                     {"topology.kubernetes.io/zone", "zone-" + std::string(1, 'a' + i % 3)}};
    n.pod_cidrs.push_back(*Cidr::create(IpAddress::v4(nodeV4Base(i)), 24));
    if (shape.dual_stack_every && i % shape.dual_stack_every == 0) {
      n.pod_cidrs.push_back(*Cidr::create(IpAddress::v6(kV6Prefix | (i & 0xffff), 0), 64));
    }
    n.addresses.push_back(nodeAddress(i));
    c.nodes.push_back(std::move(n));
  }

  // Namespaces: four system ones, then workload namespaces owned by teams.
  const size_t workload_ns = shape.namespaces - 4;
  std::vector<std::string> teams;
  for (size_t t = 0; t < std::max<size_t>(1, workload_ns / 25); ++t) {
    std::string name(kTeamWords[t % kTeamWords.size()]);
    if (t >= kTeamWords.size()) name += "-" + std::to_string(t / kTeamWords.size());
    teams.push_back(std::move(name));
  }
  for (const char* sys : {"default", "kube-system", "monitoring", "ingress-nginx"}) {
    c.namespaces.push_back(makeNamespace(sys, {}));
  }
  std::vector<NamespacePlan> plans(workload_ns);
  std::vector<double> weights(workload_ns);
  double weight_sum = 0;
  for (size_t i = 0; i < workload_ns; ++i) {
    NamespacePlan& p = plans[i];
    p.team = rng.pick(teams);
    double e = rng.unit();  // prod-heavy, as clusters at this size are
    p.env = std::string(e < 0.4 ? kEnvs[0] : e < 0.65 ? kEnvs[1] : e < 0.9 ? kEnvs[2] : kEnvs[3]);
    p.name = p.team + "-" + p.env + "-" + std::to_string(i);
    c.namespaces.push_back(makeNamespace(p.name, {{"team", p.team}, {"env", p.env}}));
    weights[i] = std::exp(1.2 * rng.normal());
    weight_sum += weights[i];
  }

  // Workload pods over namespaces by log-normal weight (some namespaces stay empty).
  const size_t workload_pods = shape.pods - daemon_pods - kSystemPods;
  size_t assigned = 0;
  for (size_t i = 0; i < workload_ns; ++i) {
    plans[i].pods = static_cast<size_t>(std::floor(workload_pods * weights[i] / weight_sum));
    assigned += plans[i].pods;
  }
  while (assigned < workload_pods) {
    plans[rng.below(workload_ns)].pods++;
    assigned++;
  }

  // Pods: kube-system, monitoring and ingress-nginx first, then each namespace's apps.
  std::vector<Pod> regular;
  auto system = [&](const char* ns, const std::string& app, LabelMap labels, size_t n,
                    std::vector<ContainerPort> ports) {
    std::string hash = randomSuffix(rng, 10);
    labels["pod-template-hash"] = hash;
    for (size_t r = 0; r < n; ++r) {
      regular.push_back(makePod(ns, app + "-" + hash + "-" + randomSuffix(rng, 5), labels, ports));
    }
  };
  system("kube-system", "coredns", {{"k8s-app", "kube-dns"}}, 2,
         {port("dns", 53, Protocol::UDP), port("dns-tcp", 53), port("metrics", 9153)});
  system("monitoring", "prometheus",
         {{"app", "prometheus"}, {"app.kubernetes.io/name", "prometheus"}}, 2,
         {port("http", 9090)});
  system("ingress-nginx", "ingress-nginx-controller",
         {{"app", "ingress-nginx"}, {"app.kubernetes.io/name", "ingress-nginx"}}, 3,
         {port("http", 80), port("https", 443), port("metrics", 10254)});

  for (NamespacePlan& p : plans) {
    if (p.pods == 0) continue;
    const size_t app_count = 1 + rng.below(std::min<size_t>(p.pods, 8));
    std::vector<size_t> kinds(kAppKinds.size());
    for (size_t k = 0; k < kinds.size(); ++k) kinds[k] = k;
    for (size_t k = 0; k < app_count; ++k)
      std::swap(kinds[k], kinds[k + rng.below(kinds.size() - k)]);
    for (size_t k = 0; k < app_count; ++k) {
      const AppKind& kind = kAppKinds[kinds[k]];
      AppPlan app{&kind, appPorts(kind, rng), randomSuffix(rng, 10), "", 1};
      if (rng.chance(0.15)) app.canary_hash = randomSuffix(rng, 10);
      p.apps.push_back(std::move(app));
    }
    for (size_t extra = app_count; extra < p.pods; ++extra) p.apps[rng.below(app_count)].replicas++;
    std::unordered_set<std::string> names;
    for (const AppPlan& app : p.apps) {
      for (size_t r = 0; r < app.replicas; ++r) {
        // A rollout in progress: the last fifth of the replicas already run the new version.
        bool canary = !app.canary_hash.empty() && r * 5 >= app.replicas * 4;
        const std::string& hash = canary ? app.canary_hash : app.hash;
        std::string name;
        do {
          name = std::string(app.kind->name) + "-" + hash + "-" + randomSuffix(rng, 5);
        } while (!names.insert(name).second);
        regular.push_back(makePod(p.name, std::move(name),
                                  {{"app", std::string(app.kind->name)},
                                   {"tier", tierName(app.kind->tier)},
                                   {"team", p.team},
                                   {"version", canary ? "v2" : "v1"},
                                   {"pod-template-hash", hash}},
                                  app.ports));
      }
    }
  }

  // Scheduling: every node takes pods_per_node pods (the last one the rest); kube-proxy
  // first, then a seeded shuffle of everything else, so each node mixes many namespaces.
  for (size_t i = regular.size(); i > 1; --i) std::swap(regular[i - 1], regular[rng.below(i)]);
  size_t next = 0;
  c.pods.reserve(shape.pods);
  for (size_t n = 0; n < node_count; ++n) {
    const size_t capacity = std::min(shape.pods_per_node, shape.pods - n * shape.pods_per_node);
    const bool dual = shape.dual_stack_every && n % shape.dual_stack_every == 0;
    for (size_t local = 0; local < capacity; ++local) {
      Pod pod;
      if (local == 0 && shape.host_network_daemonset) {
        pod = makePod("kube-system", "kube-proxy-" + randomSuffix(rng, 5),
                      {{"k8s-app", "kube-proxy"}, {"controller-revision-hash", "6b8f9c7d5"}},
                      {port("metrics", 10249)});
        pod.host_network = true;
        pod.ips.push_back(nodeAddress(n));  // hostNetwork pods take the node's address
      } else {
        pod = std::move(regular[next++]);
        pod.ips.push_back(IpAddress::v4(nodeV4Base(n) + 2 + static_cast<uint32_t>(local)));
        if (dual) pod.ips.push_back(IpAddress::v6(kV6Prefix | (n & 0xffff), 2 + local));
      }
      pod.node_name = nodeName(n);
      pod.meta.uid = "pod-" + std::to_string(c.pods.size());
      c.pods.push_back(std::move(pod));
    }
  }
  // kube-proxy names must be unique in kube-system; regenerate the rare collisions.
  std::unordered_set<std::string> system_names;
  for (Pod& p : c.pods) {
    if (p.meta.namespace_ != "kube-system") continue;
    while (!system_names.insert(p.meta.name).second)
      p.meta.name = "kube-proxy-" + randomSuffix(rng, 5);
  }

  // Policies: a seeded order of workload namespaces takes 1-4 each until the budget is spent,
  // so about 40% of namespaces have policies and the rest have none, as in real clusters.
  std::vector<size_t> order(workload_ns);
  for (size_t i = 0; i < workload_ns; ++i) order[i] = i;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  size_t budget = shape.policies;
  for (size_t round = 0; budget > 0; ++round) {
    for (size_t i : order) {
      if (budget == 0) break;
      size_t take = std::min(budget, 1 + rng.below(4));
      plans[i].policies += take;
      budget -= take;
    }
  }
  for (size_t i : order) {
    if (plans[i].policies == 0) continue;
    for (NetworkPolicy& np : PolicyWriter(plans[i], teams, node_count, rng).write()) {
      c.policies.push_back(std::move(np));
    }
  }
  // Their own seed, so adding cluster policies leaves the rest of the cluster as it was.
  ClusterPolicyVocabulary vocabulary{teams, {}, node_count};
  for (const AppKind& k : kAppKinds) vocabulary.apps.emplace_back(k.name);
  c.cluster_policies =
      generateClusterPolicies(shape.cluster_policies, vocabulary, shape.seed ^ 0xC1u);
  return c;
}

SyntheticCluster upstreamModel() {
  SyntheticCluster c;
  c.shape.pods = 9;
  c.shape.namespaces = 3;
  c.shape.policies = 5;
  c.shape.cluster_policies = 0;
  c.shape.host_network_daemonset = false;
  c.shape.dual_stack_every = 0;
  policy::Node node;
  node.meta.name = nodeName(0);
  node.pod_cidrs.push_back(cidr("10.0.0.0/16"));
  node.addresses.push_back(nodeAddress(0));
  c.nodes.push_back(std::move(node));

  std::vector<ContainerPort> ports;
  for (int32_t number : {80, 81}) {
    for (Protocol proto : {Protocol::TCP, Protocol::UDP}) {
      std::string lower = proto == Protocol::TCP ? "tcp" : "udp";
      ports.push_back(port("serve-" + std::to_string(number) + "-" + lower, number, proto));
    }
  }
  const std::array<std::string, 3> nss = {"x", "y", "z"};
  const std::array<std::string, 3> names = {"a", "b", "c"};
  for (size_t n = 0; n < nss.size(); ++n) {
    c.namespaces.push_back(makeNamespace(nss[n], {}));
    for (size_t p = 0; p < names.size(); ++p) {
      Pod pod = makePod(nss[n], names[p], {{"pod", names[p]}}, ports);
      // The corpus plan: 10.0.<namespace 1..3>.<pod 1..3>.
      pod.ips.push_back(IpAddress::v4((10u << 24) | uint32_t(n + 1) << 8 | uint32_t(p + 1)));
      pod.node_name = nodeName(0);
      c.pods.push_back(std::move(pod));
    }
  }

  auto policy = [&](std::string ns, std::string name, LabelSelector subjects) -> NetworkPolicy& {
    NetworkPolicy np;
    np.meta.namespace_ = std::move(ns);
    np.meta.name = std::move(name);
    np.pod_selector = std::move(subjects);
    return c.policies.emplace_back(std::move(np));
  };
  {  // upstream case 010: pod b in any namespace but x may reach x/a
    LabelSelector nss_other;
    nss_other.match_expressions.push_back(
        requirement("kubernetes.io/metadata.name", SelectorOperator::NotIn, {"x"}));
    policy("x", "allow-ns-y-podselector-and-nsselector", matchLabels({{"pod", "a"}}))
        .ingress.push_back({{bothPeer(std::move(nss_other), matchLabels({{"pod", "b"}}))}, {}});
  }
  // upstream case 017: y's pods accept only the named port serve-81-tcp
  policy("y", "allow-named-port", {}).ingress.push_back({{}, {named("serve-81-tcp")}});
  {  // upstream case 035: x/a egress to 0.0.0.0/4 except x/b
    NetworkPolicy& np =
        policy("x", "allow-client-a-via-cidr-egress-rule", matchLabels({{"pod", "a"}}));
    np.affects_ingress = false;
    np.affects_egress = true;
    np.egress.push_back({{blockPeer("0.0.0.0/4", {"10.0.1.2/32"})}, {}});
  }
  {  // z/b may only talk to y, on port 80 TCP
    NetworkPolicy& np = policy("z", "deny-egress-but-y", matchLabels({{"pod", "b"}}));
    np.affects_ingress = false;
    np.affects_egress = true;
    np.egress.push_back(
        {{nsPeer(matchLabels({{"kubernetes.io/metadata.name", "y"}}))}, {numbered(80)}});
  }
  {  // z/c isolated for ingress with a podSelector expression and a port range
    LabelSelector from;
    from.match_expressions.push_back(requirement("pod", SelectorOperator::In, {"a", "b"}));
    policy("z", "allow-c-from-a-b", matchLabels({{"pod", "c"}}))
        .ingress.push_back({{podPeer(std::move(from))}, {range(80, 81)}});
  }
  return c;
}

policy::ManifestSet toManifestSet(const SyntheticCluster& cluster) {
  policy::ManifestSet set;
  set.nodes = cluster.nodes;
  set.namespaces = cluster.namespaces;
  set.pods = cluster.pods;
  set.policies = cluster.policies;
  set.cluster_network_policies = cluster.cluster_policies;
  return set;
}

void loadInto(const SyntheticCluster& cluster, policy::ClusterState& state) {
  for (const auto& n : cluster.nodes) state.upsertNode(n);
  for (const auto& ns : cluster.namespaces) state.upsertNamespace(ns);
  for (const auto& pod : cluster.pods) state.upsertPod(pod);
  for (const auto& np : cluster.policies) state.upsertPolicy(np);
  for (const auto& cnp : cluster.cluster_policies) state.upsertClusterPolicy(cnp);
}

// ---- YAML ----

namespace {

const char* operatorName(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::In:
      return "In";
    case SelectorOperator::NotIn:
      return "NotIn";
    case SelectorOperator::Exists:
      return "Exists";
    case SelectorOperator::DoesNotExist:
      return "DoesNotExist";
  }
  return "?";
}

void emitLabels(YAML::Emitter& out, const LabelMap& labels) {
  out << YAML::BeginMap;
  for (const auto& [k, v] : labels) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
}

void emitMeta(YAML::Emitter& out, const policy::ObjectMeta& meta) {
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << meta.name;
  if (!meta.namespace_.empty()) out << YAML::Key << "namespace" << YAML::Value << meta.namespace_;
  if (!meta.uid.empty()) out << YAML::Key << "uid" << YAML::Value << meta.uid;
  if (!meta.labels.empty()) {
    out << YAML::Key << "labels" << YAML::Value;
    emitLabels(out, meta.labels);
  }
  out << YAML::EndMap;
}

void emitSelector(YAML::Emitter& out, const LabelSelector& sel) {
  out << YAML::BeginMap;
  if (!sel.match_labels.empty()) {
    out << YAML::Key << "matchLabels" << YAML::Value;
    emitLabels(out, sel.match_labels);
  }
  if (!sel.match_expressions.empty()) {
    out << YAML::Key << "matchExpressions" << YAML::Value << YAML::BeginSeq;
    for (const auto& req : sel.match_expressions) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "key" << YAML::Value << req.key
          << YAML::Key << "operator" << YAML::Value << operatorName(req.op);
      if (!req.values.empty()) {
        out << YAML::Key << "values" << YAML::Value << YAML::Flow << req.values;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

void emitRules(YAML::Emitter& out, const char* key, const char* peers_key,
               const std::vector<NetworkPolicyRule>& rules) {
  out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const auto& rule : rules) {
    out << YAML::BeginMap;
    if (!rule.peers.empty()) {
      out << YAML::Key << peers_key << YAML::Value << YAML::BeginSeq;
      for (const auto& peer : rule.peers) {
        out << YAML::BeginMap;
        if (peer.pod_selector) {
          out << YAML::Key << "podSelector" << YAML::Value;
          emitSelector(out, *peer.pod_selector);
        }
        if (peer.namespace_selector) {
          out << YAML::Key << "namespaceSelector" << YAML::Value;
          emitSelector(out, *peer.namespace_selector);
        }
        if (peer.ip_block) {
          out << YAML::Key << "ipBlock" << YAML::Value << YAML::BeginMap << YAML::Key << "cidr"
              << YAML::Value << peer.ip_block->cidr.toString();
          if (!peer.ip_block->except.empty()) {
            out << YAML::Key << "except" << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& e : peer.ip_block->except) out << e.toString();
            out << YAML::EndSeq;
          }
          out << YAML::EndMap;
        }
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    if (!rule.ports.empty()) {
      out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
      for (const auto& p : rule.ports) {
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "protocol" << YAML::Value
            << policy::protocolName(p.protocol);
        if (p.port) {
          out << YAML::Key << "port" << YAML::Value;
          if (p.port->isNamed()) {
            out << p.port->name();
          } else {
            out << p.port->number();
          }
        }
        if (p.end_port) out << YAML::Key << "endPort" << YAML::Value << *p.end_port;
        out << YAML::EndMap;
      }
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emitPolicy(YAML::Emitter& out, const NetworkPolicy& np) {
  out << YAML::BeginDoc << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "networking.k8s.io/v1";
  out << YAML::Key << "kind" << YAML::Value << "NetworkPolicy";
  emitMeta(out, np.meta);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "podSelector" << YAML::Value;
  emitSelector(out, np.pod_selector);
  out << YAML::Key << "policyTypes" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if (np.affects_ingress) out << "Ingress";
  if (np.affects_egress) out << "Egress";
  out << YAML::EndSeq;
  if (!np.ingress.empty()) emitRules(out, "ingress", "from", np.ingress);
  if (!np.egress.empty()) emitRules(out, "egress", "to", np.egress);
  out << YAML::EndMap << YAML::EndMap;
}

void emitPod(YAML::Emitter& out, const Pod& pod) {
  out << YAML::BeginDoc << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Pod";
  emitMeta(out, pod.meta);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "nodeName" << YAML::Value << pod.node_name;
  if (pod.host_network) out << YAML::Key << "hostNetwork" << YAML::Value << true;
  out << YAML::Key << "containers" << YAML::Value << YAML::BeginSeq << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << "main";
  out << YAML::Key << "image" << YAML::Value << "registry.example/app:1.0";
  if (!pod.ports.empty()) {
    out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : pod.ports) {
      out << YAML::Flow << YAML::BeginMap;
      if (!p.name.empty()) out << YAML::Key << "name" << YAML::Value << p.name;
      out << YAML::Key << "containerPort" << YAML::Value << p.port << YAML::Key << "protocol"
          << YAML::Value << policy::protocolName(p.protocol) << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap << YAML::EndSeq << YAML::EndMap;
  out << YAML::Key << "status" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "phase" << YAML::Value << pod.phase;
  if (!pod.ips.empty()) {
    out << YAML::Key << "podIP" << YAML::Value << pod.ips.front().toString();
    out << YAML::Key << "podIPs" << YAML::Value << YAML::BeginSeq;
    for (const auto& ip : pod.ips) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "ip" << YAML::Value << ip.toString()
          << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap << YAML::EndMap;
}

void emitNode(YAML::Emitter& out, const policy::Node& node) {
  out << YAML::BeginDoc << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "Node";
  emitMeta(out, node.meta);
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  if (!node.pod_cidrs.empty()) {
    out << YAML::Key << "podCIDR" << YAML::Value << node.pod_cidrs.front().toString();
    out << YAML::Key << "podCIDRs" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& c : node.pod_cidrs) out << c.toString();
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  out << YAML::Key << "status" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "addresses" << YAML::Value << YAML::BeginSeq;
  for (const auto& a : node.addresses) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "type" << YAML::Value << "InternalIP"
        << YAML::Key << "address" << YAML::Value << a.toString() << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
}

}  // namespace

std::string toYaml(const SyntheticCluster& cluster) {
  YAML::Emitter out;
  for (const auto& n : cluster.nodes) emitNode(out, n);
  for (const auto& ns : cluster.namespaces) {
    out << YAML::BeginDoc << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "v1"
        << YAML::Key << "kind" << YAML::Value << "Namespace";
    emitMeta(out, ns.meta);
    out << YAML::EndMap;
  }
  for (const auto& pod : cluster.pods) emitPod(out, pod);
  for (const auto& np : cluster.policies) emitPolicy(out, np);
  return std::string(out.c_str(), out.size()) + "\n";
}

// ---- churn ----

PodChurn::PodChurn(const SyntheticCluster& cluster) {
  const std::vector<size_t> local = cluster.podsOnBenchNode();
  auto selects = [](const LabelSelector& s, const Pod& p) {  // matchLabels part only
    for (const auto& [k, v] : s.match_labels) {
      auto it = p.meta.labels.find(k);
      if (it == p.meta.labels.end() || it->second != v) return false;
    }
    return true;
  };
  // The relabel target is a pod that a same-namespace "tier=T" peer selects, in a policy
  // that selects one of node-0's pods: flipping its tier then takes it out of (and puts it
  // back into) a peer set of node-0's ruleset, which is the costly kind of relabel.
  std::set<std::pair<std::string, std::string>> peers;  // (namespace, tier)
  for (const NetworkPolicy& np : cluster.policies) {
    bool subject_is_local = false;
    for (size_t i : local) {
      const Pod& p = cluster.pods[i];
      subject_is_local |= p.meta.namespace_ == np.meta.namespace_ && selects(np.pod_selector, p);
    }
    if (!subject_is_local) continue;
    for (const auto* rules : {&np.ingress, &np.egress}) {
      for (const auto& rule : *rules) {
        for (const auto& peer : rule.peers) {
          if (!peer.pod_selector || peer.namespace_selector) continue;
          auto tier = peer.pod_selector->match_labels.find("tier");
          if (tier != peer.pod_selector->match_labels.end()) {
            peers.insert({np.meta.namespace_, tier->second});
          }
        }
      }
    }
  }
  for (const Pod& p : cluster.pods) {
    auto tier = p.meta.labels.find("tier");
    if (tier != p.meta.labels.end() && peers.count({p.meta.namespace_, tier->second})) {
      target_ = &p;
      break;
    }
  }
  for (size_t i : local) {
    const Pod& p = cluster.pods[i];
    if (p.host_network || p.ips.empty()) continue;
    templates_.push_back(&p);
    if (!target_ && p.meta.labels.count("app")) target_ = &p;  // fallback: a local pod
  }
  if (templates_.empty()) throw std::invalid_argument("pod churn: no pod on node-0");
  node_base_v4_ = templates_.front()->ips.front().v4Value() & 0xffffff00u;
}

Pod PodChurn::newPod(uint64_t serial) const {
  Pod p = *templates_[serial % templates_.size()];
  p.meta.name += "-n" + std::to_string(serial);
  p.meta.uid = "churn-" + std::to_string(serial);
  // .150-.249 of the node's /24: generated pods use .2-.111, so these never clash.
  const uint32_t host = 150 + static_cast<uint32_t>(serial % 100);
  for (auto& ip : p.ips) {
    ip = ip.isV4() ? IpAddress::v4(node_base_v4_ | host) : IpAddress::v6(ip.high(), host);
  }
  return p;
}

LabelMap PodChurn::relabel(uint64_t serial) const {
  const LabelMap& labels = target_->meta.labels;
  auto value = [&](const char* key) {
    auto it = labels.find(key);
    return it == labels.end() ? std::string() : it->second;
  };
  if (serial % 2 == 1) return {{"app", value("app") + "-canary"}, {"tier", "canary"}};
  return {{"app", value("app")}, {"tier", value("tier")}};
}

}  // namespace palisade::bench
