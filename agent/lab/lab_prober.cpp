#include "agent/lab/lab_prober.h"

#include <sstream>

#include "agent/lab/lab.h"
#include "agent/lab/plan.h"
#include "agent/lab/probe.h"
#include "agent/lab/services.h"
#include "agent/lab/topology.h"

namespace palisade::agent::lab {
namespace {

using policy::ClusterState;
using policy::PodId;

/// The declared container ports, plus the probed one: palisade's own cases
/// probe ports no container declares (policy-only questions); the pod must
/// listen there for the answer to be about policy.
std::vector<LabPort> portsOf(const policy::PodRecord& rec, LabPort probed) {
  std::vector<LabPort> out;
  for (const policy::PodPort& p : rec.ports) {
    bool dup = false;
    for (const LabPort& q : out) dup = dup || (q.port == p.port && q.protocol == p.protocol);
    if (!dup) out.push_back({p.port, p.protocol});
  }
  bool dup = false;
  for (const LabPort& q : out)
    dup = dup || (q.port == probed.port && q.protocol == probed.protocol);
  if (!dup) out.push_back(probed);
  return out;
}

bool samePorts(const std::vector<LabPort>& a, const std::vector<LabPort>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].port != b[i].port || a[i].protocol != b[i].protocol) return false;
  }
  return true;
}

/// Upstream's model: Service s-<ns>-<pod>, one port per container port,
/// port = targetPort = the container port, the pod as its only backend.
std::vector<LabService> upstreamServices(const LabState& lab) {
  std::vector<LabService> out;
  for (size_t k = 0; k < lab.pods.size(); ++k) {
    const LabPod& pod = lab.pods[k];
    LabService svc;
    svc.namespace_ = pod.namespace_;
    svc.name = "s-" + pod.namespace_ + "-" + pod.name;
    bool v4 = false;
    bool v6 = false;
    for (const IpAddress& ip : pod.ips) (ip.isV4() ? v4 : v6) = true;
    if (v4) svc.cluster_ips.push_back(IpAddress::v4((10u << 24) | (96u << 16) | (k + 10)));
    if (v6) svc.cluster_ips.push_back(IpAddress::v6(0xfd00009600000000ull, k + 10));
    for (const LabPort& p : pod.ports) {
      LabServicePort sp{p.protocol, p.port, 0, {}};
      for (const IpAddress& ip : pod.ips) sp.backends.push_back({ip, p.port});
      svc.ports.push_back(std::move(sp));
    }
    out.push_back(std::move(svc));
  }
  return out;
}

}  // namespace

LabProber::LabProber(std::string name, int nodes, int timeout_ms, bool userspace_mode)
    : name_(std::move(name)),
      nodes_(nodes),
      timeout_ms_(timeout_ms),
      userspace_mode_(userspace_mode) {}

LabProber::~LabProber() { teardown(); }

void LabProber::teardown() {
  programmers_.reset();
  if (!lab_) return;
  std::ostringstream ignored;
  (void)labDown(name_, ignored);
  lab_.reset();
}

Status LabProber::build(const ClusterState& state, const std::vector<PodId>& pods, LabPort probed) {
  // Placement and names come from the same planner as `lab up`; the pods
  // carry the case's addresses and are spread over the nodes in grid order.
  policy::ManifestSet set;
  for (PodId id : pods) {
    const policy::PodRecord& rec = state.pod(id);
    policy::Pod pod;
    pod.meta.namespace_ = std::string(state.str(rec.namespace_));
    pod.meta.name = std::string(state.str(rec.name));
    pod.ips = rec.ips;
    for (const policy::PodPort& p : rec.ports) pod.ports.push_back({"", p.port, p.protocol});
    set.pods.push_back(std::move(pod));
  }
  auto planned = planLab(set, {name_, nodes_});
  if (!planned) return planned.error();
  lab_ = std::move(*planned);
  for (size_t k = 0; k < pods.size(); ++k)
    lab_->pods[k].ports = portsOf(state.pod(pods[k]), probed);
  lab_->services = upstreamServices(*lab_);
  if (auto s = saveState(*lab_); !s) return s;
  if (auto s = createTopology(*lab_); !s) return s;
  if (auto s = programServices(*lab_); !s) return s;
  auto programmers = NodeProgrammers::open(*lab_, userspace_mode_);
  if (!programmers) return programmers.error();
  programmers_ = std::move(*programmers);
  auto pid = startServer(name_, "/proc/self/exe");
  if (!pid) return pid.error();
  lab_->serve_pid = *pid;
  return saveState(*lab_);
}

Status LabProber::ensureLab(const ClusterState& state, const std::vector<PodId>& pods,
                            LabPort probed) {
  bool same = lab_ && lab_->pods.size() == pods.size();
  for (size_t k = 0; same && k < pods.size(); ++k) {
    const policy::PodRecord& rec = state.pod(pods[k]);
    same = lab_->pods[k].label() == state.podName(pods[k]) && lab_->pods[k].ips == rec.ips;
  }
  if (!same) {
    teardown();
    Status s = build(state, pods, probed);
    if (!s) teardown();
    return s;
  }
  bool ports_changed = false;
  for (size_t k = 0; k < pods.size(); ++k) {
    std::vector<LabPort> want = portsOf(state.pod(pods[k]), probed);
    if (!samePorts(want, lab_->pods[k].ports)) {
      lab_->pods[k].ports = std::move(want);
      ports_changed = true;
    }
  }
  if (!ports_changed) return okStatus();
  // Same pods, other container ports: a new server and new Service ports.
  stopServer(name_, lab_->serve_pid);
  lab_->services = upstreamServices(*lab_);
  if (auto s = saveState(*lab_); !s) return s;
  if (auto s = programServices(*lab_); !s) return s;
  auto pid = startServer(name_, "/proc/self/exe");
  if (!pid) return pid.error();
  lab_->serve_pid = *pid;
  return saveState(*lab_);
}

conformance::ProbeMatrix LabProber::probe(const ClusterState& state, const std::vector<PodId>& pods,
                                          policy::Protocol protocol, int32_t port) {
  conformance::ProbeMatrix m;
  m.allowed.assign(pods.size(), std::vector<bool>(pods.size(), false));
  if (protocol == policy::Protocol::SCTP) {
    m.skipped = "SCTP not probed: this kernel has no SCTP sockets";
    return m;
  }
  if (auto s = ensureLab(state, pods, {port, protocol}); !s) {
    m.errors.push_back("lab: " + s.error().str());
    return m;
  }
  ir::Ruleset all = policy::compile(state, "");
  std::vector<ir::Ruleset> rulesets;
  for (size_t n = 0; n < lab_->nodes.size(); ++n) rulesets.push_back(restrictToNode(all, *lab_, n));
  if (auto s = programmers_->sync(rulesets, false, nullptr); !s) {
    m.errors.push_back("lab: " + s.error().str());
    return m;
  }
  if (auto s = flushConntrack(*lab_); !s) {
    m.errors.push_back("lab: " + s.error().str());
    return m;
  }
  // Through the destination's Service ClusterIP, as upstream probes.
  std::vector<std::string> sources;
  std::vector<std::vector<std::optional<ProbeTarget>>> targets(
      pods.size(), std::vector<std::optional<ProbeTarget>>(pods.size()));
  for (size_t i = 0; i < pods.size(); ++i) {
    sources.push_back(lab_->pods[i].netns);
    bool v4 = false;
    for (const IpAddress& ip : lab_->pods[i].ips) v4 = v4 || ip.isV4();
    for (size_t j = 0; j < pods.size(); ++j) {
      for (const IpAddress& vip : lab_->services[j].cluster_ips) {
        if (vip.isV4() == v4) {
          targets[i][j] = ProbeTarget{vip, port};
          break;
        }
      }
    }
  }
  ProbeCells cells = probeCells(sources, targets, protocol, timeout_ms_);
  m.allowed = std::move(cells.allowed);
  m.errors = std::move(cells.errors);
  return m;
}

}  // namespace palisade::agent::lab
