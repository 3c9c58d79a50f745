#include "agent/queue/ruleset_decider.h"

#include <algorithm>
#include <cerrno>
#include <string>

namespace palisade::agent::queue {

policy::IpAddress toIpAddress(const dq::Address& a) {
  if (a.family == 4) return policy::IpAddress::v4(a.v4());
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | a.bytes[i];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | a.bytes[i];
  return policy::IpAddress::v6(hi, lo);
}

Result<std::shared_ptr<const RulesetDecider::Snapshot>> RulesetDecider::Snapshot::create(
    ir::Ruleset rs) {
  auto s = std::make_shared<Snapshot>(std::move(rs));
  auto evaluator = policy::RulesetEvaluator::create(s->ruleset);
  if (!evaluator)
    return evaluator.error().context("ruleset revision " + std::to_string(s->ruleset.revision()));
  s->evaluator.emplace(std::move(*evaluator));
  const auto& node = s->ruleset.node();
  auto bad_cidr = [&](const char* family, int i, const policy::IpAddress& a, uint32_t len) {
    return Error(EINVAL, "ruleset revision " + std::to_string(s->ruleset.revision()) +
                             ": node pod_cidrs_" + family + "[" + std::to_string(i) +
                             "]: invalid CIDR " + a.toString() + "/" + std::to_string(len) +
                             ": prefix length out of range");
  };
  for (int i = 0; i < node.pod_cidrs_v4_size(); ++i) {
    const auto& c = node.pod_cidrs_v4(i);
    const auto a = policy::IpAddress::v4(c.address());
    auto cidr = policy::Cidr::create(a, c.prefix_len());
    if (!cidr) return bad_cidr("v4", i, a, c.prefix_len());
    s->pod_cidrs.push_back(*cidr);
  }
  for (int i = 0; i < node.pod_cidrs_v6_size(); ++i) {
    const auto& c = node.pod_cidrs_v6(i);
    const auto a = policy::IpAddress::v6(c.high(), c.low());
    auto cidr = policy::Cidr::create(a, c.prefix_len());
    if (!cidr) return bad_cidr("v6", i, a, c.prefix_len());
    s->pod_cidrs.push_back(*cidr);
  }
  for (uint32_t a : node.addresses_v4()) s->node_addresses.push_back(policy::IpAddress::v4(a));
  for (const auto& a : node.addresses_v6())
    s->node_addresses.push_back(policy::IpAddress::v6(a.high(), a.low()));
  std::sort(s->node_addresses.begin(), s->node_addresses.end());
  return std::shared_ptr<const Snapshot>(std::move(s));
}

bool RulesetDecider::Snapshot::pending(const policy::IpAddress& a) const {
  bool in_cidr = std::any_of(pod_cidrs.begin(), pod_cidrs.end(),
                             [&](const policy::Cidr& c) { return c.contains(a); });
  if (!in_cidr) return false;
  if (evaluator->endpointOf(a) != nullptr) return false;
  return !std::binary_search(node_addresses.begin(), node_addresses.end(), a);
}

// An empty ruleset has no CIDR to refuse.
RulesetDecider::RulesetDecider() : current_(*Snapshot::create(ir::Ruleset())) {}

Status RulesetDecider::update(const ir::Ruleset& ruleset) {
  auto snapshot = Snapshot::create(ruleset);
  if (!snapshot) return snapshot.error();
  current_.store(std::move(*snapshot));
  return okStatus();
}

void RulesetDecider::updateServices(std::shared_ptr<const ServiceTable> services) {
  services_.store(std::move(services));
}

dq::Decision RulesetDecider::decideService(const Snapshot& s, const ServiceTarget& target,
                                           const policy::IpAddress& src, policy::Protocol protocol,
                                           dq::Explain explain) const {
  const bool why = explain == dq::Explain::Yes;
  auto prefix = [&] { return "service " + target.service + " reached untranslated:"; };
  auto backend = [](const policy::ServiceBackend& b) {
    return b.address->toString() + ":" + std::to_string(b.port);
  };
  size_t judged = 0;
  for (const auto& b : target.backends) {
    if (!b.ready || !b.address || b.port == 0) continue;
    if (s.pending(*b.address))
      return {dq::Verdict::Hold,
              why ? prefix() + " backend " + backend(b) + " is a pending pod" : std::string()};
    ++judged;
    if (!why) {
      if (!s.evaluator->allows(src, *b.address, protocol, b.port)) return {dq::Verdict::Drop, {}};
      continue;
    }
    policy::Verdict v = s.evaluator->evaluate(src, *b.address, protocol, b.port);
    if (!v.allowed)
      return {dq::Verdict::Drop, prefix() + " backend " + backend(b) +
                                     " denied (egress: " + v.egress.describe() +
                                     "; ingress: " + v.ingress.describe() + ")"};
  }
  if (judged == 0)
    return {dq::Verdict::Hold, why ? prefix() + " no ready backend yet" : std::string()};
  return {dq::Verdict::Accept,
          why ? prefix() + " all " + std::to_string(judged) + " ready backends allow it"
              : std::string()};
}

uint64_t RulesetDecider::revision() const { return current_.load()->ruleset.revision(); }

dq::Decision RulesetDecider::decide(const dq::QueuedPacket& q, dq::Explain explain) {
  std::shared_ptr<const Snapshot> s = current_.load();
  const dq::PacketInfo& p = q.packet;
  policy::IpAddress src = toIpAddress(p.src), dst = toIpAddress(p.dst);
  auto protocol = static_cast<policy::Protocol>(p.protocol);
  int32_t port = p.has_ports ? p.dst_port : 0;
  const bool src_pending = s->pending(src);
  if (auto services = services_.load(); services && p.has_ports && !src_pending)
    if (const ServiceTarget* t = services->find(dst, protocol, port))
      return decideService(*s, *t, src, protocol, explain);
  const policy::IpAddress* pending = src_pending ? &src : s->pending(dst) ? &dst : nullptr;
  if (pending != nullptr) {
    if (explain == dq::Explain::No) return {dq::Verdict::Hold, {}};
    return {dq::Verdict::Hold, "pending pod " + pending->toString() +
                                   " (in this node's pod CIDR, not known yet; revision " +
                                   std::to_string(s->ruleset.revision()) + ")"};
  }
  // Port sets hold TCP, UDP and SCTP ranges only, so any other protocol (ICMP,
  // a later fragment) matches exactly the rules without ports, as in the kernel.
  if (explain == dq::Explain::No)
    return {
        s->evaluator->allows(src, dst, protocol, port) ? dq::Verdict::Accept : dq::Verdict::Drop,
        {}};
  policy::Verdict v = s->evaluator->evaluate(src, dst, protocol, port);
  std::string reason = "egress: " + v.egress.describe() + "; ingress: " + v.ingress.describe();
  return {v.allowed ? dq::Verdict::Accept : dq::Verdict::Drop, std::move(reason)};
}

}  // namespace palisade::agent::queue
