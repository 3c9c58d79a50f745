#pragma once
// What a lab is made of, recorded under /run/palisade/lab/<name>/ so that
// `lab up`, `apply`, `probe`, `verify`, `down` and `serve` can be separate
// processes: the namespaces it created (and only those may be removed), the
// server's pid, every pod's node, interface and addresses, the Services as
// kube-proxy would program them, and copies of the manifests it was built from.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/model/objects.h"
#include "policy/net/ip.h"
#include "proto/base/result.h"

namespace palisade::agent::lab {

using policy::IpAddress;
using policy::Protocol;

struct LabNode {
  std::string name;   // the Kubernetes node name
  std::string netns;  // pal-<lab>-n<i>
  IpAddress addr4;    // the node's address (on lo), what NodePorts listen on
  IpAddress addr6;
  /// More addresses on lo, routed here from every other node: the addresses
  /// of the cluster-netpol case nodes this lab node hosts (planFlowLab).
  std::vector<IpAddress> hosted{};
};

struct LabPort {
  int32_t port = 0;
  Protocol protocol = Protocol::TCP;
};

struct LabPod {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  std::string netns;  // pal-<lab>-<ns>-<pod>
  size_t node = 0;    // index into LabState::nodes
  std::string veth;   // its interface in the node netns (p<i>)
  std::vector<IpAddress> ips;
  std::vector<LabPort> ports;  // served by `lab serve`
  std::string label() const { return namespace_ + "/" + name; }
};

struct LabBackend {
  IpAddress ip;
  int32_t port = 0;
};

struct LabServicePort {
  Protocol protocol = Protocol::TCP;
  int32_t port = 0;
  int32_t node_port = 0;  // 0 = none
  std::vector<LabBackend> backends;
};

struct LabService {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  bool headless = false;
  std::vector<IpAddress> cluster_ips;  // empty when headless
  std::vector<LabServicePort> ports;
};

/// Addresses outside the cluster (a probe to `ip/203.0.113.9`): one namespace
/// wired to node 0 like a pod, holding them on its eth0. Every node's default
/// route leads there, so an address added later needs no new route.
struct LabOutside {
  std::string netns;  // pal-<lab>-...
  std::string veth;   // its interface in node 0's namespace
  std::vector<IpAddress> addresses;
};

struct LabState {
  std::string name;
  std::vector<LabNode> nodes;
  std::vector<LabPod> pods;
  std::optional<LabOutside> outside;  // none: unknown addresses are unreachable
  std::vector<LabService> services;
  int serve_pid = 0;
  /// Manifest copies under the state dir, in the order they were applied:
  /// the first is what `lab up` read, each later one a `lab apply`.
  std::vector<std::string> manifest_dirs;

  const LabPod* findPod(const std::string& ns, const std::string& name) const;
};

/// "pal-<lab>-": every namespace of the lab starts with it.
std::string netnsPrefix(const std::string& lab);
/// Lab names: 1-12 of [a-z0-9-], so namespace and interface names stay short.
Status validLabName(const std::string& lab);
/// /run/palisade/lab/<name>
std::string stateDir(const std::string& lab);

Status saveState(const LabState& state);
Result<LabState> loadState(const std::string& lab);

/// Copies manifest files (directories walked for *.yaml|*.yml|*.json in
/// sorted order) into `dir`, keeping their order; returns `dir`.
Result<std::string> copyManifests(const std::vector<std::string>& paths, const std::string& dir);

}  // namespace palisade::agent::lab
