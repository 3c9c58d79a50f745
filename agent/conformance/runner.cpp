#include "agent/conformance/runner.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"
#include "policy/evaluate/ruleset_evaluator.h"
#include "policy/manifest/reader.h"

namespace palisade::agent::conformance {
namespace {

using policy::ClusterState;
using policy::PodId;
using policy::Protocol;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return s;
}

std::vector<std::string> splitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

/// Applies a step's action. Policies go through the manifest reader, so a
/// case can never install a policy the API server would have refused.
Status applyAction(const CaseStep& step, size_t step_no, const std::string& path,
                   ClusterState& state) {
  for (size_t i = 0; i < step.apply.size(); ++i) {
    std::string origin =
        path + " step " + std::to_string(step_no) + " apply[" + std::to_string(i) + "]";
    policy::ManifestSet set =
        policy::readManifestText(step.apply[i], origin, policy::ManifestFormat::Yaml);
    if (!set.errors.empty()) return Error(0, "invalid policy: " + set.errors.front().format());
    if (set.policies.empty()) return Error(0, origin + ": not a NetworkPolicy");
    for (const policy::NetworkPolicy& p : set.policies) state.upsertPolicy(p);
  }
  if (step.relabel) {
    const LabelTarget& t = *step.relabel;
    if (t.pod.empty()) {
      state.mergeNamespaceLabels(t.namespace_, t.labels);
    } else {
      state.mergePodLabels(t.namespace_, t.pod, t.labels);
    }
  }
  for (const PolicyKey& k : step.remove) state.removePolicy(k.namespace_, k.name);
  return okStatus();
}

const char* word(bool allowed) { return allowed ? "allow" : "deny"; }

}  // namespace

ProbeMatrix EvaluatorProber::probe(const ClusterState& state, const std::vector<PodId>& pods,
                                   Protocol protocol, int32_t port) {
  ProbeMatrix m;
  m.allowed.assign(pods.size(), std::vector<bool>(pods.size(), false));
  ir::Ruleset ruleset = policy::compile(state, "");
  auto evaluator = policy::RulesetEvaluator::create(ruleset);
  if (!evaluator) m.errors.push_back("compiled ruleset is invalid: " + evaluator.error().str());
  for (size_t i = 0; i < pods.size(); ++i) {
    for (size_t j = 0; j < pods.size(); ++j) {
      policy::Verdict v = policy::evaluate(state, policy::FlowEnd::ofPod(pods[i]),
                                           policy::FlowEnd::ofPod(pods[j]), protocol, port);
      m.allowed[i][j] = v.allowed;
      const auto& src_ips = state.pod(pods[i]).ips;
      const auto& dst_ips = state.pod(pods[j]).ips;
      // The kernel judges addresses: every same-family address pair must agree.
      for (const policy::IpAddress& s : src_ips) {
        if (!evaluator) break;
        for (const policy::IpAddress& d : dst_ips) {
          if (s.family() != d.family()) continue;
          policy::Verdict iv = evaluator->evaluate(s, d, protocol, port);
          if (iv.allowed != v.allowed) {
            m.errors.push_back("ir evaluator disagrees: " + state.podName(pods[i]) + "->" +
                               state.podName(pods[j]) + " (" + s.toString() + "->" + d.toString() +
                               ") state " + word(v.allowed) + ", ir " + word(iv.allowed));
          }
        }
      }
    }
  }
  return m;
}

Status buildModel(const CaseFile& c, ClusterState& state) {
  // A typo in pod_ips/pod_ports must not silently leave the plan in place.
  auto in_model = [&](const std::string& key) {
    for (const std::string& ns : c.model.namespaces) {
      for (const std::string& pod : c.model.pods) {
        if (key == ns + "/" + pod) return true;
      }
    }
    return false;
  };
  for (const auto& [key, value] : c.pod_ips) {
    if (!in_model(key)) return Error(0, "pod_ips: " + key + " is not a pod of the model");
  }
  for (const auto& [key, value] : c.pod_ports) {
    if (!in_model(key)) return Error(0, "pod_ports: " + key + " is not a pod of the model");
  }
  for (size_t n = 0; n < c.model.namespaces.size(); ++n) {
    policy::Namespace ns;
    ns.meta.name = c.model.namespaces[n];
    ns.meta.labels["kubernetes.io/metadata.name"] = ns.meta.name;
    state.upsertNamespace(ns);
    for (size_t p = 0; p < c.model.pods.size(); ++p) {
      policy::Pod pod;
      pod.meta.namespace_ = ns.meta.name;
      pod.meta.name = c.model.pods[p];
      pod.meta.labels["pod"] = pod.meta.name;
      pod.node_name = "node";
      pod.phase = "Running";
      std::string key = ns.meta.name + "/" + pod.meta.name;
      auto it = c.pod_ips.find(key);
      if (it != c.pod_ips.end()) {
        for (const std::string& text : splitComma(it->second)) {
          std::optional<policy::IpAddress> ip = policy::IpAddress::parse(text);
          if (!ip) return Error(0, "pod_ips: " + key + ": invalid address \"" + text + "\"");
          pod.ips.push_back(*ip);
        }
      } else {
        pod.ips.push_back(policy::IpAddress::v4((10u << 24) | ((n + 1) << 8) | (p + 1)));
      }
      for (int32_t port : c.model.ports) {
        for (Protocol proto : c.model.protocols) {
          pod.ports.push_back(
              {"serve-" + std::to_string(port) + "-" + lower(protocolName(proto)), port, proto});
        }
      }
      if (auto extra = c.pod_ports.find(key); extra != c.pod_ports.end()) {
        pod.ports.insert(pod.ports.end(), extra->second.begin(), extra->second.end());
      }
      state.upsertPod(pod);
    }
  }
  return okStatus();
}

CaseResult runCase(const CaseFile& c, Prober& prober) {
  CaseResult result;
  result.path = c.path;
  ClusterState state;
  if (auto built = buildModel(c, state); !built) {
    result.detail = built.error().str();
    return result;
  }
  std::vector<PodId> pods = state.podsSorted();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < pods.size(); ++i) index[state.podName(pods[i])] = i;

  std::vector<std::string> failures;
  for (size_t k = 0; k < c.steps.size(); ++k) {
    const CaseStep& step = c.steps[k];
    std::string prefix = "step " + std::to_string(k + 1) + ": ";
    if (auto applied = applyAction(step, k + 1, c.path, state); !applied) {
      failures.push_back(prefix + applied.error().str());
      break;  // later steps would run against the wrong state
    }
    if (!step.probe_protocol) continue;

    std::vector<std::vector<bool>> expected(
        pods.size(), std::vector<bool>(pods.size(), step.expect.default_allowed));
    std::vector<std::string> cells;
    for (const ExpectedCell& e : step.expect.exceptions) {
      auto from = index.find(e.from);
      auto to = index.find(e.to);
      if (from == index.end() || to == index.end()) {
        cells.push_back("unknown pod in " + e.from + "->" + e.to);
        continue;
      }
      expected[from->second][to->second] = e.allowed;
    }
    ProbeMatrix got = prober.probe(state, pods, *step.probe_protocol, step.probe_port);
    if (!got.skipped.empty()) {
      result.skipped = true;
      result.detail = prefix + got.skipped;
      return result;
    }
    for (size_t i = 0; i < pods.size(); ++i) {
      for (size_t j = 0; j < pods.size(); ++j) {
        if (c.ignore_loopback && i == j) continue;
        if (got.allowed[i][j] == expected[i][j]) continue;
        cells.push_back(state.podName(pods[i]) + "->" + state.podName(pods[j]) + " expected " +
                        word(expected[i][j]) + " got " + word(got.allowed[i][j]));
      }
    }
    cells.insert(cells.end(), got.errors.begin(), got.errors.end());
    if (!cells.empty()) {
      std::string joined;
      for (const std::string& cell : cells) joined += (joined.empty() ? "" : ", ") + cell;
      failures.push_back(prefix + joined);
    }
  }
  result.passed = failures.empty();
  for (const std::string& f : failures) {
    result.detail += (result.detail.empty() ? "" : "; ") + f;
  }
  return result;
}

}  // namespace palisade::agent::conformance
