#include "tests/bench/synthetic_cluster_policies.h"

#include <array>
#include <string_view>

#include "tests/bench/seeded_rng.h"

namespace palisade::bench {

using policy::ClusterNetworkPolicy;
using policy::ClusterPolicyPeer;
using policy::ClusterPolicyPort;
using policy::ClusterPolicyRule;
using policy::ClusterRuleAction;
using policy::LabelSelector;
using policy::NamespacedPodSelector;
using policy::Protocol;

namespace {

constexpr std::array<std::string_view, 4> kEnvs = {"prod", "staging", "dev", "test"};
constexpr std::array<std::string_view, 6> kTiers = {"frontend", "backend", "db",
                                                    "cache",    "worker",  "queue"};
constexpr std::array<std::string_view, 3> kZones = {"zone-a", "zone-b", "zone-c"};
// Where operators aim guardrails: the metadata service, the node network, the
// whole pod range, an external partner range, the IPv6 pod range.
constexpr std::array<std::string_view, 6> kNetworks = {"169.254.169.254/32", "172.16.0.0/12",
                                                       "10.0.0.0/8",         "203.0.113.0/24",
                                                       "0.0.0.0/0",          "fd00:10:244::/48"};
constexpr std::array<std::string_view, 3> kDomains = {"*.example.com", "api.partner.example",
                                                      "*.internal.example"};
constexpr std::array<std::string_view, 4> kPortNames = {"http", "metrics", "grpc", "dns"};

LabelSelector labels(std::string key, std::string value) {
  LabelSelector s;
  s.match_labels[std::move(key)] = std::move(value);
  return s;
}

class Writer {
 public:
  Writer(const ClusterPolicyVocabulary& v, uint64_t seed) : v_(v), rng_(seed) {}

  ClusterNetworkPolicy policy(size_t i) {
    ClusterNetworkPolicy p;
    p.tier = i % 3 == 2 ? policy::Tier::Baseline : policy::Tier::Admin;
    p.priority = static_cast<int32_t>(rng_.below(1001));
    p.meta.name = std::string(p.tier == policy::Tier::Admin ? "admin-" : "baseline-") +
                  std::to_string(i) + "-" + subject(p);
    // Most operators' policies are short; a few run to the API's limit.
    const size_t rules = rng_.chance(0.1) ? 10 + rng_.below(16) : 1 + rng_.below(4);
    for (size_t r = 0; r < rules; ++r) {
      const bool egress = rng_.chance(0.5);
      auto& list = egress ? p.egress : p.ingress;
      if (list.size() == 25) continue;
      list.push_back(rule(p.tier, egress, list.size()));
    }
    return p;
  }

 private:
  std::string team() { return rng_.pick(v_.teams); }

  /// Sets the subject; returns a word for the name.
  std::string subject(ClusterNetworkPolicy& p) {
    switch (rng_.below(4)) {
      case 0: {
        std::string t = team();
        p.subject.namespaces = labels("team", t);
        return t;
      }
      case 1: {
        std::string e(rng_.pick(kEnvs));
        p.subject.namespaces = labels("env", e);
        return e;
      }
      case 2: {
        std::string t = team(), tier(rng_.pick(kTiers));
        p.subject.pods = NamespacedPodSelector{labels("team", t), labels("tier", tier)};
        return t + "-" + tier;
      }
      default: {
        std::string app = rng_.pick(v_.apps);
        p.subject.pods = NamespacedPodSelector{LabelSelector{}, labels("app", app)};
        return app;
      }
    }
  }

  ClusterPolicyPeer peer(bool egress, bool& portless) {
    ClusterPolicyPeer peer;
    const size_t kinds = egress ? 5 : 2;
    size_t kind = rng_.below(kinds);
    if (kind == 4 && !rng_.chance(0.2)) kind = rng_.below(4);  // domainNames are rare
    switch (kind) {
      case 0:
        peer.namespaces = rng_.chance(0.5) ? labels("team", team())
                                           : labels("env", std::string(rng_.pick(kEnvs)));
        break;
      case 1:
        peer.pods =
            NamespacedPodSelector{rng_.chance(0.3) ? LabelSelector{} : labels("team", team()),
                                  labels("app", rng_.pick(v_.apps))};
        break;
      case 2:
        for (size_t n = 1 + rng_.below(2); n > 0; --n) {
          auto c = policy::Cidr::parse(rng_.pick(kNetworks), true);
          bool dup = false;
          for (const auto& have : peer.networks) dup |= have == *c;
          if (!dup) peer.networks.push_back(*c);
        }
        portless = true;
        break;
      case 3:
        peer.nodes = rng_.chance(0.5)
                         ? LabelSelector{}
                         : labels("topology.kubernetes.io/zone", std::string(rng_.pick(kZones)));
        portless = true;
        break;
      default:
        peer.domain_names.emplace_back(rng_.pick(kDomains));
        portless = true;
        break;
    }
    return peer;
  }

  ClusterPolicyPort port(bool named_allowed) {
    ClusterPolicyPort p;
    switch (rng_.below(named_allowed ? 4 : 3)) {
      case 0:
        p.protocol = Protocol::TCP;
        p.first = p.last =
            static_cast<int32_t>(rng_.pick(std::array<int, 6>{22, 80, 443, 5432, 6379, 9090}));
        break;
      case 1:
        p.protocol = Protocol::UDP;
        p.first = p.last = 53;
        break;
      case 2:
        p.protocol = Protocol::TCP;
        p.first = 30000;
        p.last = 32767;  // the NodePort range
        break;
      default:
        p.named_port = std::string(rng_.pick(kPortNames));
        break;
    }
    return p;
  }

  ClusterPolicyRule rule(policy::Tier tier, bool egress, size_t index) {
    ClusterPolicyRule r;
    r.name = (egress ? "egress-" : "ingress-") + std::to_string(index);
    const double a = rng_.unit();
    r.action = a < 0.45   ? ClusterRuleAction::Deny
               : a < 0.85 ? ClusterRuleAction::Accept
                          : ClusterRuleAction::Pass;
    if (tier == policy::Tier::Baseline && r.action == ClusterRuleAction::Pass && rng_.chance(0.5))
      r.action = ClusterRuleAction::Deny;
    bool portless = false;
    for (size_t n = 1 + rng_.below(3); n > 0; --n) r.peers.push_back(peer(egress, portless));
    if (rng_.chance(0.6)) {
      for (size_t n = 1 + rng_.below(3); n > 0; --n) r.ports.push_back(port(!portless));
    }
    return r;
  }

  const ClusterPolicyVocabulary& v_;
  Rng rng_;
};

}  // namespace

std::vector<ClusterNetworkPolicy> generateClusterPolicies(size_t count,
                                                          const ClusterPolicyVocabulary& vocabulary,
                                                          uint64_t seed) {
  Writer w(vocabulary, seed);
  std::vector<ClusterNetworkPolicy> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(w.policy(i));
  return out;
}

}  // namespace palisade::bench
