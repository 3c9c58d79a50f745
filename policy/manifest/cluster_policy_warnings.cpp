#include "policy/manifest/cluster_policy_warnings.h"

#include <algorithm>

namespace palisade::policy {
namespace {

void warn(const ClusterPolicy& p, std::vector<Diagnostic>& out) {
  for (size_t i = 0; i < p.egress.size(); ++i) {
    const ClusterPolicyRule& rule = p.egress[i];
    const size_t domains =
        std::count_if(rule.peers.begin(), rule.peers.end(),
                      [](const ClusterPolicyPeer& peer) { return !peer.domain_names.empty(); });
    if (domains == 0) continue;
    Diagnostic d;
    d.location = p.meta.location;
    d.kind = clusterPolicyKindName(p.kind);
    d.object = p.meta.name;
    d.field = "spec.egress[" + std::to_string(i) + "].to";
    d.message = domains == rule.peers.size()
                    ? "every peer is domainNames, which palisade does not enforce yet: this rule "
                      "matches no traffic"
                    : "domainNames peers are not enforced yet: this rule matches only its other "
                      "peers";
    out.push_back(std::move(d));
  }
}

}  // namespace

std::vector<Diagnostic> clusterPolicyWarnings(const ManifestSet& set) {
  std::vector<Diagnostic> out;
  for (const auto& p : set.cluster_network_policies) warn(p, out);
  for (const auto& p : set.admin_network_policies) warn(p, out);
  for (const auto& p : set.baseline_admin_network_policies) warn(p, out);
  return out;
}

}  // namespace palisade::policy
