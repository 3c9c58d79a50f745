#include "policy/compile/ruleset_builder.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace palisade::policy {

ir::Protocol toIr(Protocol p) { return static_cast<ir::Protocol>(static_cast<int>(p)); }

std::vector<PortInterval> canonicalPorts(std::vector<PortInterval> ports) {
  std::sort(ports.begin(), ports.end());
  std::vector<PortInterval> out;
  for (const PortInterval& p : ports) {
    if (!out.empty() && out.back().protocol == p.protocol && p.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, p.last);
    } else {
      out.push_back(p);
    }
  }
  return out;
}

std::vector<PortInterval> resolvePorts(const ClusterState& state,
                                       const std::vector<NetworkPolicyPort>& ports,
                                       const PodRecord* target, bool* had_named) {
  std::vector<PortInterval> out;
  for (const NetworkPolicyPort& p : ports) {
    if (!p.port) {
      out.push_back({p.protocol, 0, 65535});
    } else if (!p.port->isNamed()) {
      const auto first = static_cast<uint32_t>(p.port->number());
      const auto last = p.end_port ? static_cast<uint32_t>(*p.end_port) : first;
      out.push_back({p.protocol, first, std::max(first, last)});
    } else {
      if (had_named != nullptr) *had_named = true;
      if (target == nullptr) continue;
      const Symbol name = state.symbols().find(p.port->name());
      for (const PodPort& cp : target->ports) {
        if (cp.name == name && name != 0 && cp.protocol == p.protocol) {
          out.push_back(
              {p.protocol, static_cast<uint32_t>(cp.port), static_cast<uint32_t>(cp.port)});
        }
      }
    }
  }
  return canonicalPorts(std::move(out));
}

namespace {

void appendKey(std::string& out, const std::vector<uint32_t>& key) {
  out.append(reinterpret_cast<const char*>(key.data()), key.size() * sizeof(uint32_t));
}

std::string peerKey(const CompiledPeer& peer, Symbol policy_ns) {
  std::string k;
  if (peer.node) {
    k = "D";
    appendKey(k, peer.node->key());
    return k;
  }
  if (peer.block) {
    k = "B";
    for (const Cidr& c : peer.block_cidrs) k += c.toString() + ",";
    return k;
  }
  if (peer.ns) {
    k = "N";
    appendKey(k, peer.ns->key());
  } else {
    k = "L";
    k.append(reinterpret_cast<const char*>(&policy_ns), sizeof(policy_ns));
  }
  k += "P";
  if (peer.pod) appendKey(k, peer.pod->key());
  return k;
}

/// One peer as process-independent text (see ir::PeerSet.key).
std::string stablePeerText(const ClusterState& state, const CompiledPeer& peer, Symbol policy_ns) {
  const SymbolTable& symbols = state.symbols();
  if (peer.node) return "nodes{" + peer.node->canonical(symbols) + "}";
  if (peer.block) {
    std::string k = "cidrs";
    for (const Cidr& c : peer.block_cidrs) k += " " + c.toString();
    return k;
  }
  std::string k = peer.ns ? "namespaces{" + peer.ns->canonical(symbols) + "}"
                          : "namespace " + std::string(state.str(policy_ns));
  k += " pods{" + (peer.pod ? peer.pod->canonical(symbols) : std::string()) + "}";
  return k;
}

/// A peer set's identity as process-independent text: the same peers give
/// the same key in every compile (ir::PeerSet.key).
std::string stableSetKey(const ClusterState& state, const PeerSetSource& source) {
  std::vector<std::string> parts;
  parts.reserve(source.peers.size());
  for (const CompiledPeer& p : source.peers)
    parts.push_back(stablePeerText(state, p, source.policy_ns));
  std::sort(parts.begin(), parts.end());
  parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
  std::string key;
  for (const auto& p : parts) {
    if (!key.empty()) key += " | ";
    key += p;
  }
  if (source.named) {
    // A named group of a rule without peers holds any pod with the port,
    // whatever the policy's namespace (so does the set it shares).
    if (source.peers.empty()) key = "any pod";
    key += " with port " + std::string(state.str(source.port_name)) + "/" +
           protocolName(source.protocol) + "=" + std::to_string(source.number);
  }
  return key;
}

std::string describePeer(const ClusterState& state, const CompiledPeer& peer, Symbol policy_ns) {
  if (peer.node) {
    return peer.node->matchesEverything() ? "all nodes"
                                          : "nodes {" + peer.node->describe(state.symbols()) + "}";
  }
  if (peer.block) {
    std::string d = "ipBlock " + peer.block->cidr.toString();
    if (!peer.block->except.empty()) {
      d += " except";
      for (const Cidr& c : peer.block->except) d += " " + c.toString();
    }
    return d;
  }
  const std::string pods = peer.pod && !peer.pod->matchesEverything()
                               ? "pods {" + peer.pod->describe(state.symbols()) + "}"
                               : "all pods";
  if (!peer.ns) return pods + " in namespace " + std::string(state.str(policy_ns));
  if (peer.ns->matchesEverything()) return pods + " in all namespaces";
  return pods + " in namespaces {" + peer.ns->describe(state.symbols()) + "}";
}

/// Every pod one selector peer selects: from the pods of the matching
/// namespaces, or from the pods carrying a label the pod selector requires,
/// whichever is fewer (a cluster-wide `app=web` peer need not look at every
/// pod of the cluster; `team=a` namespaces need not look at every web pod).
void collectPeerPods(const ClusterState& state, const CompiledPeer& peer, Symbol policy_ns,
                     std::vector<PodId>& out) {
  auto take = [&](PodId id) {
    const PodRecord& p = state.pod(id);
    if (!p.host_network && (!peer.pod || peer.pod->matches(p.labels))) out.push_back(id);
  };
  std::vector<const NamespaceRecord*> namespaces;
  size_t in_namespaces = 0;
  if (!peer.ns) {
    if (const NamespaceRecord* ns = state.findNamespace(policy_ns)) namespaces.push_back(ns);
  } else {
    for (const auto& [sym, ns] : state.namespaces())
      if (peer.ns->matches(ns.labels)) namespaces.push_back(&ns);
  }
  for (const NamespaceRecord* ns : namespaces) in_namespaces += ns->pods.size();
  const auto required = peer.pod ? peer.pod->requiredLabel() : std::nullopt;
  const std::unordered_set<PodId>* labelled =
      required ? state.podsWithLabel(required->first, required->second) : nullptr;
  if (required && (labelled == nullptr || labelled->size() < in_namespaces)) {
    if (labelled == nullptr) return;  // no pod has the label
    std::unordered_set<Symbol> selected;
    for (const NamespaceRecord* ns : namespaces) selected.insert(ns->name);
    for (PodId id : *labelled)
      if (selected.count(state.pod(id).namespace_)) take(id);
    return;
  }
  for (const NamespaceRecord* ns : namespaces)
    for (PodId id : ns->pods) take(id);
}

}  // namespace

std::string peersKey(const ClusterState& state, const CompiledRule& rule, Symbol policy_ns) {
  std::vector<std::string> parts;
  parts.reserve(rule.peers.size());
  for (const CompiledPeer& p : rule.peers) parts.push_back(peerKey(p, policy_ns));
  std::sort(parts.begin(), parts.end());
  parts.erase(std::unique(parts.begin(), parts.end()), parts.end());
  std::string key;
  for (const auto& p : parts) {
    key += p;
    key += '\x01';
  }
  return key;
}

std::string namedGroupKey(const std::string& peers_key, std::string_view port_name,
                          Protocol protocol, int32_t number) {
  return "named:" + peers_key + std::string(port_name) + ":" + protocolName(protocol) + ":" +
         std::to_string(number);
}

std::vector<IpAddress> contributedAddresses(const ClusterState& state, const PeerSetSource& source,
                                            const PodRecord& pod) {
  if (!pod.live) return {};
  auto selected = [&] {
    return std::any_of(source.peers.begin(), source.peers.end(), [&](const CompiledPeer& peer) {
      return !peer.block && state.peerSelectsRecord(peer, source.policy_ns, pod);
    });
  };
  if (!source.named) return selected() ? pod.ips : std::vector<IpAddress>{};
  const PodPort* port = nullptr;
  for (const PodPort& cp : pod.ports) {
    if (cp.name == source.port_name && cp.protocol == source.protocol) port = &cp;
  }
  if (port == nullptr || port->port != source.number) return {};
  if (source.peers.empty() || selected()) return pod.ips;
  // ipBlock peers: only the pod's addresses inside a block.
  std::vector<IpAddress> out;
  for (const IpAddress& a : pod.ips) {
    if (std::any_of(source.blocks.begin(), source.blocks.end(),
                    [&](const Cidr& c) { return c.contains(a); })) {
      out.push_back(a);
    }
  }
  return out;
}

bool rulePeersSelectPod(const ClusterState& state, const CompiledRule& rule, Symbol policy_ns,
                        PodId id) {
  for (const CompiledPeer& peer : rule.peers) {
    if (!peer.block && state.peerSelectsPod(peer, policy_ns, id)) return true;
  }
  return false;
}

void fillPeerAddresses(const std::vector<Cidr>& blocks, std::vector<IpAddress> addresses,
                       ir::PeerSet& out) {
  const std::vector<Cidr> merged = canonicalizeCidrs(blocks);
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  std::vector<Cidr> all = merged;
  for (const IpAddress& a : addresses) {
    // merged is sorted and non-overlapping: the candidate container is the
    // last prefix starting at or before the address.
    auto it = std::upper_bound(merged.begin(), merged.end(), a,
                               [](const IpAddress& x, const Cidr& c) { return x < c.first(); });
    if (it != merged.begin() && std::prev(it)->contains(a)) continue;
    all.push_back(Cidr::host(a));
  }
  std::sort(all.begin(), all.end());
  for (const Cidr& c : all) {
    if (c.family() == Family::V4) {
      auto* v4 = out.add_v4();
      v4->set_address(c.address().v4Value());
      v4->set_prefix_len(c.prefixLen());
    } else {
      auto* v6 = out.add_v6();
      v6->set_high(c.address().high());
      v6->set_low(c.address().low());
      v6->set_prefix_len(c.prefixLen());
    }
  }
}

RulesetBuilder::RulesetBuilder(const ClusterState& state, std::string_view node)
    : state_(state), node_(node), node_symbol_(state.symbols().find(node)) {
  fillNode();
}

void RulesetBuilder::fillNode() {
  ir::NodeInfo* info = ruleset_.mutable_node();
  info->set_name(node_);
  const NodeRecord* rec = node_.empty() ? nullptr : state_.findNode(node_);
  if (rec == nullptr) return;
  for (const IpAddress& a : rec->addresses) {
    if (a.isV4()) {
      info->add_addresses_v4(a.v4Value());
    } else {
      auto* v6 = info->add_addresses_v6();
      v6->set_high(a.high());
      v6->set_low(a.low());
      v6->set_prefix_len(128);
    }
  }
  for (const Cidr& c : rec->pod_cidrs) {
    if (c.family() == Family::V4) {
      auto* v4 = info->add_pod_cidrs_v4();
      v4->set_address(c.address().v4Value());
      v4->set_prefix_len(c.prefixLen());
    } else {
      auto* v6 = info->add_pod_cidrs_v6();
      v6->set_high(c.address().high());
      v6->set_low(c.address().low());
      v6->set_prefix_len(c.prefixLen());
    }
  }
}

bool RulesetBuilder::isLocal(const PodRecord& pod) const {
  if (!pod.live || pod.host_network) return false;
  // The node's name may not have been interned when the builder was made.
  return node_.empty() || pod.node == node_symbol_ || state_.str(pod.node) == node_;
}

ir::Ruleset RulesetBuilder::build() {
  buildInPlace();
  return std::move(ruleset_);
}

void RulesetBuilder::buildInPlace() {
  // The node index, not a walk of every pod: a node holds a few dozen of a
  // cluster's 150k pods. No node (the CLI's whole-cluster view): every pod.
  for (PodId id : node_.empty() ? state_.podsSorted() : state_.podsSortedOn(node_)) {
    if (!isLocal(state_.pod(id))) continue;
    fillEndpoint(id, *ruleset_.add_endpoints());
  }
}

void RulesetBuilder::fillEndpoint(PodId id, ir::Endpoint& out) {
  const PodRecord& p = state_.pod(id);
  out.set_namespace_(std::string(state_.str(p.namespace_)));
  out.set_name(std::string(state_.str(p.name)));
  out.set_node(std::string(state_.str(p.node)));
  for (const IpAddress& a : p.ips) {
    if (a.isV4()) {
      out.add_ipv4(a.v4Value());
    } else {
      auto* v6 = out.add_ipv6();
      v6->set_high(a.high());
      v6->set_low(a.low());
      v6->set_prefix_len(128);
    }
  }
  for (const PodPort& port : p.ports) {
    if (port.name == 0) continue;
    auto* np = out.add_named_ports();
    np->set_name(std::string(state_.str(port.name)));
    np->set_protocol(toIr(port.protocol));
    np->set_port(static_cast<uint32_t>(port.port));
  }
  out.set_state(p.ips.empty() ? ir::Endpoint::PENDING : ir::Endpoint::READY);
  const EndpointPrograms programs = programsFor(id);
  out.set_ingress_program(programs.ingress);
  out.set_egress_program(programs.egress);
  out.set_admin_ingress_program(programs.admin_ingress);
  out.set_admin_egress_program(programs.admin_egress);
  out.set_baseline_ingress_program(programs.baseline_ingress);
  out.set_baseline_egress_program(programs.baseline_egress);
}

RulesetBuilder::EndpointPrograms RulesetBuilder::programsFor(PodId id) {
  const PodRecord& p = state_.pod(id);
  std::vector<PolicyId> ingress, egress;
  for (PolicyId pid : state_.policiesIn(p.namespace_)) {
    const PolicyRecord& pol = state_.policy(pid);
    if (!state_.policySelectsPod(pol, id)) continue;
    if (pol.affects_ingress) ingress.push_back(pid);
    if (pol.affects_egress) egress.push_back(pid);
  }
  auto by_name = [this](PolicyId a, PolicyId b) {
    return state_.str(state_.policy(a).name) < state_.str(state_.policy(b).name);
  };
  std::sort(ingress.begin(), ingress.end(), by_name);
  std::sort(egress.begin(), egress.end(), by_name);
  EndpointPrograms out;
  out.ingress = ingress.empty() ? 0 : programFor(ir::INGRESS, ingress, id);
  out.egress = egress.empty() ? 0 : programFor(ir::EGRESS, egress, id);
  for (Tier tier : {Tier::Admin, Tier::Baseline}) {
    std::vector<ClusterPolicyId> selecting;  // already in evaluation order
    for (ClusterPolicyId cid : state_.clusterPoliciesIn(tier)) {
      if (state_.clusterPolicySelectsPod(state_.clusterPolicy(cid), id)) selecting.push_back(cid);
    }
    if (selecting.empty()) continue;
    const uint32_t in = tierProgramFor(ir::INGRESS, tier, selecting, id);
    const uint32_t eg = tierProgramFor(ir::EGRESS, tier, selecting, id);
    (tier == Tier::Admin ? out.admin_ingress : out.baseline_ingress) = in;
    (tier == Tier::Admin ? out.admin_egress : out.baseline_egress) = eg;
  }
  return out;
}

namespace {

/// The identity of a list of rules, for sharing programs.
void appendRulesKey(std::string& key, const std::vector<ir::Rule>& rules) {
  for (const ir::Rule& r : rules) {
    const ir::Provenance& pv = r.provenance();
    key += std::to_string(r.peer_set()) + ":" + std::to_string(r.port_set()) + ":" +
           std::to_string(r.action()) + ":" + pv.policy_kind() + ":" + pv.policy_name() + ":" +
           std::to_string(pv.rule_index()) + ";";
  }
}

ir::Tier toIr(Tier t) { return t == Tier::Admin ? ir::TIER_ADMIN : ir::TIER_BASELINE; }

ir::Action toIr(ClusterRuleAction a) {
  switch (a) {
    case ClusterRuleAction::Accept:
      return ir::ACTION_ACCEPT;
    case ClusterRuleAction::Deny:
      return ir::ACTION_DENY;
    case ClusterRuleAction::Pass:
      return ir::ACTION_PASS;
  }
  return ir::ACTION_DENY;
}

}  // namespace

uint32_t RulesetBuilder::addProgram(std::string key, ir::Direction direction, ir::Tier tier,
                                    std::vector<ir::Rule> rules,
                                    const std::vector<std::pair<Symbol, Symbol>>& isolated_by) {
  if (auto it = programs_.find(key); it != programs_.end()) return it->second;
  const auto id = static_cast<uint32_t>(ruleset_.programs_size() + 1);
  ir::Program* prog = ruleset_.add_programs();
  prog->set_id(id);
  prog->set_direction(direction);
  prog->set_tier(tier);
  for (ir::Rule& r : rules) *prog->add_rules() = std::move(r);
  for (const auto& [ns, name] : isolated_by) {
    auto* ref = prog->add_isolated_by();
    ref->set_namespace_(std::string(state_.str(ns)));
    ref->set_name(std::string(state_.str(name)));
  }
  programs_.emplace(std::move(key), id);
  return id;
}

uint32_t RulesetBuilder::programFor(ir::Direction direction, const std::vector<PolicyId>& isolating,
                                    PodId target) {
  std::vector<ir::Rule> rules;
  std::vector<std::pair<Symbol, Symbol>> names;
  for (PolicyId pid : isolating) {
    const PolicyRecord& pol = state_.policy(pid);
    names.emplace_back(pol.namespace_, pol.name);
    const auto& policy_rules = direction == ir::INGRESS ? pol.ingress : pol.egress;
    for (uint32_t i = 0; i < policy_rules.size(); ++i) {
      ir::Provenance pv;
      pv.set_policy_namespace(std::string(state_.str(pol.namespace_)));
      pv.set_policy_name(std::string(state_.str(pol.name)));
      pv.set_rule_index(i);
      pv.set_direction(direction);
      appendRule(direction, policy_rules[i], pol.namespace_, target, pv, ir::ACTION_ACCEPT, rules);
    }
  }
  // The program's identity: direction, who isolates, and the resolved rules.
  std::string key(1, static_cast<char>(direction));
  for (const auto& [ns, name] : names) {
    key += state_.str(ns);
    key += '/';
    key += state_.str(name);
    key += '\x01';
  }
  appendRulesKey(key, rules);
  return addProgram(std::move(key), direction, ir::TIER_NETWORK_POLICY, std::move(rules), names);
}

uint32_t RulesetBuilder::tierProgramFor(ir::Direction direction, Tier tier,
                                        const std::vector<ClusterPolicyId>& selecting,
                                        PodId target) {
  // Entries of an older cluster-policy revision can never match again: drop
  // them rather than let the memo grow with every cluster policy change.
  if (tier_programs_revision_ != state_.clusterPolicyRevision()) {
    tier_programs_.clear();
    tier_programs_revision_ = state_.clusterPolicyRevision();
  }
  std::string made_of = std::to_string(static_cast<int>(tier)) + ":" +
                        std::to_string(static_cast<int>(direction)) + ":";
  for (ClusterPolicyId cid : selecting) made_of += std::to_string(cid) + ",";
  if (direction == ir::INGRESS) {
    for (const PodPort& p : state_.pod(target).ports)
      made_of += ";" + std::to_string(p.name) + "/" + std::to_string(static_cast<int>(p.protocol)) +
                 "=" + std::to_string(p.port);
  }
  if (auto it = tier_programs_.find(made_of); it != tier_programs_.end()) return it->second;
  const uint32_t id = buildTierProgram(direction, tier, selecting, target);
  tier_programs_.emplace(std::move(made_of), id);
  return id;
}

uint32_t RulesetBuilder::buildTierProgram(ir::Direction direction, Tier tier,
                                          const std::vector<ClusterPolicyId>& selecting,
                                          PodId target) {
  std::vector<ir::Rule> rules;
  std::vector<std::pair<Symbol, Symbol>> names;
  for (ClusterPolicyId cid : selecting) {
    const ClusterPolicyRecord& pol = state_.clusterPolicy(cid);
    names.emplace_back(0, pol.name);
    for (const ClusterRuleRecord& rule : direction == ir::INGRESS ? pol.ingress : pol.egress) {
      if (rule.matches_nothing) continue;
      ir::Provenance pv;
      pv.set_policy_name(std::string(state_.str(pol.name)));
      pv.set_policy_kind(clusterPolicyKindName(pol.kind));
      pv.set_rule_index(rule.index);
      pv.set_rule_name(rule.name);
      pv.set_direction(direction);
      pv.set_tier(toIr(tier));
      if (rule.deny_all) {  // fail closed: any peer, any port
        ir::Rule r;
        r.set_action(ir::ACTION_DENY);
        *r.mutable_provenance() = std::move(pv);
        rules.push_back(std::move(r));
        continue;
      }
      // One IR rule per selector peer, and one for the address peers together,
      // each with the rule's action (consecutive, so first-match order holds):
      // a peer set is then one selector's pods, shared by every rule and
      // policy naming that selector, instead of one set per combination of
      // peers — cluster-wide selectors ("every prod namespace") select tens of
      // thousands of pods, and combinations would repeat them in many sets.
      CompiledRule addresses{{}, rule.match.ports};
      for (const CompiledPeer& peer : rule.match.peers) {
        if (peer.block || peer.node) {
          addresses.peers.push_back(peer);
          continue;
        }
        appendRule(direction, CompiledRule{{peer}, rule.match.ports}, 0, target, pv,
                   toIr(rule.action), rules);
      }
      if (!addresses.peers.empty())
        appendRule(direction, addresses, 0, target, pv, toIr(rule.action), rules);
    }
  }
  // No rule for this direction: no program (the tier passes it by).
  if (rules.empty()) return 0;
  // Identity: tier, direction, the selecting policies (what explain names) and the rules.
  std::string key = "T" + std::to_string(static_cast<int>(tier)) + std::string(1, char(direction));
  for (const auto& [ns, name] : names) {
    key += state_.str(name);
    key += '\x01';
  }
  appendRulesKey(key, rules);
  return addProgram(std::move(key), direction, toIr(tier), std::move(rules), names);
}

void RulesetBuilder::appendRule(ir::Direction direction, const CompiledRule& rule, Symbol policy_ns,
                                PodId target, const ir::Provenance& provenance, ir::Action action,
                                std::vector<ir::Rule>& out) {
  auto finish = [&](ir::Rule& r) {
    *r.mutable_provenance() = provenance;
    r.set_action(action);
  };
  bool had_named = false;
  // Ingress named ports resolve against the local endpoint itself; egress
  // ones against each peer pod (below).
  const PodRecord* resolve_against = direction == ir::INGRESS ? &state_.pod(target) : nullptr;
  const std::vector<PortInterval> ports =
      resolvePorts(state_, rule.ports, resolve_against, &had_named);
  if (rule.ports.empty() || !ports.empty()) {
    ir::Rule r;
    r.set_peer_set(rule.peers.empty() ? 0 : peerSetForRule(policy_ns, rule));
    r.set_port_set(rule.ports.empty() ? 0 : portSetFor(ports));
    finish(r);
    out.push_back(std::move(r));
  }
  if (direction == ir::EGRESS && had_named) {
    // One rule becomes several consecutive IR rules with its action, so a
    // tier's first-match order is kept.
    const size_t before = out.size();
    appendNamedEgressRules(policy_ns, rule, provenance.rule_index(), out);
    for (size_t k = before; k < out.size(); ++k) finish(out[k]);
  }
}

void RulesetBuilder::appendNamedEgressRules(Symbol policy_ns, const CompiledRule& rule,
                                            uint32_t rule_index, std::vector<ir::Rule>& out) {
  const std::string peers = peersKey(state_, rule, policy_ns);
  for (const NetworkPolicyPort& entry : rule.ports) {
    if (!entry.port || !entry.port->isNamed()) continue;
    const Symbol name = state_.symbols().find(entry.port->name());
    if (name == SymbolTable::kNone) continue;
    const std::string source_key = peers + entry.port->name() + ":" + protocolName(entry.protocol);
    auto [index, inserted] = named_source_index_.emplace(source_key, named_sources_.size());
    if (inserted) {
      named_sources_.push_back({policy_ns, rule.peers, peers, name, entry.protocol, {}});
    }
    // Destination pods grouped by the number this name resolves to on them.
    PeerSetSource probe{policy_ns, rule.peers, {}, true, name, entry.protocol, 0};
    for (const CompiledPeer& peer : rule.peers) {
      probe.blocks.insert(probe.blocks.end(), peer.block_cidrs.begin(), peer.block_cidrs.end());
    }
    std::set<int32_t>& numbers = named_sources_[index->second].numbers;
    // The numbers depend on the peers and the name, not on the subject pod:
    // scan the destination pods once per source. Later programs (another
    // subject, or a pod added incrementally) reuse them; a number that appears
    // later is the incremental compiler's cue to recompile (needsNewNamedGroup).
    // One scan finds every number and the addresses of each group (a name such
    // as "http" is on most of a cluster's pods); namespace matches are
    // memoised per peer, since a namespace's pods share its labels.
    std::map<int32_t, std::vector<IpAddress>> found;
    const auto* candidates = inserted ? state_.podsWithPortName(name) : nullptr;
    if (candidates != nullptr) {
      std::vector<std::unordered_map<Symbol, bool>> ns_matches(rule.peers.size());
      const bool has_blocks = !probe.blocks.empty();
      auto selects = [&](const PodRecord& p) {
        if (!p.live || p.host_network) return false;
        for (size_t k = 0; k < rule.peers.size(); ++k) {
          const CompiledPeer& peer = rule.peers[k];
          if (peer.block || peer.node) continue;
          bool ns_ok = p.namespace_ == policy_ns;
          if (peer.ns) {
            auto [it, fresh] = ns_matches[k].try_emplace(p.namespace_, false);
            if (fresh) {
              const NamespaceRecord* ns = state_.findNamespace(p.namespace_);
              it->second = ns != nullptr && peer.ns->matches(ns->labels);
            }
            ns_ok = it->second;
          }
          if (ns_ok && (!peer.pod || peer.pod->matches(p.labels))) return true;
        }
        return false;
      };
      // The peers' own pods, when they are fewer than the pods with the name
      // (only selector peers: block peers reach any pod with the port).
      std::vector<PodId> peer_pods;
      const bool selectors_only =
          !has_blocks && !rule.peers.empty() &&
          std::none_of(rule.peers.begin(), rule.peers.end(),
                       [](const CompiledPeer& peer) { return peer.block || peer.node; });
      if (selectors_only) {
        for (const CompiledPeer& peer : rule.peers)
          collectPeerPods(state_, peer, policy_ns, peer_pods);
        std::sort(peer_pods.begin(), peer_pods.end());
        peer_pods.erase(std::unique(peer_pods.begin(), peer_pods.end()), peer_pods.end());
      }
      const bool from_peers = selectors_only && peer_pods.size() < candidates->size();
      std::vector<PodId> scan = from_peers
                                    ? std::move(peer_pods)
                                    : std::vector<PodId>(candidates->begin(), candidates->end());
      for (PodId id : scan) {
        const PodRecord& p = state_.pod(id);
        if (!p.live) continue;
        const PodPort* port = nullptr;  // the last match, as contributedAddresses takes it
        for (const PodPort& cp : p.ports)
          if (cp.name == name && cp.protocol == entry.protocol) port = &cp;
        if (port == nullptr) continue;
        std::vector<IpAddress> addresses;
        if (rule.peers.empty() || selects(p)) {
          addresses = p.ips;
        } else if (has_blocks) {
          probe.number = port->port;
          addresses = contributedAddresses(state_, probe, p);
        }
        if (addresses.empty()) continue;
        numbers.insert(port->port);
        auto& group = found[port->port];
        group.insert(group.end(), addresses.begin(), addresses.end());
      }
    }
    for (const int32_t number : numbers) {
      PeerSetSource source = probe;
      source.number = number;
      const std::string description = "pods with port " + entry.port->name() + "=" +
                                      std::to_string(number) + "/" + protocolName(entry.protocol) +
                                      " among rule " + std::to_string(rule_index) + "'s peers";
      auto addresses = found.find(number);
      ir::Rule r;
      r.set_peer_set(addPeerSet(namedGroupKey(peers, entry.port->name(), entry.protocol, number),
                                std::move(source), description,
                                addresses == found.end() ? nullptr : &addresses->second));
      const auto n = static_cast<uint32_t>(number);
      r.set_port_set(portSetFor({{entry.protocol, n, n}}));
      out.push_back(std::move(r));
    }
  }
}

uint32_t RulesetBuilder::peerSetForRule(Symbol policy_ns, const CompiledRule& rule) {
  const std::string key = peersKey(state_, rule, policy_ns);
  if (auto it = peer_sets_.find(key); it != peer_sets_.end()) return it->second;
  PeerSetSource source;
  source.policy_ns = policy_ns;
  source.peers = rule.peers;
  std::string description;
  for (const CompiledPeer& peer : rule.peers) {
    if (!description.empty()) description += " or ";
    description += describePeer(state_, peer, policy_ns);
    source.blocks.insert(source.blocks.end(), peer.block_cidrs.begin(), peer.block_cidrs.end());
    // A node peer is its nodes' addresses (a node change recompiles in full).
    if (peer.node) {
      for (const IpAddress& a : state_.nodeAddressesSelected(*peer.node))
        source.blocks.push_back(Cidr::host(a));
    }
  }
  return addPeerSet(key, std::move(source), std::move(description));
}

uint32_t RulesetBuilder::addPeerSet(const std::string& key, PeerSetSource source,
                                    std::string description,
                                    const std::vector<IpAddress>* named_addresses) {
  if (auto it = peer_sets_.find(key); it != peer_sets_.end()) return it->second;
  const auto id = static_cast<uint32_t>(ruleset_.peer_sets_size() + 1);
  ir::PeerSet* set = ruleset_.add_peer_sets();
  set->set_id(id);
  set->set_description(std::move(description));
  set->set_key(stableSetKey(state_, source));
  // A named group holds pod addresses only (an ipBlock peer admits a pod's
  // address, never the block). Otherwise an ipBlock or networks peer adds
  // prefixes, and node addresses are merged as blocks (adjacent ones into one).
  set->set_hosts_only(source.named ||
                      std::none_of(source.peers.begin(), source.peers.end(),
                                   [](const CompiledPeer& p) { return p.block || p.node; }));
  const bool named = source.named;
  sources_.push_back(std::move(source));
  peer_sets_.emplace(key, id);
  if (named && named_addresses != nullptr)
    fillPeerAddresses({}, *named_addresses, *set);  // what rebuildPeerSet would find
  else
    rebuildPeerSet(id);
  return id;
}

void RulesetBuilder::retire(const std::unordered_set<uint32_t>& keep_programs,
                            const std::unordered_set<uint32_t>& keep_sets,
                            std::vector<uint32_t>& programs_out, std::vector<uint32_t>& sets_out) {
  std::unordered_set<uint32_t> programs, sets;
  for (ir::Program& p : *ruleset_.mutable_programs()) {
    if (p.retired() || keep_programs.count(p.id())) continue;
    p.clear_rules();
    p.clear_isolated_by();
    p.set_retired(true);
    programs.insert(p.id());
    programs_out.push_back(p.id());
  }
  for (ir::PeerSet& s : *ruleset_.mutable_peer_sets()) {
    if (s.retired() || keep_sets.count(s.id()) || sources_[s.id() - 1].named) continue;
    s.clear_v4();
    s.clear_v6();
    s.set_retired(true);
    sets.insert(s.id());
    sets_out.push_back(s.id());
  }
  // Forget them by content, so an equal program or set made later gets a new id.
  std::erase_if(programs_, [&](const auto& kv) { return programs.count(kv.second) != 0; });
  std::erase_if(tier_programs_, [&](const auto& kv) { return programs.count(kv.second) != 0; });
  std::erase_if(peer_sets_, [&](const auto& kv) { return sets.count(kv.second) != 0; });
  retired_programs_ += programs.size();
  retired_peer_sets_ += sets.size();
}

void RulesetBuilder::rebuildPeerSet(uint32_t id) {
  const PeerSetSource& source = sources_[id - 1];
  std::vector<IpAddress> addresses;
  auto add = [&](const PodRecord& p) {
    auto a = contributedAddresses(state_, source, p);
    addresses.insert(addresses.end(), a.begin(), a.end());
  };
  if (source.named) {
    if (const auto* candidates = state_.podsWithPortName(source.port_name)) {
      for (PodId pid : *candidates) add(state_.pod(pid));
    }
  } else {
    std::vector<PodId> pods;
    for (const CompiledPeer& peer : source.peers) {
      if (!peer.block) collectPeerPods(state_, peer, source.policy_ns, pods);
    }
    for (PodId pid : pods) {
      const auto& ips = state_.pod(pid).ips;
      addresses.insert(addresses.end(), ips.begin(), ips.end());
    }
  }
  ir::PeerSet& set = *ruleset_.mutable_peer_sets(static_cast<int>(id - 1));
  set.clear_v4();
  set.clear_v6();
  fillPeerAddresses(source.named ? std::vector<Cidr>{} : source.blocks, std::move(addresses), set);
}

uint32_t RulesetBuilder::portSetFor(const std::vector<PortInterval>& ports) {
  std::string key;
  for (const PortInterval& p : ports) {
    key += std::to_string(static_cast<int>(p.protocol)) + ":" + std::to_string(p.first) + "-" +
           std::to_string(p.last) + ",";
  }
  if (auto it = port_sets_.find(key); it != port_sets_.end()) return it->second;
  const auto id = static_cast<uint32_t>(ruleset_.port_sets_size() + 1);
  ir::PortSet* set = ruleset_.add_port_sets();
  set->set_id(id);
  for (const PortInterval& p : ports) {
    auto* r = set->add_ranges();
    r->set_protocol(toIr(p.protocol));
    r->set_first(p.first);
    r->set_last(p.last);
  }
  port_sets_.emplace(std::move(key), id);
  return id;
}

}  // namespace palisade::policy
