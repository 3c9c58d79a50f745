#pragma once
// Running a list of case files of either format: the upstream-netpol matrix
// format (tests/conformance/upstream-netpol/README.md; `model:` at the top)
// and the cluster-netpol flow format (tests/conformance/cluster-netpol/README.md;
// `topology:` at the top), told apart by their content.
#include <iosfwd>
#include <string>
#include <vector>

#include "agent/conformance/flow_prober.h"
#include "agent/conformance/runner.h"

namespace palisade::agent::conformance {

enum class CaseFormat : uint8_t {
  UpstreamNetpol,  // a matrix per step (runner.h)
  ClusterNetpol,   // probes per step (cluster_runner.h)
};

/// A cluster-netpol case has a top-level `topology:` key; anything else
/// (text that is no YAML mapping too) is read as the matrix format, whose
/// loader then reports what is wrong with it.
CaseFormat caseFormatOf(const std::string& text);

/// What probes each format. A null `flows` skips cluster-netpol cases, with
/// `flows_missing` as the reason.
struct CaseProbers {
  Prober* matrix = nullptr;
  FlowProber* flows = nullptr;
  std::string flows_missing;
};

/// Loads and runs each file with the prober of its format; prints "PASS
/// <file>" / "FAIL <file>: ..." per case and "N passed, M failed" last
/// (", K skipped" when cases were skipped: "SKIP <file>: reason"). Returns the
/// number of failed cases.
int runCaseFiles(const std::vector<std::string>& paths, const CaseProbers& probers,
                 std::ostream& out);

}  // namespace palisade::agent::conformance
