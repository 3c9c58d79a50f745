#pragma once
// A cluster-netpol case file (format: tests/conformance/cluster-netpol/README.md,
// sections 1-4; ClusterNetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy
// and NetworkPolicy over an explicit topology), parsed into plain values.
// Manifests stay YAML text, so they go through the manifest reader and its
// validation when the runner applies (or must refuse) them. The parser checks
// the file on its own terms: shapes, addresses, and that every name a step or
// probe uses is in the topology; it knows nothing of policy.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/model/objects.h"
#include "policy/net/ip.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance {

struct TopologyNode {
  std::string name;
  policy::LabelMap labels;
  std::vector<policy::IpAddress> addresses;  // status.addresses order
};

struct TopologyNamespace {
  std::string name;
  policy::LabelMap labels;  // without kubernetes.io/metadata.name (always implied)
};

struct TopologyPod {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  policy::LabelMap labels;
  std::string node;
  bool host_network = false;
  std::vector<policy::IpAddress> ips;  // empty for a host-network pod (it has its node's)
  std::vector<policy::ContainerPort> ports;
};

struct Topology {
  std::vector<TopologyNode> nodes;
  std::vector<TopologyNamespace> namespaces;
  std::vector<TopologyPod> pods;

  const TopologyNode* findNode(const std::string& name) const;
  const TopologyNamespace* findNamespace(const std::string& name) const;
  const TopologyPod* findPod(const std::string& ns, const std::string& name) const;
};

/// One object of `initial`, `apply` or `reject`, re-emitted as YAML text. What
/// the API server checks before any decoder runs (is there an apiVersion, is a
/// namespace given) is noted as written, since the reader defaults both.
struct CaseManifest {
  std::string field;  // "steps[1].apply[0]", for messages
  int line = 0;       // where the object starts in the case file
  std::string text;
  bool has_api_version = false;
  std::optional<std::string> metadata_namespace;
};

/// `delete`: an object by kind, namespace (NetworkPolicy only) and name.
struct ObjectRef {
  std::string kind;
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
  int line = 0;
};

/// `relabel`: merged into a namespace's labels (`pod` empty) or a pod's; a
/// key mapped to nullopt (YAML null) is removed.
struct Relabel {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string pod;
  std::map<std::string, std::optional<std::string>> labels;
  int line = 0;
};

/// A probe's destination as written: `ns/pod`, `node/NAME` or `ip/ADDRESS`.
struct ProbeTarget {
  enum class Kind : uint8_t { Pod, Node, Address };
  Kind kind = Kind::Pod;
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;        // the pod's or the node's
  std::optional<policy::IpAddress> address;  // Kind::Address
  std::string text;                          // as written, for messages
};

/// One connection attempt and the verdict the engine must give.
struct Probe {
  std::string from_namespace;
  std::string from_pod;
  ProbeTarget to;
  policy::Protocol protocol = policy::Protocol::TCP;
  int32_t port = 0;
  policy::Family family = policy::Family::V4;  // for ip/ADDRESS: the address's
  bool allowed = false;                        // verdict: allow
  int line = 0;

  std::string from() const { return from_namespace + "/" + from_pod; }
  /// "x/a -> y/b TCP/80 IPv4"
  std::string describe() const;
};

/// Within a step the runner deletes, applies, relabels, checks the rejects,
/// then probes (README section 3).
struct ClusterCaseStep {
  std::string name;  // may be empty
  int line = 0;
  std::vector<ObjectRef> remove;  // `delete`
  std::vector<CaseManifest> apply;
  std::vector<Relabel> relabel;
  std::vector<CaseManifest> reject;
  std::vector<Probe> expect;
};

struct ClusterCaseFile {
  std::string path;
  std::string name;
  Topology topology;
  std::vector<CaseManifest> initial;
  std::vector<ClusterCaseStep> steps;
};

/// Reads and parses a cluster-netpol case. The Error names the file, the field
/// ("steps[1].expect[0].port"), its line, and what is wrong with it.
Result<ClusterCaseFile> loadClusterCaseFile(const std::string& path);
/// Parses case text; `path` names it in errors and becomes ClusterCaseFile::path.
Result<ClusterCaseFile> parseClusterCaseText(const std::string& text, const std::string& path);

}  // namespace palisade::agent::conformance
