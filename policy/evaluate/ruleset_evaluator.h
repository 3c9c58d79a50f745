#pragma once
// Evaluates packets against an ir::Ruleset by address, exactly as the kernel
// ruleset does: indexes built once, matches() const and allocation-free on the
// hot path (the packet queue uses it per new connection).
//
// A ruleset is checked once, by create(): it may come from a checkpoint file
// or another process, so a prefix length out of range is an error that names
// the set and the element, not a dereferenced empty optional.
#include <optional>
#include <unordered_map>
#include <vector>

#include "policy/evaluate/evaluate.h"
#include "proto/base/result.h"

namespace palisade::policy {

class RulesetEvaluator {
 public:
  /// Indexes `ruleset`, which must outlive the evaluator. Fails on a peer set
  /// element whose prefix length exceeds its family's address length.
  static Result<RulesetEvaluator> create(const ir::Ruleset& ruleset);

  Verdict evaluate(const IpAddress& src, const IpAddress& dst, Protocol protocol,
                   int32_t port) const;
  /// Just the decision, no reasons (the packet path).
  bool allows(const IpAddress& src, const IpAddress& dst, Protocol protocol, int32_t port) const;

  const ir::Endpoint* endpointOf(const IpAddress& address) const;

 private:
  explicit RulesetEvaluator(const ir::Ruleset& ruleset) : ruleset_(ruleset) {}
  struct Range {
    IpAddress first, last;
  };
  struct PortRange {
    uint32_t protocol, first, last;
  };
  bool inPeerSet(uint32_t id, const IpAddress& a) const;
  bool inPortSet(uint32_t id, Protocol protocol, int32_t port) const;
  bool programAllows(uint32_t program, const IpAddress& peer, Protocol protocol, int32_t port,
                     std::vector<RuleRef>* matched) const;
  DirectionVerdict judge(uint32_t program, const IpAddress& peer, Protocol protocol,
                         int32_t port) const;
  /// The first rule of a tier program that matches (none: the tier passes).
  std::optional<ClusterRuleRef> tierMatch(uint32_t program, const IpAddress& peer,
                                          Protocol protocol, int32_t port) const;
  /// One direction of an endpoint: Admin → NetworkPolicy → Baseline → allow.
  DirectionVerdict judgeDirection(const ir::Endpoint& ep, bool ingress, const IpAddress& peer,
                                  Protocol protocol, int32_t port, bool hairpin) const;
  bool directionAllows(const ir::Endpoint& ep, bool ingress, const IpAddress& peer,
                       Protocol protocol, int32_t port, bool hairpin) const;
  bool isNodeAddress(const IpAddress& a) const;

  const ir::Ruleset& ruleset_;
  std::unordered_map<uint32_t, const ir::Program*> programs_;
  std::unordered_map<uint32_t, std::vector<Range>> peer_sets_;  // sorted, non-overlapping
  std::unordered_map<uint32_t, std::vector<PortRange>> port_sets_;
  std::vector<std::pair<IpAddress, const ir::Endpoint*>> endpoints_;  // sorted by address
};

}  // namespace palisade::policy
