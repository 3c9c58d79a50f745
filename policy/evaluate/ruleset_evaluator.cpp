#include "policy/evaluate/ruleset_evaluator.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>

namespace palisade::policy {

namespace {

IpAddress v6Of(const ir::Ipv6Cidr& c) { return IpAddress::v6(c.high(), c.low()); }

Error badPrefix(const ir::PeerSet& s, const char* family, int index, const IpAddress& address,
                uint32_t prefix_len) {
  return Error(EINVAL, "peer set " + std::to_string(s.id()) + " (" + s.description() +
                           "): " + family + "[" + std::to_string(index) + "]: invalid CIDR " +
                           address.toString() + "/" + std::to_string(prefix_len) +
                           ": prefix length out of range");
}

}  // namespace

Result<RulesetEvaluator> RulesetEvaluator::create(const ir::Ruleset& ruleset) {
  RulesetEvaluator e(ruleset);
  for (const ir::Program& p : ruleset.programs()) e.programs_[p.id()] = &p;
  for (const ir::PeerSet& s : ruleset.peer_sets()) {
    auto& ranges = e.peer_sets_[s.id()];
    ranges.reserve(size_t(s.v4_size()) + size_t(s.v6_size()));
    for (int i = 0; i < s.v4_size(); ++i) {
      const IpAddress address = IpAddress::v4(s.v4(i).address());
      const std::optional<Cidr> cidr = Cidr::create(address, s.v4(i).prefix_len());
      if (!cidr) return badPrefix(s, "v4", i, address, s.v4(i).prefix_len());
      ranges.push_back({cidr->first(), cidr->last()});
    }
    for (int i = 0; i < s.v6_size(); ++i) {
      const IpAddress address = v6Of(s.v6(i));
      const std::optional<Cidr> cidr = Cidr::create(address, s.v6(i).prefix_len());
      if (!cidr) return badPrefix(s, "v6", i, address, s.v6(i).prefix_len());
      ranges.push_back({cidr->first(), cidr->last()});
    }
    std::sort(ranges.begin(), ranges.end(),
              [](const Range& a, const Range& b) { return a.first < b.first; });
  }
  for (const ir::PortSet& s : ruleset.port_sets()) {
    auto& ranges = e.port_sets_[s.id()];
    for (const auto& r : s.ranges()) {
      ranges.push_back({static_cast<uint32_t>(r.protocol()), r.first(), r.last()});
    }
  }
  for (const ir::Endpoint& ep : ruleset.endpoints()) {
    for (uint32_t a : ep.ipv4()) e.endpoints_.emplace_back(IpAddress::v4(a), &ep);
    for (const auto& a : ep.ipv6()) e.endpoints_.emplace_back(v6Of(a), &ep);
  }
  std::sort(e.endpoints_.begin(), e.endpoints_.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return e;
}

const ir::Endpoint* RulesetEvaluator::endpointOf(const IpAddress& address) const {
  auto it = std::lower_bound(endpoints_.begin(), endpoints_.end(), address,
                             [](const auto& e, const IpAddress& a) { return e.first < a; });
  return (it != endpoints_.end() && it->first == address) ? it->second : nullptr;
}

bool RulesetEvaluator::inPeerSet(uint32_t id, const IpAddress& a) const {
  if (id == 0) return true;
  auto found = peer_sets_.find(id);
  if (found == peer_sets_.end()) return false;
  const auto& ranges = found->second;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), a,
                             [](const IpAddress& x, const Range& r) { return x < r.first; });
  if (it == ranges.begin()) return false;
  --it;
  return it->first.family() == a.family() && a <= it->last;
}

bool RulesetEvaluator::inPortSet(uint32_t id, Protocol protocol, int32_t port) const {
  if (id == 0) return true;
  auto found = port_sets_.find(id);
  if (found == port_sets_.end()) return false;
  const auto proto = static_cast<uint32_t>(protocol);
  const auto p = static_cast<uint32_t>(port);
  return std::any_of(found->second.begin(), found->second.end(), [&](const PortRange& r) {
    return r.protocol == proto && p >= r.first && p <= r.last;
  });
}

bool RulesetEvaluator::programAllows(uint32_t program, const IpAddress& peer, Protocol protocol,
                                     int32_t port, std::vector<RuleRef>* matched) const {
  auto found = programs_.find(program);
  if (found == programs_.end()) return false;  // a dangling id denies, as the kernel would
  bool allowed = false;
  for (const ir::Rule& r : found->second->rules()) {
    if (!inPeerSet(r.peer_set(), peer) || !inPortSet(r.port_set(), protocol, port)) continue;
    allowed = true;
    if (matched == nullptr) return true;
    RuleRef ref{{r.provenance().policy_namespace(), r.provenance().policy_name()},
                r.provenance().rule_index()};
    if (std::find(matched->begin(), matched->end(), ref) == matched->end()) {
      matched->push_back(std::move(ref));
    }
  }
  return allowed;
}

DirectionVerdict RulesetEvaluator::judge(uint32_t program, const IpAddress& peer, Protocol protocol,
                                         int32_t port) const {
  DirectionVerdict v;
  if (program == 0) return v;  // NotIsolated
  if (auto it = programs_.find(program); it != programs_.end()) {
    for (const auto& ref : it->second->isolated_by()) {
      v.isolated_by.push_back({ref.namespace_(), ref.name()});
    }
  }
  const bool allowed = programAllows(program, peer, protocol, port, &v.allowed_by);
  std::sort(v.isolated_by.begin(), v.isolated_by.end(), [](const auto& a, const auto& b) {
    return std::tie(a.namespace_, a.name) < std::tie(b.namespace_, b.name);
  });
  std::sort(v.allowed_by.begin(), v.allowed_by.end(), [](const RuleRef& a, const RuleRef& b) {
    return std::tie(a.policy.namespace_, a.policy.name, a.rule_index) <
           std::tie(b.policy.namespace_, b.policy.name, b.rule_index);
  });
  v.outcome = allowed ? DirectionVerdict::Outcome::Allowed : DirectionVerdict::Outcome::Denied;
  return v;
}

bool RulesetEvaluator::isNodeAddress(const IpAddress& a) const {
  const ir::NodeInfo& n = ruleset_.node();
  if (a.isV4()) {
    return std::find(n.addresses_v4().begin(), n.addresses_v4().end(), a.v4Value()) !=
           n.addresses_v4().end();
  }
  return std::any_of(n.addresses_v6().begin(), n.addresses_v6().end(),
                     [&](const ir::Ipv6Cidr& c) { return v6Of(c) == a; });
}

std::optional<ClusterRuleRef> RulesetEvaluator::tierMatch(uint32_t program, const IpAddress& peer,
                                                          Protocol protocol, int32_t port) const {
  if (program == 0) return std::nullopt;
  auto found = programs_.find(program);
  if (found == programs_.end()) return std::nullopt;
  for (const ir::Rule& r : found->second->rules()) {
    if (!inPeerSet(r.peer_set(), peer) || !inPortSet(r.port_set(), protocol, port)) continue;
    const ir::Provenance& pv = r.provenance();
    ClusterRuleRef ref;
    ref.tier = pv.tier() == ir::TIER_BASELINE ? Tier::Baseline : Tier::Admin;
    ref.kind = pv.policy_kind() == "AdminNetworkPolicy" ? ClusterPolicyKind::AdminNetworkPolicy
               : pv.policy_kind() == "BaselineAdminNetworkPolicy"
                   ? ClusterPolicyKind::BaselineAdminNetworkPolicy
                   : ClusterPolicyKind::ClusterNetworkPolicy;
    ref.policy = pv.policy_name();
    ref.rule_index = pv.rule_index();
    ref.rule_name = pv.rule_name();
    ref.action = r.action() == ir::ACTION_ACCEPT ? ClusterRuleAction::Accept
                 : r.action() == ir::ACTION_PASS ? ClusterRuleAction::Pass
                                                 : ClusterRuleAction::Deny;
    return ref;
  }
  return std::nullopt;
}

DirectionVerdict RulesetEvaluator::judgeDirection(const ir::Endpoint& ep, bool ingress,
                                                  const IpAddress& peer, Protocol protocol,
                                                  int32_t port, bool hairpin) const {
  DirectionVerdict tiers;
  // A tier's first matching rule: Accept and Deny decide, Pass ends the tier.
  auto tier = [&](uint32_t program) {
    if (hairpin) return false;
    std::optional<ClusterRuleRef> m = tierMatch(program, peer, protocol, port);
    if (!m) return false;
    if (m->action == ClusterRuleAction::Pass) {
      tiers.passed.push_back(std::move(*m));
      return false;
    }
    tiers.outcome = m->action == ClusterRuleAction::Accept ? DirectionVerdict::Outcome::Allowed
                                                           : DirectionVerdict::Outcome::Denied;
    tiers.decided_by = std::move(m);
    return true;
  };
  if (tier(ingress ? ep.admin_ingress_program() : ep.admin_egress_program())) return tiers;
  DirectionVerdict v =
      judge(ingress ? ep.ingress_program() : ep.egress_program(), peer, protocol, port);
  if (v.outcome != DirectionVerdict::Outcome::NotIsolated) {
    v.passed = std::move(tiers.passed);
    return v;
  }
  tier(ingress ? ep.baseline_ingress_program() : ep.baseline_egress_program());
  return tiers;
}

Verdict RulesetEvaluator::evaluate(const IpAddress& src, const IpAddress& dst, Protocol protocol,
                                   int32_t port) const {
  Verdict v;
  const ir::Endpoint* s = endpointOf(src);
  const ir::Endpoint* d = endpointOf(dst);
  const bool hairpin = s != nullptr && s == d;  // the tiers do not govern a pod reaching itself
  if (s == nullptr) {
    v.egress.outcome = DirectionVerdict::Outcome::NotEnforced;
    v.egress.note = "source is not a local pod";
  } else {
    v.egress = judgeDirection(*s, false, dst, protocol, port, hairpin);
  }
  if (d == nullptr) {
    v.ingress.outcome = DirectionVerdict::Outcome::NotEnforced;
    v.ingress.note = "destination is not a local pod";
  } else if (isNodeAddress(src)) {
    v.ingress.outcome = DirectionVerdict::Outcome::NotEnforced;
    v.ingress.note = "traffic from the pod's own node is always allowed";
  } else {
    v.ingress = judgeDirection(*d, true, src, protocol, port, hairpin);
  }
  v.allowed = v.egress.allows() && v.ingress.allows();
  return v;
}

bool RulesetEvaluator::directionAllows(const ir::Endpoint& ep, bool ingress, const IpAddress& peer,
                                       Protocol protocol, int32_t port, bool hairpin) const {
  auto tier = [&](uint32_t program) -> std::optional<bool> {  // set: decided
    if (hairpin || program == 0) return std::nullopt;
    std::optional<ClusterRuleRef> m = tierMatch(program, peer, protocol, port);
    if (!m || m->action == ClusterRuleAction::Pass) return std::nullopt;
    return m->action == ClusterRuleAction::Accept;
  };
  if (auto d = tier(ingress ? ep.admin_ingress_program() : ep.admin_egress_program())) return *d;
  const uint32_t np = ingress ? ep.ingress_program() : ep.egress_program();
  if (np != 0) return programAllows(np, peer, protocol, port, nullptr);
  return tier(ingress ? ep.baseline_ingress_program() : ep.baseline_egress_program())
      .value_or(true);
}

bool RulesetEvaluator::allows(const IpAddress& src, const IpAddress& dst, Protocol protocol,
                              int32_t port) const {
  const ir::Endpoint* s = endpointOf(src);
  const ir::Endpoint* d = endpointOf(dst);
  const bool hairpin = s != nullptr && s == d;
  if (s != nullptr && !directionAllows(*s, false, dst, protocol, port, hairpin)) return false;
  if (d == nullptr || isNodeAddress(src)) return true;
  return directionAllows(*d, true, src, protocol, port, hairpin);
}

Result<Verdict> evaluate(const ir::Ruleset& ruleset, const IpAddress& src, const IpAddress& dst,
                         Protocol protocol, int32_t port) {
  auto evaluator = RulesetEvaluator::create(ruleset);
  if (!evaluator) return evaluator.error();
  return evaluator->evaluate(src, dst, protocol, port);
}

}  // namespace palisade::policy
