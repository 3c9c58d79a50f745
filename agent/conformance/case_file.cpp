#include "agent/conformance/case_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace palisade::agent::conformance {
namespace {

using policy::Protocol;

Protocol requireProtocol(const YAML::Node& node) {
  std::string text = node.as<std::string>();
  std::optional<Protocol> p = policy::parseProtocol(text);
  if (!p) throw std::runtime_error("unknown protocol \"" + text + "\"");
  return *p;
}

bool parseResult(const YAML::Node& node) {
  std::string text = node.as<std::string>();
  if (text == "allow") return true;
  if (text == "deny") return false;
  throw std::runtime_error("result must be allow or deny, got \"" + text + "\"");
}

policy::LabelMap parseLabels(const YAML::Node& node) {
  policy::LabelMap labels;
  if (!node) return labels;
  for (const auto& kv : node) labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
  return labels;
}

/// A policy back to YAML text, so it is read exactly like a manifest file.
std::string emitYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  if (!out.good()) throw std::runtime_error("cannot re-emit policy: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

CaseStep parseStep(const YAML::Node& node) {
  CaseStep step;
  int actions = 0;
  if (const YAML::Node apply = node["apply"]) {
    ++actions;
    for (const auto& p : apply) step.apply.push_back(emitYaml(p));
  }
  if (const YAML::Node relabel = node["relabel"]) {
    ++actions;
    LabelTarget t;
    t.namespace_ = relabel["namespace"].as<std::string>();
    if (relabel["pod"]) t.pod = relabel["pod"].as<std::string>();
    t.labels = parseLabels(relabel["labels"]);
    step.relabel = std::move(t);
  }
  if (const YAML::Node del = node["delete"]) {
    ++actions;
    for (const auto& d : del) {
      step.remove.push_back({d["namespace"].as<std::string>(), d["name"].as<std::string>()});
    }
  }
  if (actions > 1) throw std::runtime_error("a step has more than one action");
  if (const YAML::Node probe = node["probe"]) {
    step.probe_protocol = requireProtocol(probe["protocol"]);
    step.probe_port = probe["port"].as<int32_t>();
    const YAML::Node expect = node["expect"];
    if (!expect) throw std::runtime_error("a probe without expect");
    if (expect["default"]) step.expect.default_allowed = parseResult(expect["default"]);
    for (const auto& e : expect["exceptions"]) {
      step.expect.exceptions.push_back(
          {e["from"].as<std::string>(), e["to"].as<std::string>(), parseResult(e["result"])});
    }
  }
  return step;
}

}  // namespace

std::optional<CaseFile> parseCaseText(const std::string& text, const std::string& path,
                                      std::string* error) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) throw std::runtime_error("not a mapping");
    CaseFile c;
    c.path = path;
    if (root["name"]) c.name = root["name"].as<std::string>();
    const YAML::Node model = root["model"];
    if (!model) throw std::runtime_error("missing model");
    for (const auto& n : model["namespaces"]) c.model.namespaces.push_back(n.as<std::string>());
    for (const auto& n : model["pods"]) c.model.pods.push_back(n.as<std::string>());
    for (const auto& n : model["ports"]) c.model.ports.push_back(n.as<int32_t>());
    for (const auto& n : model["protocols"]) c.model.protocols.push_back(requireProtocol(n));
    if (const YAML::Node ips = root["pod_ips"]) {
      for (const auto& kv : ips) {
        // One address, or a list (dual-stack pods).
        std::string value;
        if (kv.second.IsSequence()) {
          for (const auto& a : kv.second) value += (value.empty() ? "" : ",") + a.as<std::string>();
        } else {
          value = kv.second.as<std::string>();
        }
        c.pod_ips[kv.first.as<std::string>()] = value;
      }
    }
    if (const YAML::Node ports = root["pod_ports"]) {
      for (const auto& kv : ports) {
        auto& list = c.pod_ports[kv.first.as<std::string>()];
        for (const auto& p : kv.second) {
          policy::ContainerPort cp;
          if (p["name"]) cp.name = p["name"].as<std::string>();
          cp.port = p["port"].as<int32_t>();
          if (p["protocol"]) cp.protocol = requireProtocol(p["protocol"]);
          list.push_back(cp);
        }
      }
    }
    if (root["ignore_loopback"]) c.ignore_loopback = root["ignore_loopback"].as<bool>();
    for (const auto& s : root["steps"]) c.steps.push_back(parseStep(s));
    if (c.steps.empty()) throw std::runtime_error("no steps");
    return c;
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return std::nullopt;
  }
}

std::optional<CaseFile> loadCaseFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error != nullptr) *error = "cannot read " + path;
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseCaseText(text.str(), path, error);
}

}  // namespace palisade::agent::conformance
