#include "agent/lab/lab_flow_prober.h"

#include <algorithm>
#include <map>

#include "agent/lab/flow_probe.h"
#include "agent/lab/plan.h"
#include "agent/lab/services.h"
#include "agent/lab/topology.h"
#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"

namespace palisade::agent::lab {
namespace {

using conformance::FlowOutcome;
using conformance::FlowProbe;
using conformance::FlowProbeReport;
using policy::ClusterState;

// After the lab's prefix. planLab's namespace names have no '.', so a
// LabProber and this prober may share a lab name.
constexpr const char* kInfix = "c.";

const char* word(bool allowed) { return allowed ? "allow" : "deny"; }

/// What the lab is built from: nodes and their addresses, pods with their
/// node, host network and IPs. Labels and policies are left out: they change
/// between steps, the lab does not.
std::string topologyKey(const ClusterState& state) {
  std::string key;
  for (const auto& [name, node] : state.nodes()) {
    key += "node " + name;
    for (const IpAddress& ip : node.addresses) key += " " + ip.toString();
    key += "\n";
  }
  for (policy::PodId id : state.podsSorted()) {
    const policy::PodRecord& rec = state.pod(id);
    key += "pod " + state.podName(id) + " on " + std::string(state.str(rec.node)) +
           (rec.host_network ? " host" : "");
    for (const IpAddress& ip : rec.ips) key += " " + ip.toString();
    key += "\n";
  }
  return key;
}

/// Why the kernel's verdict is not the evaluator's, for the runner's failure
/// line: real packets cannot tell which rule dropped them, the evaluator can.
void explain(const ClusterState& state, const FlowProbe& p, FlowOutcome& out) {
  policy::FlowEnd src = policy::FlowEnd::ofPod(p.src_pod);
  src.address = p.src;
  policy::FlowEnd dst = policy::FlowEnd::ofAddress(p.dst);
  dst.pod = p.dst_pod;
  const policy::Verdict v = policy::evaluate(state, src, dst, p.protocol, p.port);
  if (v.allowed == out.allowed) return;
  out.egress = std::string("the evaluator would ") + word(v.allowed) + ": " + v.egress.describe();
  out.ingress = v.ingress.describe();
  // Hairpin: the pod's own namespace delivers it over lo, before any node's
  // table could judge it (only rules inside the pod's namespace could).
  if (p.dst_pod == p.src_pod && p.dst == p.src)
    out.egress =
        "to its own IP: never leaves the pod's namespace, no node judges it; " + out.egress;
}

}  // namespace

void LabFlowProber::Serving::start() {
  stop = false;
  thread = std::thread([this] { server.run(stop); });
}

void LabFlowProber::Serving::pause() {
  if (!thread.joinable()) return;
  stop = true;
  server.wake();
  thread.join();
}

LabFlowProber::LabFlowProber(std::string name, int nodes, int timeout_ms, bool userspace_mode)
    : name_(std::move(name)),
      nodes_(std::max(nodes, 1)),
      timeout_ms_(timeout_ms),
      userspace_mode_(userspace_mode) {}

LabFlowProber::~LabFlowProber() { (void)teardown(); }

std::string LabFlowProber::netnsPrefix() const { return lab::netnsPrefix(name_) + kInfix; }

Status LabFlowProber::endCase() { return teardown(); }

Status LabFlowProber::teardown() {
  // Sockets first (the server's, the programmers' netlink), then their namespaces.
  if (serving_) serving_->pause();
  serving_.reset();
  programmers_.reset();
  listening_.clear();
  owners_.clear();
  topology_.clear();
  programmed_ = false;
  Status result = okStatus();
  if (lab_) {
    if (auto gone = destroyTopology(*lab_); !gone) result = gone.error();
    lab_.reset();
  }
  // Whatever a build that failed half-way made and did not record.
  if (auto swept = destroyNetnsPrefixed(netnsPrefix()); !swept && result) result = swept.error();
  return result;
}

Status LabFlowProber::build(const ClusterState& state) {
  auto planned = planFlowLab(state, {name_, kInfix, nodes_});
  if (!planned) return planned.error();
  lab_ = std::move(*planned);
  // Left by a process that died before its teardown: the prefix says it was ours.
  if (auto swept = destroyNetnsPrefixed(netnsPrefix()); !swept) return swept.error();
  if (auto s = createTopology(*lab_); !s) return s;
  auto programmers = NodeProgrammers::open(*lab_, userspace_mode_);
  if (!programmers) return programmers.error();
  programmers_ = std::move(*programmers);
  for (const LabPod& pod : lab_->pods) {
    for (const IpAddress& ip : pod.ips) owners_[ip] = pod.netns;
  }
  // A host-network pod's address is its node's: it answers in the node's namespace.
  for (const LabNode& node : lab_->nodes) {
    for (const IpAddress& ip : node.hosted) owners_[ip] = node.netns;
  }
  serving_ = std::make_unique<Serving>();
  topology_ = topologyKey(state);
  return okStatus();
}

Status LabFlowProber::ensureLab(const ClusterState& state) {
  if (lab_ && topology_ == topologyKey(state)) return okStatus();
  if (auto s = teardown(); !s) return s.error().context("removing the previous lab");
  return build(state);
}

Status LabFlowProber::placeDestinations(const std::vector<FlowProbe>& probes) {
  std::vector<IpAddress> outside;
  for (const FlowProbe& p : probes) {
    if (owners_.count(p.dst) == 0 &&
        std::find(outside.begin(), outside.end(), p.dst) == outside.end())
      outside.push_back(p.dst);
  }
  if (outside.empty()) return okStatus();
  if (auto s = addOutsideAddresses(*lab_, outside); !s)
    return s.error().context("outside addresses");
  for (const IpAddress& ip : outside) {
    lab_->outside->addresses.push_back(ip);
    owners_[ip] = lab_->outside->netns;
  }
  return okStatus();
}

Status LabFlowProber::ensureListeners(const std::vector<Listener>& wanted) {
  // Grouped by namespace and address: one visit each.
  std::map<std::pair<std::string, IpAddress>, std::vector<LabPort>> missing;
  for (const Listener& l : wanted) {
    if (listening_.count(l) != 0) continue;
    auto& ports = missing[{std::get<0>(l), std::get<1>(l)}];
    const LabPort port{std::get<3>(l), std::get<2>(l)};
    bool dup = std::any_of(ports.begin(), ports.end(), [&](const LabPort& q) {
      return q.port == port.port && q.protocol == port.protocol;
    });
    if (!dup) ports.push_back(port);
  }
  if (missing.empty()) return okStatus();
  // Listeners only accumulate: an extra one never changes a verdict, while a
  // missing one would turn an allowed TCP flow into a RST.
  serving_->pause();
  Status result = okStatus();
  for (const auto& [where, ports] : missing) {
    result = serving_->server.listen(where.first, where.second, ports);
    if (!result) break;
    for (const LabPort& p : ports)
      listening_.insert({where.first, where.second, p.protocol, p.port});
  }
  serving_->start();
  return result;
}

Status LabFlowProber::program(const ClusterState& state) {
  const ir::Ruleset all = policy::compile(state, "");
  std::vector<ir::Ruleset> rulesets;
  for (size_t n = 0; n < lab_->nodes.size(); ++n) rulesets.push_back(restrictToNode(all, *lab_, n));
  if (auto s = programmers_->sync(rulesets, false, nullptr); !s) return s;
  // The previous step's connections must not be judged as established: a
  // reused UDP source port would otherwise pass a flow this step denies.
  if (programmed_) {
    if (auto s = flushConntrack(*lab_); !s) return s;
  }
  programmed_ = true;
  return okStatus();
}

FlowProbeReport LabFlowProber::probe(const ClusterState& state,
                                     const std::vector<FlowProbe>& probes) {
  FlowProbeReport report;
  report.outcomes.resize(probes.size());
  // Any failure below removes the lab; the next step builds it again.
  auto fail = [&](const Error& e) {
    report.errors.push_back("lab: " + e.str());
    if (auto s = teardown(); !s) report.errors.push_back("lab: tearing down: " + s.error().str());
    return report;
  };
  if (auto s = ensureLab(state); !s) return fail(s.error());
  if (auto s = placeDestinations(probes); !s) return fail(s.error());

  std::vector<FlowAttempt> attempts;
  std::vector<size_t> attempted;  // attempts[k] is probes[attempted[k]]
  std::vector<Listener> listeners;
  for (size_t i = 0; i < probes.size(); ++i) {
    const FlowProbe& p = probes[i];
    // What no node can see is not probed (and not guessed): said per flow.
    if (p.protocol == policy::Protocol::SCTP && !sctpSocketsAvailable()) {
      report.outcomes[i].not_probed = "SCTP: this kernel cannot open SCTP sockets";
      continue;
    }
    if (p.dst_pod && *p.dst_pod == p.src_pod) {
      report.outcomes[i].not_probed =
          "a pod reaching its own address: the packet never leaves its network namespace, so "
          "no node's ruleset sees it";
      continue;
    }
    const policy::PodRecord& src = state.pod(p.src_pod);
    const LabPod* pod =
        lab_->findPod(std::string(state.str(src.namespace_)), std::string(state.str(src.name)));
    if (pod == nullptr) {
      report.outcomes[i].errors.push_back(state.podName(p.src_pod) +
                                          " has no namespace in the lab (host network?)");
      continue;
    }
    listeners.emplace_back(owners_.at(p.dst), p.dst, p.protocol, p.port);
    attempts.push_back({pod->netns, p.dst, p.protocol, p.port});
    attempted.push_back(i);
  }
  if (auto s = ensureListeners(listeners); !s) return fail(s.error());
  if (auto s = program(state); !s) return fail(s.error());

  std::vector<FlowAttemptResult> results = probeFlows(attempts, timeout_ms_);
  for (size_t k = 0; k < attempted.size(); ++k) {
    FlowOutcome& out = report.outcomes[attempted[k]];
    out.allowed = results[k].allowed;
    if (!results[k].error.empty()) out.errors.push_back(results[k].error);
    explain(state, probes[attempted[k]], out);
  }
  return report;
}

}  // namespace palisade::agent::lab
