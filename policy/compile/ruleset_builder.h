#pragma once
// The compiler's working parts, shared by the full compile and the
// incremental compiler: content-keyed interning of peer sets, port sets and
// programs (so identical content gets one id), and the translation of one
// pod's selecting policies into programs.
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "policy/state/cluster_state.h"
#include "proto/ir.h"

namespace palisade::policy {

struct PortInterval {
  Protocol protocol;
  uint32_t first;
  uint32_t last;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  auto operator<=>(const PortInterval&) const = default;
};

/// Sorted, merged port intervals.
std::vector<PortInterval> canonicalPorts(std::vector<PortInterval> ports);

/// Numeric and protocol-only entries of a rule's ports; named entries are
/// resolved against `target` when given (ingress: the local endpoint) and
/// skipped otherwise. `had_named` tells the caller named entries existed.
std::vector<PortInterval> resolvePorts(const ClusterState& state,
                                       const std::vector<NetworkPolicyPort>& ports,
                                       const PodRecord* target, bool* had_named);

/// Canonical identity of a rule's peer list for a policy in `policy_ns`.
std::string peersKey(const ClusterState& state, const CompiledRule& rule, Symbol policy_ns);

/// Does any peer of the rule select pod `id` by identity (selectors only)?
bool rulePeersSelectPod(const ClusterState& state, const CompiledRule& rule, Symbol policy_ns,
                        PodId id);

/// What a peer set is made of, kept so its contents can be recomputed and
/// so the incremental compiler can tell which pods belong to it.
struct PeerSetSource {
  Symbol policy_ns = 0;
  std::vector<CompiledPeer> peers;  // the rule's peers (selectors and ipBlocks)
  std::vector<Cidr> blocks;         // the ipBlock peers' prefixes
  // An egress named-port group: only pods whose port `port_name`/`protocol`
  // resolves to `number`, among the rule's peers (any pod when peers is empty).
  bool named = false;
  Symbol port_name = 0;
  Protocol protocol = Protocol::TCP;
  int32_t number = 0;
};

/// An egress rule entry with a named port: new resolutions of the name on
/// new pods may need a new group (and so a new rule).
struct NamedPortSource {
  Symbol policy_ns = 0;
  std::vector<CompiledPeer> peers;
  std::string peers_key;
  Symbol port_name = 0;
  Protocol protocol = Protocol::TCP;
  // Every number a group was made for; every program using this entry gets
  // a rule per number, so programs made later stay alike.
  std::set<int32_t> numbers;
};

/// The addresses `pod` contributes to a peer set (ipBlock prefixes aside).
std::vector<IpAddress> contributedAddresses(const ClusterState& state, const PeerSetSource& source,
                                            const PodRecord& pod);

std::string namedGroupKey(const std::string& peers_key, std::string_view port_name,
                          Protocol protocol, int32_t number);

/// Builds an ir::Ruleset, handing out ids by content.
class RulesetBuilder {
 public:
  RulesetBuilder(const ClusterState& state, std::string_view node);

  /// Adds every local endpoint and what it needs; returns the finished ruleset.
  ir::Ruleset build();

  /// Is this pod one of the ruleset's endpoints (on the node, not hostNetwork)?
  bool isLocal(const PodRecord& pod) const;

  /// Fills an Endpoint message for a pod (programs included).
  void fillEndpoint(PodId pod, ir::Endpoint& out);

  ir::Ruleset& ruleset() { return ruleset_; }
  const ir::Ruleset& ruleset() const { return ruleset_; }
  /// Adds every local endpoint in place (the incremental compiler keeps the builder).
  void buildInPlace();

  const PeerSetSource& peerSetSource(uint32_t id) const { return sources_[id - 1]; }
  const std::vector<NamedPortSource>& namedPortSources() const { return named_sources_; }
  bool hasPeerSet(const std::string& key) const { return peer_sets_.count(key) != 0; }
  /// Recomputes a peer set's addresses from the current state.
  void rebuildPeerSet(uint32_t id);

  /// Retires, in place, every program not in `keep_programs` and every peer
  /// set not in `keep_sets` (named-port groups excepted: needsNewNamedGroup
  /// looks them up by key, and they cost nothing unused). A retired object
  /// has no rules or elements, is never handed out again and keeps its id,
  /// so the ids a datapath holds stay valid. Appends the ids retired now.
  void retire(const std::unordered_set<uint32_t>& keep_programs,
              const std::unordered_set<uint32_t>& keep_sets, std::vector<uint32_t>& programs_out,
              std::vector<uint32_t>& sets_out);
  /// Programs and peer sets retired so far (their slots stay in the ruleset).
  size_t retiredPrograms() const { return retired_programs_; }
  size_t retiredPeerSets() const { return retired_peer_sets_; }

 private:
  /// A pod's program ids per stage and direction (0 = none).
  struct EndpointPrograms {
    uint32_t ingress = 0, egress = 0;  // NetworkPolicy: 0 = not isolated
    uint32_t admin_ingress = 0, admin_egress = 0;
    uint32_t baseline_ingress = 0, baseline_egress = 0;
  };
  EndpointPrograms programsFor(PodId pod);
  uint32_t programFor(ir::Direction direction, const std::vector<PolicyId>& isolating,
                      PodId target);
  /// The program of one cluster tier for the policies selecting `target`
  /// (in evaluation order); 0 when they have no rule for `direction`.
  uint32_t tierProgramFor(ir::Direction direction, Tier tier,
                          const std::vector<ClusterPolicyId>& selecting, PodId target);
  uint32_t buildTierProgram(ir::Direction direction, Tier tier,
                            const std::vector<ClusterPolicyId>& selecting, PodId target);
  uint32_t addProgram(std::string key, ir::Direction direction, ir::Tier tier,
                      std::vector<ir::Rule> rules,
                      const std::vector<std::pair<Symbol, Symbol>>& isolated_by);
  /// One policy rule as IR rules (one, plus one per egress named-port group).
  void appendRule(ir::Direction direction, const CompiledRule& rule, Symbol policy_ns, PodId target,
                  const ir::Provenance& provenance, ir::Action action, std::vector<ir::Rule>& out);
  void appendNamedEgressRules(Symbol policy_ns, const CompiledRule& rule, uint32_t rule_index,
                              std::vector<ir::Rule>& out);
  uint32_t peerSetForRule(Symbol policy_ns, const CompiledRule& rule);
  /// `named_addresses`: a named-port group's addresses, already found by the
  /// scan that found its number (else the set is computed from its source).
  uint32_t addPeerSet(const std::string& key, PeerSetSource source, std::string description,
                      const std::vector<IpAddress>* named_addresses = nullptr);
  uint32_t portSetFor(const std::vector<PortInterval>& ports);
  void fillNode();

  const ClusterState& state_;
  std::string node_;
  Symbol node_symbol_;
  ir::Ruleset ruleset_;
  std::unordered_map<std::string, uint32_t> peer_sets_;
  std::unordered_map<std::string, uint32_t> port_sets_;
  std::unordered_map<std::string, uint32_t> programs_;
  // Tier programs by what they are made from (tier, direction, the selecting
  // policies at the current cluster-policy revision, and for ingress the target's
  // ports, which named ports resolve against): pods selected by the same
  // cluster policies share a program, and a pod change then skips rebuilding
  // hundreds of rules to find it again.
  std::unordered_map<std::string, uint32_t> tier_programs_;
  uint64_t tier_programs_revision_ = 0;  // the cluster-policy revision they were made at
  std::vector<PeerSetSource> sources_;   // by peer set id - 1
  std::vector<NamedPortSource> named_sources_;
  std::unordered_map<std::string, size_t> named_source_index_;
  size_t retired_programs_ = 0, retired_peer_sets_ = 0;
};

/// Fills an ir::PeerSet's addresses: ipBlock prefixes merged, plus host
/// prefixes for addresses not already covered, both families, sorted.
void fillPeerAddresses(const std::vector<Cidr>& blocks, std::vector<IpAddress> addresses,
                       ir::PeerSet& out);

ir::Protocol toIr(Protocol p);

}  // namespace palisade::policy
