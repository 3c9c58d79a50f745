#pragma once
// `palisade test CASE.yaml...`: conformance cases through the evaluator
// (cross-checked against the compiled IR), or with `--lab [--nodes N]` on a
// real lab: network namespaces, the nft datapath, probes through Service ClusterIPs.
// Each file is an upstream-netpol matrix case or a cluster-netpol flow case
// (conformance/case_files.h tells them apart); the lab runs matrix cases only.
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct TestOptions {
  std::vector<std::string> cases;  // files, or directories of *.yaml cases
  bool lab = false;                // real packets in network namespaces (root)
  int nodes = 1;                   // lab nodes the pods are spread over
  bool userspace_mode = false;     // lab verdicts through the packet queue (issue 6)
};

CLI::App* addTestCommand(CLI::App& app, TestOptions& opts);

/// Prints PASS/FAIL per case and "N passed, M failed"; 0 only if all passed.
int runTest(const TestOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace palisade::agent::cli
