#include "agent/cli/cmd_test.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <ostream>

#include <unistd.h>

#include "agent/cli/common.h"
#include "agent/conformance/runner.h"
#include "agent/lab/lab_prober.h"

namespace palisade::agent::cli {

CLI::App* addTestCommand(CLI::App& app, TestOptions& opts) {
  CLI::App* sub = app.add_subcommand("test", "Run conformance case files through the evaluator");
  sub->add_option("cases", opts.cases, "Case files (or directories of *.yaml cases)")->required();
  // Hook for the lab: it runs the same cases with a packet prober
  // (conformance::Prober) instead of the evaluator.
  sub->add_flag("--lab", opts.lab, "Run on a real kernel in network namespaces (root)");
  sub->add_option("--nodes", opts.nodes, "Lab nodes the pods are spread over (with --lab)")
      ->check(CLI::Range(1, 16));
  return sub;
}

int runTest(const TestOptions& opts, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  // A directory stands for its *.yaml files in name order (the README is not a case).
  std::vector<std::string> files;
  for (const std::string& path : opts.cases) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
        found.push_back(entry.path().string());
      }
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) err << "palisade test: no case files in " << path << "\n";
    files.insert(files.end(), found.begin(), found.end());
  }
  if (files.empty()) {
    err << "palisade test: no case files\n";
    return kExitUsage;
  }
  if (opts.lab) {
    // One lab for the whole run (rebuilt only when a case's pods differ).
    lab::LabProber prober("test-" + std::to_string(getpid() % 100000), opts.nodes);
    int failed = conformance::runCaseFiles(files, prober, out);
    return failed == 0 ? kExitOk : kExitFailed;
  }
  conformance::EvaluatorProber prober;
  int failed = conformance::runCaseFiles(files, prober, out);
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace palisade::agent::cli
