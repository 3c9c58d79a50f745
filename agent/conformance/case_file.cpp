#include "agent/conformance/case_file.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "agent/conformance/yaml_fields.h"

namespace palisade::agent::conformance {
namespace {

using policy::Protocol;

// The field readers (yaml_fields.h) turn yaml-cpp's exceptions into Errors;
// parseCaseText catches what is left at the same edge.
using fields::indexed;
using fields::labelsAt;
using fields::length;
using fields::lineOf;
using fields::protocolAt;
using fields::requireMap;
using fields::requireSequence;
using fields::scalar;
using fields::stringsAt;

Result<bool> resultAt(const YAML::Node& node, const std::string& field) {
  Result<std::string> text = scalar<std::string>(node, field);
  if (!text) return text.error();
  if (*text == "allow") return true;
  if (*text == "deny") return false;
  return Error(0, field + lineOf(node) + ": must be allow or deny, got \"" + *text + "\"");
}

Result<CaseStep> parseStep(const YAML::Node& node, const std::string& field) {
  if (auto s = requireMap(node, field); !s) return s.error();
  CaseStep step;
  int actions = 0;
  if (const YAML::Node apply = node["apply"]) {
    ++actions;
    std::string f = field + ".apply";
    if (auto s = requireSequence(apply, f); !s) return s.error();
    for (size_t i = 0; i < length(apply); ++i) {
      Result<std::string> text = fields::emitYaml(apply[i], indexed(f, i));
      if (!text) return text.error();
      step.apply.push_back(std::move(*text));
    }
  }
  if (const YAML::Node relabel = node["relabel"]) {
    ++actions;
    std::string f = field + ".relabel";
    if (auto s = requireMap(relabel, f); !s) return s.error();
    LabelTarget t;
    Result<std::string> ns = scalar<std::string>(relabel["namespace"], f + ".namespace");
    if (!ns) return ns.error();
    t.namespace_ = std::move(*ns);
    if (relabel["pod"]) {
      Result<std::string> pod = scalar<std::string>(relabel["pod"], f + ".pod");
      if (!pod) return pod.error();
      t.pod = std::move(*pod);
    }
    Result<policy::LabelMap> labels = labelsAt(relabel["labels"], f + ".labels");
    if (!labels) return labels.error();
    t.labels = std::move(*labels);
    step.relabel = std::move(t);
  }
  if (const YAML::Node del = node["delete"]) {
    ++actions;
    std::string f = field + ".delete";
    if (auto s = requireSequence(del, f); !s) return s.error();
    for (size_t i = 0; i < length(del); ++i) {
      std::string fi = indexed(f, i);
      if (auto s = requireMap(del[i], fi); !s) return s.error();
      Result<std::string> ns = scalar<std::string>(del[i]["namespace"], fi + ".namespace");
      if (!ns) return ns.error();
      Result<std::string> name = scalar<std::string>(del[i]["name"], fi + ".name");
      if (!name) return name.error();
      step.remove.push_back({std::move(*ns), std::move(*name)});
    }
  }
  if (actions > 1) {
    return Error(0, field + lineOf(node) +
                        ": a step has more than one action (apply, relabel, "
                        "delete: one per step)");
  }
  if (const YAML::Node probe = node["probe"]) {
    std::string f = field + ".probe";
    if (auto s = requireMap(probe, f); !s) return s.error();
    Result<Protocol> protocol = protocolAt(probe["protocol"], f + ".protocol");
    if (!protocol) return protocol.error();
    step.probe_protocol = *protocol;
    Result<int32_t> port = scalar<int32_t>(probe["port"], f + ".port");
    if (!port) return port.error();
    step.probe_port = *port;
    const YAML::Node expect = node["expect"];
    if (!expect) return Error(0, field + lineOf(node) + ": a probe without expect");
    std::string fe = field + ".expect";
    if (auto s = requireMap(expect, fe); !s) return s.error();
    if (expect["default"]) {
      Result<bool> d = resultAt(expect["default"], fe + ".default");
      if (!d) return d.error();
      step.expect.default_allowed = *d;
    }
    const YAML::Node exceptions = expect["exceptions"];
    std::string fx = fe + ".exceptions";
    if (auto s = requireSequence(exceptions, fx); !s) return s.error();
    for (size_t i = 0; i < length(exceptions); ++i) {
      const YAML::Node e = exceptions[i];
      std::string fi = indexed(fx, i);
      if (auto s = requireMap(e, fi); !s) return s.error();
      Result<std::string> from = scalar<std::string>(e["from"], fi + ".from");
      if (!from) return from.error();
      Result<std::string> to = scalar<std::string>(e["to"], fi + ".to");
      if (!to) return to.error();
      Result<bool> allowed = resultAt(e["result"], fi + ".result");
      if (!allowed) return allowed.error();
      step.expect.exceptions.push_back({std::move(*from), std::move(*to), *allowed});
    }
  }
  return step;
}

Result<CaseModel> parseModel(const YAML::Node& model) {
  if (!model) return Error(0, "model: missing");
  if (auto s = requireMap(model, "model"); !s) return s.error();
  CaseModel m;
  Result<std::vector<std::string>> namespaces = stringsAt(model["namespaces"], "model.namespaces");
  if (!namespaces) return namespaces.error();
  m.namespaces = std::move(*namespaces);
  Result<std::vector<std::string>> pods = stringsAt(model["pods"], "model.pods");
  if (!pods) return pods.error();
  m.pods = std::move(*pods);
  const YAML::Node ports = model["ports"];
  if (auto s = requireSequence(ports, "model.ports"); !s) return s.error();
  for (size_t i = 0; i < length(ports); ++i) {
    Result<int32_t> port = scalar<int32_t>(ports[i], indexed("model.ports", i));
    if (!port) return port.error();
    m.ports.push_back(*port);
  }
  const YAML::Node protocols = model["protocols"];
  if (auto s = requireSequence(protocols, "model.protocols"); !s) return s.error();
  for (size_t i = 0; i < length(protocols); ++i) {
    Result<Protocol> p = protocolAt(protocols[i], indexed("model.protocols", i));
    if (!p) return p.error();
    m.protocols.push_back(*p);
  }
  return m;
}

/// pod_ips: one address, or a list (dual-stack pods), joined by commas.
Status parsePodIps(const YAML::Node& ips, CaseFile& c) {
  if (auto s = requireMap(ips, "pod_ips"); !s) return s;
  if (!ips.IsDefined()) return okStatus();
  for (const auto& kv : ips) {
    Result<std::string> key = scalar<std::string>(kv.first, "pod_ips key");
    if (!key) return key.error();
    std::string field = "pod_ips." + *key;
    std::string value;
    if (kv.second.IsSequence()) {
      Result<std::vector<std::string>> list = stringsAt(kv.second, field);
      if (!list) return list.error();
      for (const std::string& a : *list) value += (value.empty() ? "" : ",") + a;
    } else {
      Result<std::string> one = scalar<std::string>(kv.second, field);
      if (!one) return one.error();
      value = std::move(*one);
    }
    c.pod_ips[*key] = value;
  }
  return okStatus();
}

Status parsePodPorts(const YAML::Node& ports, CaseFile& c) {
  if (auto s = requireMap(ports, "pod_ports"); !s) return s;
  if (!ports.IsDefined()) return okStatus();
  for (const auto& kv : ports) {
    Result<std::string> key = scalar<std::string>(kv.first, "pod_ports key");
    if (!key) return key.error();
    std::string field = "pod_ports." + *key;
    if (auto s = requireSequence(kv.second, field); !s) return s;
    auto& list = c.pod_ports[*key];
    for (size_t i = 0; i < length(kv.second); ++i) {
      const YAML::Node p = kv.second[i];
      std::string fi = indexed(field, i);
      if (auto s = requireMap(p, fi); !s) return s;
      policy::ContainerPort cp;
      if (p["name"]) {
        Result<std::string> name = scalar<std::string>(p["name"], fi + ".name");
        if (!name) return name.error();
        cp.name = std::move(*name);
      }
      Result<int32_t> port = scalar<int32_t>(p["port"], fi + ".port");
      if (!port) return port.error();
      cp.port = *port;
      if (p["protocol"]) {
        Result<Protocol> proto = protocolAt(p["protocol"], fi + ".protocol");
        if (!proto) return proto.error();
        cp.protocol = *proto;
      }
      list.push_back(cp);
    }
  }
  return okStatus();
}

Result<CaseFile> parseRoot(const YAML::Node& root, const std::string& path) {
  if (!root.IsMap()) return Error(0, "not a mapping");
  CaseFile c;
  c.path = path;
  if (root["name"]) {
    Result<std::string> name = scalar<std::string>(root["name"], "name");
    if (!name) return name.error();
    c.name = std::move(*name);
  }
  Result<CaseModel> model = parseModel(root["model"]);
  if (!model) return model.error();
  c.model = std::move(*model);
  if (auto s = parsePodIps(root["pod_ips"], c); !s) return s.error();
  if (auto s = parsePodPorts(root["pod_ports"], c); !s) return s.error();
  if (root["ignore_loopback"]) {
    Result<bool> b = scalar<bool>(root["ignore_loopback"], "ignore_loopback");
    if (!b) return b.error();
    c.ignore_loopback = *b;
  }
  const YAML::Node steps = root["steps"];
  if (auto s = requireSequence(steps, "steps"); !s) return s.error();
  for (size_t i = 0; i < length(steps); ++i) {
    Result<CaseStep> step = parseStep(steps[i], indexed("steps", i));
    if (!step) return step.error();
    c.steps.push_back(std::move(*step));
  }
  if (c.steps.empty()) return Error(0, "no steps");
  return c;
}

}  // namespace

Result<CaseFile> parseCaseText(const std::string& text, const std::string& path) {
  try {
    Result<CaseFile> c = parseRoot(YAML::Load(text), path);
    if (!c) return c.error().context(path);
    return c;
  } catch (const YAML::Exception& e) {
    // A syntax error, or a shape the readers above did not expect: e.what()
    // carries yaml-cpp's line and column.
    return Error(0, path + ": " + e.what());
  }
}

Result<CaseFile> loadCaseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(errno, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parseCaseText(text.str(), path);
}

}  // namespace palisade::agent::conformance
