#include "agent/conformance/cluster_case_file.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>

#include "agent/conformance/yaml_fields.h"

namespace palisade::agent::conformance {
namespace {

using fields::indexed;
using fields::labelsAt;
using fields::length;
using fields::lineNumber;
using fields::lineOf;
using fields::protocolAt;
using fields::requireMap;
using fields::requireSequence;
using fields::scalar;
using policy::Family;
using policy::IpAddress;

constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

/// The object kinds a case may apply, delete or reject (README section 3).
constexpr std::array<std::string_view, 4> kPolicyKinds{
    "NetworkPolicy", "ClusterNetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"};

Error errorAt(const YAML::Node& node, const std::string& field, const std::string& what) {
  return Error(0, field + lineOf(node) + ": " + what);
}

/// Only the fields the format defines: a typo ("expects", "familly") must not
/// silently turn a check into nothing. (Unknown top-level keys are
/// informational, README section 1, and are not checked.)
Status onlyKeys(const YAML::Node& node, const std::string& field,
                std::initializer_list<std::string_view> keys) {
  for (const auto& kv : node) {
    Result<std::string> key = scalar<std::string>(kv.first, field + " key");
    if (!key) return key.error();
    if (std::find(keys.begin(), keys.end(), *key) == keys.end())
      return errorAt(kv.first, field + "." + *key, "unknown field");
  }
  return okStatus();
}

/// A mapping that must be there, with only `keys`.
Status mapWithKeys(const YAML::Node& node, const std::string& field,
                   std::initializer_list<std::string_view> keys) {
  if (!node.IsDefined() || node.IsNull()) return Error(0, field + ": missing");
  if (auto s = requireMap(node, field); !s) return s;
  return onlyKeys(node, field, keys);
}

Result<std::string> optionalString(const YAML::Node& node, const std::string& field) {
  if (!node.IsDefined()) return std::string();
  return scalar<std::string>(node, field);
}

Result<IpAddress> addressAt(const YAML::Node& node, const std::string& field) {
  Result<std::string> text = scalar<std::string>(node, field);
  if (!text) return text.error();
  std::optional<IpAddress> ip = IpAddress::parse(*text);
  if (!ip) return errorAt(node, field, "not an IP address: \"" + *text + "\"");
  return *ip;
}

Result<std::vector<IpAddress>> addressesAt(const YAML::Node& node, const std::string& field) {
  if (auto s = requireSequence(node, field); !s) return s.error();
  std::vector<IpAddress> out;
  for (size_t i = 0; i < length(node); ++i) {
    Result<IpAddress> ip = addressAt(node[i], indexed(field, i));
    if (!ip) return ip.error();
    out.push_back(*ip);
  }
  return out;
}

Result<int32_t> portAt(const YAML::Node& node, const std::string& field) {
  Result<int32_t> port = scalar<int32_t>(node, field);
  if (!port) return port.error();
  if (*port < 1 || *port > 65535)
    return errorAt(node, field, "port " + std::to_string(*port) + " is outside 1..65535");
  return *port;
}

// ---- topology ----

Result<TopologyNode> parseNode(const YAML::Node& node, const std::string& field) {
  if (auto s = mapWithKeys(node, field, {"name", "labels", "addresses"}); !s) return s.error();
  TopologyNode n;
  Result<std::string> name = scalar<std::string>(node["name"], field + ".name");
  if (!name) return name.error();
  n.name = std::move(*name);
  Result<policy::LabelMap> labels = labelsAt(node["labels"], field + ".labels");
  if (!labels) return labels.error();
  n.labels = std::move(*labels);
  Result<std::vector<IpAddress>> addresses = addressesAt(node["addresses"], field + ".addresses");
  if (!addresses) return addresses.error();
  n.addresses = std::move(*addresses);
  return n;
}

Result<TopologyNamespace> parseNamespace(const YAML::Node& node, const std::string& field) {
  if (auto s = mapWithKeys(node, field, {"name", "labels"}); !s) return s.error();
  TopologyNamespace ns;
  Result<std::string> name = scalar<std::string>(node["name"], field + ".name");
  if (!name) return name.error();
  ns.name = std::move(*name);
  // `node/NAME` and `ip/ADDRESS` are probe syntax.
  if (ns.name == "node" || ns.name == "ip")
    return errorAt(node["name"], field + ".name", "\"" + ns.name + "\" is reserved for probes");
  Result<policy::LabelMap> labels = labelsAt(node["labels"], field + ".labels");
  if (!labels) return labels.error();
  ns.labels = std::move(*labels);
  // Implied, as the API server sets it; a case may write it only as it is.
  if (auto it = ns.labels.find(std::string(kNamespaceNameLabel)); it != ns.labels.end()) {
    if (it->second != ns.name)
      return errorAt(node["labels"], field + ".labels." + it->first,
                     "must equal the namespace's name \"" + ns.name + "\"");
    ns.labels.erase(it);
  }
  return ns;
}

Result<policy::ContainerPort> parseContainerPort(const YAML::Node& node, const std::string& field) {
  if (auto s = mapWithKeys(node, field, {"name", "port", "protocol"}); !s) return s.error();
  policy::ContainerPort cp;
  Result<std::string> name = optionalString(node["name"], field + ".name");
  if (!name) return name.error();
  cp.name = std::move(*name);
  Result<int32_t> port = portAt(node["port"], field + ".port");
  if (!port) return port.error();
  cp.port = *port;
  if (node["protocol"]) {
    Result<policy::Protocol> protocol = protocolAt(node["protocol"], field + ".protocol");
    if (!protocol) return protocol.error();
    cp.protocol = *protocol;
  }
  return cp;
}

/// A pod, checked against the nodes and namespaces already read.
Result<TopologyPod> parsePod(const YAML::Node& node, const std::string& field,
                             const Topology& topology) {
  if (auto s = mapWithKeys(node, field,
                           {"name", "namespace", "labels", "node", "hostNetwork", "ips", "ports"});
      !s)
    return s.error();
  TopologyPod pod;
  Result<std::string> name = scalar<std::string>(node["name"], field + ".name");
  if (!name) return name.error();
  pod.name = std::move(*name);
  Result<std::string> ns = scalar<std::string>(node["namespace"], field + ".namespace");
  if (!ns) return ns.error();
  if (!topology.findNamespace(*ns))
    return errorAt(node["namespace"], field + ".namespace", "no namespace \"" + *ns + "\"");
  pod.namespace_ = std::move(*ns);
  Result<policy::LabelMap> labels = labelsAt(node["labels"], field + ".labels");
  if (!labels) return labels.error();
  pod.labels = std::move(*labels);
  Result<std::string> on = scalar<std::string>(node["node"], field + ".node");
  if (!on) return on.error();
  if (!topology.findNode(*on))
    return errorAt(node["node"], field + ".node", "no node \"" + *on + "\"");
  pod.node = std::move(*on);
  if (node["hostNetwork"]) {
    Result<bool> host = scalar<bool>(node["hostNetwork"], field + ".hostNetwork");
    if (!host) return host.error();
    pod.host_network = *host;
  }
  Result<std::vector<IpAddress>> ips = addressesAt(node["ips"], field + ".ips");
  if (!ips) return ips.error();
  pod.ips = std::move(*ips);
  if (pod.host_network && !pod.ips.empty())
    return errorAt(node["ips"], field + ".ips",
                   "a host-network pod has no ips of its own (it has its node's addresses)");
  if (!pod.host_network && pod.ips.empty())
    return errorAt(node, field + ".ips", "missing: a pod that is not host-network needs its IPs");
  for (Family f : {Family::V4, Family::V6}) {
    if (std::count_if(pod.ips.begin(), pod.ips.end(),
                      [f](const IpAddress& a) { return a.family() == f; }) > 1)
      return errorAt(node["ips"], field + ".ips", "more than one address of a family");
  }
  const YAML::Node ports = node["ports"];
  if (auto s = requireSequence(ports, field + ".ports"); !s) return s.error();
  for (size_t i = 0; i < length(ports); ++i) {
    Result<policy::ContainerPort> cp = parseContainerPort(ports[i], indexed(field + ".ports", i));
    if (!cp) return cp.error();
    pod.ports.push_back(std::move(*cp));
  }
  return pod;
}

/// Names are unique; a Pod IP is never another pod's nor a node's address.
Status checkTopologyUnique(const YAML::Node& node, const Topology& t) {
  std::set<std::string> names;
  for (size_t i = 0; i < t.nodes.size(); ++i) {
    if (!names.insert(t.nodes[i].name).second)
      return errorAt(node["nodes"][i], indexed("topology.nodes", i),
                     "duplicate node \"" + t.nodes[i].name + "\"");
  }
  names.clear();
  for (size_t i = 0; i < t.namespaces.size(); ++i) {
    if (!names.insert(t.namespaces[i].name).second)
      return errorAt(node["namespaces"][i], indexed("topology.namespaces", i),
                     "duplicate namespace \"" + t.namespaces[i].name + "\"");
  }
  std::set<IpAddress> addresses;
  for (const TopologyNode& n : t.nodes) addresses.insert(n.addresses.begin(), n.addresses.end());
  names.clear();
  for (size_t i = 0; i < t.pods.size(); ++i) {
    const TopologyPod& p = t.pods[i];
    const std::string field = indexed("topology.pods", i);
    if (!names.insert(p.namespace_ + "/" + p.name).second)
      return errorAt(node["pods"][i], field,
                     "duplicate pod \"" + p.namespace_ + "/" + p.name + "\"");
    for (const IpAddress& ip : p.ips) {
      if (!addresses.insert(ip).second)
        return errorAt(node["pods"][i]["ips"], field + ".ips",
                       ip.toString() + " is already a node's or another pod's address");
    }
  }
  return okStatus();
}

Result<Topology> parseTopology(const YAML::Node& node) {
  if (auto s = mapWithKeys(node, "topology", {"nodes", "namespaces", "pods"}); !s) return s.error();
  Topology t;
  const YAML::Node nodes = node["nodes"];
  if (auto s = requireSequence(nodes, "topology.nodes"); !s) return s.error();
  for (size_t i = 0; i < length(nodes); ++i) {
    Result<TopologyNode> n = parseNode(nodes[i], indexed("topology.nodes", i));
    if (!n) return n.error();
    t.nodes.push_back(std::move(*n));
  }
  const YAML::Node namespaces = node["namespaces"];
  if (auto s = requireSequence(namespaces, "topology.namespaces"); !s) return s.error();
  for (size_t i = 0; i < length(namespaces); ++i) {
    Result<TopologyNamespace> ns = parseNamespace(namespaces[i], indexed("topology.namespaces", i));
    if (!ns) return ns.error();
    t.namespaces.push_back(std::move(*ns));
  }
  const YAML::Node pods = node["pods"];
  if (auto s = requireSequence(pods, "topology.pods"); !s) return s.error();
  for (size_t i = 0; i < length(pods); ++i) {
    Result<TopologyPod> pod = parsePod(pods[i], indexed("topology.pods", i), t);
    if (!pod) return pod.error();
    t.pods.push_back(std::move(*pod));
  }
  if (auto s = checkTopologyUnique(node, t); !s) return s.error();
  return t;
}

// ---- objects and steps ----

Result<CaseManifest> parseManifest(const YAML::Node& node, const std::string& field) {
  if (!node.IsMap()) return errorAt(node, field, "expected a manifest (a mapping)");
  CaseManifest m;
  m.field = field;
  m.line = lineNumber(node);
  Result<std::string> text = fields::emitYaml(node, field);
  if (!text) return text.error();
  m.text = std::move(*text);
  const YAML::Node api_version = node["apiVersion"];
  m.has_api_version = api_version.IsDefined() && !api_version.IsNull();
  // (The type tests of yaml-cpp throw on an absent key: IsDefined() first.)
  if (const YAML::Node meta = node["metadata"]; meta.IsDefined() && meta.IsMap()) {
    const YAML::Node ns = meta["namespace"];
    if (ns.IsDefined() && ns.IsScalar()) m.metadata_namespace = ns.Scalar();
  }
  return m;
}

Result<std::vector<CaseManifest>> parseManifests(const YAML::Node& node, const std::string& field) {
  if (auto s = requireSequence(node, field); !s) return s.error();
  std::vector<CaseManifest> out;
  for (size_t i = 0; i < length(node); ++i) {
    Result<CaseManifest> m = parseManifest(node[i], indexed(field, i));
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}

Result<ObjectRef> parseObjectRef(const YAML::Node& node, const std::string& field) {
  if (auto s = mapWithKeys(node, field, {"kind", "namespace", "name"}); !s) return s.error();
  ObjectRef ref;
  ref.line = lineNumber(node);
  Result<std::string> kind = scalar<std::string>(node["kind"], field + ".kind");
  if (!kind) return kind.error();
  if (std::find(kPolicyKinds.begin(), kPolicyKinds.end(), *kind) == kPolicyKinds.end())
    return errorAt(node["kind"], field + ".kind", "not a policy kind: \"" + *kind + "\"");
  ref.kind = std::move(*kind);
  Result<std::string> name = scalar<std::string>(node["name"], field + ".name");
  if (!name) return name.error();
  ref.name = std::move(*name);
  const bool namespaced = ref.kind == "NetworkPolicy";
  if (namespaced) {
    Result<std::string> ns = scalar<std::string>(node["namespace"], field + ".namespace");
    if (!ns) return ns.error();
    ref.namespace_ = std::move(*ns);
  } else if (node["namespace"]) {
    return errorAt(node["namespace"], field + ".namespace",
                   ref.kind + " is cluster-scoped: no namespace");
  }
  return ref;
}

Result<Relabel> parseRelabel(const YAML::Node& node, const std::string& field,
                             const Topology& topology) {
  if (auto s = mapWithKeys(node, field, {"namespace", "pod", "labels"}); !s) return s.error();
  Relabel r;
  r.line = lineNumber(node);
  Result<std::string> ns = scalar<std::string>(node["namespace"], field + ".namespace");
  if (!ns) return ns.error();
  if (!topology.findNamespace(*ns))
    return errorAt(node["namespace"], field + ".namespace", "no namespace \"" + *ns + "\"");
  r.namespace_ = std::move(*ns);
  Result<std::string> pod = optionalString(node["pod"], field + ".pod");
  if (!pod) return pod.error();
  if (!pod->empty() && !topology.findPod(r.namespace_, *pod))
    return errorAt(node["pod"], field + ".pod", "no pod \"" + r.namespace_ + "/" + *pod + "\"");
  r.pod = std::move(*pod);
  const YAML::Node labels = node["labels"];
  const std::string lf = field + ".labels";
  if (!labels.IsDefined() || labels.IsNull()) return Error(0, lf + ": missing");
  if (!labels.IsMap()) return errorAt(labels, lf, "expected a mapping");
  for (const auto& kv : labels) {
    Result<std::string> key = scalar<std::string>(kv.first, lf + " key");
    if (!key) return key.error();
    const std::string kf = lf + "." + *key;
    std::optional<std::string> value;
    if (!kv.second.IsNull()) {
      Result<std::string> v = scalar<std::string>(kv.second, kf);
      if (!v) return v.error();
      value = std::move(*v);
    }
    if (r.pod.empty() && *key == kNamespaceNameLabel) {
      // Neither changed nor removed (README section 2); its own value is a no-op.
      if (value != r.namespace_) return errorAt(kv.second, kf, "cannot be changed or removed");
      continue;
    }
    r.labels[*key] = std::move(value);
  }
  return r;
}

Result<ProbeTarget> parseTarget(const YAML::Node& node, const std::string& field,
                                const Topology& topology) {
  Result<std::string> text = scalar<std::string>(node, field);
  if (!text) return text.error();
  ProbeTarget t;
  t.text = *text;
  const size_t slash = text->find('/');
  if (slash == std::string::npos)
    return errorAt(node, field,
                   "expected namespace/pod, node/NAME or ip/ADDRESS, got \"" + *text + "\"");
  const std::string head = text->substr(0, slash);
  const std::string tail = text->substr(slash + 1);
  if (head == "node") {
    if (!topology.findNode(tail)) return errorAt(node, field, "no node \"" + tail + "\"");
    t.kind = ProbeTarget::Kind::Node;
    t.name = tail;
  } else if (head == "ip") {
    std::optional<IpAddress> ip = IpAddress::parse(tail);
    if (!ip) return errorAt(node, field, "not an IP address: \"" + tail + "\"");
    for (const TopologyPod& p : topology.pods) {
      if (std::find(p.ips.begin(), p.ips.end(), *ip) != p.ips.end())
        return errorAt(
            node, field,
            tail + " is the Pod IP of " + p.namespace_ + "/" + p.name + ": name the pod");
    }
    t.kind = ProbeTarget::Kind::Address;
    t.address = ip;
  } else {
    if (!topology.findPod(head, tail)) return errorAt(node, field, "no pod \"" + *text + "\"");
    t.kind = ProbeTarget::Kind::Pod;
    t.namespace_ = head;
    t.name = tail;
  }
  return t;
}

Result<Probe> parseProbe(const YAML::Node& node, const std::string& field,
                         const Topology& topology) {
  if (auto s = mapWithKeys(node, field, {"from", "to", "protocol", "port", "verdict", "family"});
      !s)
    return s.error();
  Probe p;
  p.line = lineNumber(node);
  Result<std::string> from = scalar<std::string>(node["from"], field + ".from");
  if (!from) return from.error();
  const size_t slash = from->find('/');
  const TopologyPod* src = slash == std::string::npos
                               ? nullptr
                               : topology.findPod(from->substr(0, slash), from->substr(slash + 1));
  if (!src) return errorAt(node["from"], field + ".from", "no pod \"" + *from + "\"");
  if (src->host_network)
    return errorAt(node["from"], field + ".from",
                   *from + " is host-network: probes start at a pod's own address");
  p.from_namespace = src->namespace_;
  p.from_pod = src->name;
  Result<ProbeTarget> to = parseTarget(node["to"], field + ".to", topology);
  if (!to) return to.error();
  p.to = std::move(*to);
  if (node["protocol"]) {
    Result<policy::Protocol> protocol = protocolAt(node["protocol"], field + ".protocol");
    if (!protocol) return protocol.error();
    p.protocol = *protocol;
  }
  Result<int32_t> port = portAt(node["port"], field + ".port");
  if (!port) return port.error();
  p.port = *port;
  Result<std::string> verdict = scalar<std::string>(node["verdict"], field + ".verdict");
  if (!verdict) return verdict.error();
  if (*verdict != "allow" && *verdict != "deny")
    return errorAt(node["verdict"], field + ".verdict",
                   "must be allow or deny, got \"" + *verdict + "\"");
  p.allowed = *verdict == "allow";
  if (p.to.address) p.family = p.to.address->family();
  if (node["family"]) {
    Result<std::string> family = scalar<std::string>(node["family"], field + ".family");
    if (!family) return family.error();
    if (*family != "IPv4" && *family != "IPv6")
      return errorAt(node["family"], field + ".family",
                     "must be IPv4 or IPv6, got \"" + *family + "\"");
    const Family f = *family == "IPv4" ? Family::V4 : Family::V6;
    if (p.to.address && f != p.family)
      return errorAt(node["family"], field + ".family",
                     "is not the family of " + p.to.address->toString());
    p.family = f;
  }
  return p;
}

Result<ClusterCaseStep> parseStep(const YAML::Node& node, const std::string& field,
                                  const Topology& topology) {
  if (auto s = mapWithKeys(node, field, {"name", "delete", "apply", "relabel", "reject", "expect"});
      !s)
    return s.error();
  ClusterCaseStep step;
  step.line = lineNumber(node);
  Result<std::string> name = optionalString(node["name"], field + ".name");
  if (!name) return name.error();
  step.name = std::move(*name);
  const YAML::Node del = node["delete"];
  if (auto s = requireSequence(del, field + ".delete"); !s) return s.error();
  for (size_t i = 0; i < length(del); ++i) {
    Result<ObjectRef> ref = parseObjectRef(del[i], indexed(field + ".delete", i));
    if (!ref) return ref.error();
    step.remove.push_back(std::move(*ref));
  }
  Result<std::vector<CaseManifest>> apply = parseManifests(node["apply"], field + ".apply");
  if (!apply) return apply.error();
  step.apply = std::move(*apply);
  const YAML::Node relabel = node["relabel"];
  if (auto s = requireSequence(relabel, field + ".relabel"); !s) return s.error();
  for (size_t i = 0; i < length(relabel); ++i) {
    Result<Relabel> r = parseRelabel(relabel[i], indexed(field + ".relabel", i), topology);
    if (!r) return r.error();
    step.relabel.push_back(std::move(*r));
  }
  Result<std::vector<CaseManifest>> reject = parseManifests(node["reject"], field + ".reject");
  if (!reject) return reject.error();
  step.reject = std::move(*reject);
  const YAML::Node expect = node["expect"];
  if (auto s = requireSequence(expect, field + ".expect"); !s) return s.error();
  for (size_t i = 0; i < length(expect); ++i) {
    Result<Probe> p = parseProbe(expect[i], indexed(field + ".expect", i), topology);
    if (!p) return p.error();
    step.expect.push_back(std::move(*p));
  }
  return step;
}

Result<ClusterCaseFile> parseRoot(const YAML::Node& root, const std::string& path) {
  if (!root.IsMap()) return Error(0, "not a mapping");
  ClusterCaseFile c;
  c.path = path;
  Result<std::string> name = optionalString(root["name"], "name");
  if (!name) return name.error();
  c.name = std::move(*name);
  Result<Topology> topology = parseTopology(root["topology"]);
  if (!topology) return topology.error();
  c.topology = std::move(*topology);
  Result<std::vector<CaseManifest>> initial = parseManifests(root["initial"], "initial");
  if (!initial) return initial.error();
  c.initial = std::move(*initial);
  const YAML::Node steps = root["steps"];
  if (auto s = requireSequence(steps, "steps"); !s) return s.error();
  for (size_t i = 0; i < length(steps); ++i) {
    Result<ClusterCaseStep> step = parseStep(steps[i], indexed("steps", i), c.topology);
    if (!step) return step.error();
    c.steps.push_back(std::move(*step));
  }
  if (c.steps.empty()) return Error(0, "no steps");
  return c;
}

}  // namespace

const TopologyNode* Topology::findNode(const std::string& name) const {
  auto it = std::find_if(nodes.begin(), nodes.end(),
                         [&](const TopologyNode& n) { return n.name == name; });
  return it == nodes.end() ? nullptr : &*it;
}

const TopologyNamespace* Topology::findNamespace(const std::string& name) const {
  auto it = std::find_if(namespaces.begin(), namespaces.end(),
                         [&](const TopologyNamespace& n) { return n.name == name; });
  return it == namespaces.end() ? nullptr : &*it;
}

const TopologyPod* Topology::findPod(const std::string& ns, const std::string& name) const {
  auto it = std::find_if(pods.begin(), pods.end(), [&](const TopologyPod& p) {
    return p.namespace_ == ns && p.name == name;
  });
  return it == pods.end() ? nullptr : &*it;
}

std::string Probe::describe() const {
  return from() + " -> " + to.text + " " + policy::protocolName(protocol) + "/" +
         std::to_string(port) + (family == Family::V4 ? " IPv4" : " IPv6");
}

Result<ClusterCaseFile> parseClusterCaseText(const std::string& text, const std::string& path) {
  try {
    Result<ClusterCaseFile> c = parseRoot(YAML::Load(text), path);
    if (!c) return c.error().context(path);
    return c;
  } catch (const YAML::Exception& e) {
    // A syntax error, or a shape the readers above did not expect: e.what()
    // carries yaml-cpp's line and column.
    return Error(0, path + ": " + e.what());
  }
}

Result<ClusterCaseFile> loadClusterCaseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(errno, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parseClusterCaseText(text.str(), path);
}

}  // namespace palisade::agent::conformance
