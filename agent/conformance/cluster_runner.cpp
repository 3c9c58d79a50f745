#include "agent/conformance/cluster_runner.h"

#include <algorithm>
#include <map>

#include "agent/conformance/cluster_admission.h"
#include "agent/conformance/cluster_topology.h"
#include "policy/kinds/kinds.h"

namespace palisade::agent::conformance {
namespace {

using policy::ClusterState;

const char* word(bool allowed) { return allowed ? "allow" : "deny"; }

const char* familyName(policy::Family f) { return f == policy::Family::V4 ? "IPv4" : "IPv6"; }

/// "steps[1].apply[0] (line 57)"
std::string where(const std::string& field, int line) {
  return line > 0 ? field + " (line " + std::to_string(line) + ")" : field;
}

std::optional<policy::IpAddress> firstOfFamily(const std::vector<policy::IpAddress>& addresses,
                                               policy::Family family) {
  auto it = std::find_if(addresses.begin(), addresses.end(),
                         [&](const policy::IpAddress& a) { return a.family() == family; });
  if (it == addresses.end()) return std::nullopt;
  return *it;
}

bool exists(const ClusterState& state, const ObjectRef& ref) {
  if (ref.kind == "NetworkPolicy") return state.findPolicy(ref.namespace_, ref.name).has_value();
  for (policy::ClusterPolicyKind k : {policy::ClusterPolicyKind::ClusterNetworkPolicy,
                                      policy::ClusterPolicyKind::AdminNetworkPolicy,
                                      policy::ClusterPolicyKind::BaselineAdminNetworkPolicy}) {
    if (ref.kind == policy::clusterPolicyKindName(k))
      return state.findClusterPolicy(k, ref.name).has_value();
  }
  return false;
}

/// Admits one `initial` or `apply` object and writes it (create or replace).
Status applyManifest(const CaseManifest& m, const Topology& topology, ClusterState& state) {
  Result<policy::AnyObject> object = admitManifest(m, topology);
  if (!object) return Error(0, where(m.field, m.line) + ": refused: " + object.error().str());
  policy::upsertInto(state, *object);
  return okStatus();
}

/// The step's changes, in README order: delete, apply, relabel.
Status changeState(const ClusterCaseStep& step, const std::string& field, const Topology& topology,
                   TopologyObjects& objects, ClusterState& state) {
  for (size_t i = 0; i < step.remove.size(); ++i) {
    const ObjectRef& ref = step.remove[i];
    const std::string f = where(field + ".delete[" + std::to_string(i) + "]", ref.line);
    std::optional<policy::KindId> kind = policy::findKind(ref.kind);
    if (!kind || !exists(state, ref)) {
      return Error(0, f + ": no " + ref.kind + " " +
                          (ref.namespace_.empty() ? "" : ref.namespace_ + "/") + ref.name);
    }
    policy::removeFrom(state, *kind, ref.namespace_, ref.name);
  }
  for (const CaseManifest& m : step.apply) {
    if (auto s = applyManifest(m, topology, state); !s) return s;
  }
  for (size_t i = 0; i < step.relabel.size(); ++i) {
    const Relabel& r = step.relabel[i];
    if (auto s = objects.relabel(r, state); !s)
      return s.error().context(where(field + ".relabel[" + std::to_string(i) + "]", r.line));
  }
  return okStatus();
}

/// One line per probe that did not give its verdict.
std::string probeFailure(const Probe& probe, const std::string& what) {
  return "probe (line " + std::to_string(probe.line) + ") " + probe.describe() + ": " + what;
}

/// Grades one step's probes; returns the failures.
std::vector<std::string> gradeProbes(const ClusterCaseStep& step, const ClusterState& state,
                                     FlowProber& prober, std::string& skipped,
                                     std::map<std::string, size_t>& not_probed) {
  std::vector<std::string> failures;
  std::vector<FlowProbe> flows;
  std::vector<const Probe*> probed;  // flows[i] comes from probed[i]
  for (const Probe& p : step.expect) {
    Result<FlowProbe> flow = resolveProbe(p, state);
    if (!flow) {
      failures.push_back(probeFailure(p, flow.error().str()));
      continue;
    }
    flows.push_back(*flow);
    probed.push_back(&p);
  }
  if (flows.empty()) return failures;
  FlowProbeReport report = prober.probe(state, flows);
  if (!report.skipped.empty()) {
    skipped = report.skipped;
    return failures;
  }
  for (size_t i = 0; i < probed.size(); ++i) {
    const Probe& p = *probed[i];
    if (i >= report.outcomes.size()) {
      failures.push_back(probeFailure(p, "the prober gave no outcome"));
      continue;
    }
    const FlowOutcome& got = report.outcomes[i];
    if (!got.not_probed.empty()) {
      ++not_probed[got.not_probed];
      continue;
    }
    std::string what;
    if (got.allowed != p.allowed)
      what = std::string("expected ") + word(p.allowed) + ", got " + word(got.allowed);
    for (const std::string& e : got.errors) what += (what.empty() ? "" : "; ") + e;
    if (what.empty()) continue;
    if (!got.egress.empty() || !got.ingress.empty())
      what += " (egress: " + got.egress + "; ingress: " + got.ingress + ")";
    failures.push_back(probeFailure(p, what));
  }
  failures.insert(failures.end(), report.errors.begin(), report.errors.end());
  return failures;
}

std::string stepLabel(const ClusterCaseStep& step, size_t k) {
  std::string label = "step " + std::to_string(k + 1);
  if (!step.name.empty()) label += " \"" + step.name + "\"";
  return label;
}

}  // namespace

Result<FlowProbe> resolveProbe(const Probe& probe, const ClusterState& state) {
  FlowProbe flow;
  flow.protocol = probe.protocol;
  flow.port = probe.port;
  const char* family = familyName(probe.family);
  std::optional<policy::PodId> src = state.findPod(probe.from_namespace, probe.from_pod);
  if (!src) return Error(0, "no pod " + probe.from());
  std::optional<policy::IpAddress> src_ip = firstOfFamily(state.pod(*src).ips, probe.family);
  if (!src_ip) return Error(0, probe.from() + " has no " + family + " address");
  flow.src_pod = *src;
  flow.src = *src_ip;
  switch (probe.to.kind) {
    case ProbeTarget::Kind::Pod: {
      std::optional<policy::PodId> dst = state.findPod(probe.to.namespace_, probe.to.name);
      if (!dst) return Error(0, "no pod " + probe.to.text);
      // A host-network pod's IPs are its node's addresses, in their order.
      std::optional<policy::IpAddress> ip = firstOfFamily(state.pod(*dst).ips, probe.family);
      if (!ip) return Error(0, probe.to.text + " has no " + family + " address");
      flow.dst_pod = *dst;
      flow.dst = *ip;
      break;
    }
    case ProbeTarget::Kind::Node: {
      const policy::NodeRecord* node = state.findNode(probe.to.name);
      if (!node) return Error(0, "no node " + probe.to.name);
      std::optional<policy::IpAddress> ip = firstOfFamily(node->addresses, probe.family);
      if (!ip) return Error(0, "node " + probe.to.name + " has no " + family + " address");
      flow.dst = *ip;
      break;
    }
    case ProbeTarget::Kind::Address:
      if (!probe.to.address) return Error(0, probe.to.text + ": no address");
      flow.dst = *probe.to.address;
      break;
  }
  return flow;
}

CaseResult runClusterCase(const ClusterCaseFile& c, FlowProber& prober) {
  std::map<std::string, size_t> not_probed;  // why → how many
  CaseResult result;
  result.path = c.path;
  ClusterState state;
  TopologyObjects objects(c.topology);
  objects.installInto(state);
  for (const CaseManifest& m : c.initial) {
    if (auto s = applyManifest(m, c.topology, state); !s) {
      result.detail = s.error().str();
      return result;
    }
  }

  std::vector<std::string> failures;
  for (size_t k = 0; k < c.steps.size(); ++k) {
    const ClusterCaseStep& step = c.steps[k];
    const std::string label = stepLabel(step, k);
    if (auto s = changeState(step, "steps[" + std::to_string(k) + "]", c.topology, objects, state);
        !s) {
      failures.push_back(label + ": " + s.error().str());
      break;  // later steps would run against the wrong state
    }
    // Rejected objects never become part of the state, accepted or not.
    for (const CaseManifest& m : step.reject) {
      if (admitManifest(m, c.topology))
        failures.push_back(label + ": " + where(m.field, m.line) +
                           ": accepted, but must be refused");
    }
    std::string skipped;
    for (const std::string& f : gradeProbes(step, state, prober, skipped, not_probed))
      failures.push_back(label + ": " + f);
    if (!skipped.empty() && failures.empty()) {
      result.skipped = true;
      result.detail = label + ": " + skipped;
      return result;
    }
    if (!skipped.empty()) {  // earlier failures stand; the rest cannot be probed
      failures.push_back(label + ": not probed: " + skipped);
      break;
    }
  }
  for (const auto& [why, n] : not_probed)
    result.not_probed +=
        (result.not_probed.empty() ? "" : "; ") + std::to_string(n) + " probes not probed: " + why;
  result.passed = failures.empty();
  for (const std::string& f : failures) result.detail += (result.detail.empty() ? "" : "\n  ") + f;
  return result;
}

}  // namespace palisade::agent::conformance
