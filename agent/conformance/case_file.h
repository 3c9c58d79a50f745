#pragma once
// A conformance case file (format: tests/conformance/upstream-netpol/README.md),
// parsed into plain values. Policies stay as YAML text so they go through the
// manifest reader (and its validation) when a step applies them.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "policy/model/objects.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance {

struct CaseModel {
  std::vector<std::string> namespaces;  // x, y, z
  std::vector<std::string> pods;        // a, b, c (in every namespace)
  std::vector<int32_t> ports;
  std::vector<policy::Protocol> protocols;
};

struct ExpectedCell {
  std::string from;  // "x/a"
  std::string to;
  bool allowed = false;
};

struct Expectation {
  bool default_allowed = true;
  std::vector<ExpectedCell> exceptions;
};

struct LabelTarget {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string pod;         // empty: the namespace's labels
  policy::LabelMap labels;
};

struct PolicyKey {
  std::string namespace_;  // NOLINT(readability-identifier-naming): `namespace` is a keyword
  std::string name;
};

struct CaseStep {
  std::vector<std::string> apply;  // each a NetworkPolicy as YAML text
  std::optional<LabelTarget> relabel;
  std::vector<PolicyKey> remove;                   // `delete`
  std::optional<policy::Protocol> probe_protocol;  // absent: step probes nothing
  int32_t probe_port = 0;
  Expectation expect;
};

struct CaseFile {
  std::string path;
  std::string name;
  CaseModel model;
  std::map<std::string, std::string> pod_ips;  // "x/a" → "10.0.1.1" (or v6; or a list "a,b")
  /// palisade extension: extra container ports for some pods ("x/a" → ports),
  /// e.g. the same port name on different numbers.
  std::map<std::string, std::vector<policy::ContainerPort>> pod_ports;
  bool ignore_loopback = false;
  std::vector<CaseStep> steps;
};

/// Reads and parses a case file. The Error names the file, the field
/// ("steps[1] (step 2).probe.port"), its line, and what is wrong with it.
Result<CaseFile> loadCaseFile(const std::string& path);
/// Parses case text; `path` names it in errors and becomes CaseFile::path.
Result<CaseFile> parseCaseText(const std::string& text, const std::string& path);

}  // namespace palisade::agent::conformance
