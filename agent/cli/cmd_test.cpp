#include "agent/cli/cmd_test.h"

#include <pthread.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <sstream>
#include <thread>

#include "agent/cli/common.h"
#include "agent/conformance/case_files.h"
#include "agent/conformance/evaluator_flow_prober.h"
#include "agent/conformance/runner.h"
#include "agent/lab/lab.h"
#include "agent/lab/lab_flow_prober.h"
#include "agent/lab/lab_prober.h"
#include "agent/lab/topology.h"

namespace palisade::agent::cli {

namespace {

/// Ctrl-C or a SIGTERM during `test --lab` must not leave the lab behind. The
/// signals are blocked in every thread and taken by one waiting thread, which
/// may do what a signal handler may not: remove the lab, then exit. Children
/// (the lab server, `ip`) get an empty mask back before exec.
void removeLabOnSignal(const std::string& name) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, name] {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) return;
    // No new lab from the main thread from here on; one being created right
    // now has a moment to finish, so that the sweep below sees all of it.
    lab::stopCreatingTopology();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::ostringstream log;
    if (auto down = lab::labDown(name, log); !down) {
      log << "lab " << name << ": " << down.error().str() << "\n";
    }
    // Whatever the saved state did not know of (a lab mid-build).
    if (auto swept = lab::destroyByPrefix(name); swept && !swept->empty()) {
      log << "lab " << name << ": deleted " << swept->size() << " more namespace(s)\n";
    }
    std::cerr << "palisade test: " << strsignal(sig) << ": " << log.str();
    std::_Exit(128 + sig);
  }).detach();
}

}  // namespace

CLI::App* addTestCommand(CLI::App& app, TestOptions& opts) {
  CLI::App* sub = app.add_subcommand(
      "test",
      "Run conformance case files (upstream-netpol or cluster-netpol) through the evaluator");
  sub->add_option("cases", opts.cases, "Case files (or directories of *.yaml cases)")->required();
  // The lab runs the same cases with packet probers instead of the evaluator:
  // conformance::Prober for upstream-netpol, FlowProber for cluster-netpol.
  sub->add_flag("--lab", opts.lab, "Run on a real kernel in network namespaces (root)");
  sub->add_option("--nodes", opts.nodes, "Lab nodes the pods are spread over (with --lab)")
      ->check(CLI::Range(1, 16));
  sub->add_flag("--userspace-mode", opts.userspace_mode,
                "With --lab: every new connection is decided by the packet queue's user-space "
                "decider (must give the same results as the static ruleset)");
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
    const std::string name = "test-" + std::to_string(getpid() % 100000);
    removeLabOnSignal(name);
    lab::LabProber prober(name, opts.nodes, 300, opts.userspace_mode);
    // cluster-netpol cases: their own lab (namespaces pal-<name>-c.*), reused
    // while consecutive cases share a topology; always re-synced per step.
    lab::LabFlowProber flows(name, opts.nodes, 400, opts.userspace_mode);
    conformance::CaseProbers probers{&prober, &flows, ""};
    int failed = conformance::runCaseFiles(files, probers, out);
    return failed == 0 ? kExitOk : kExitFailed;
  }
  conformance::EvaluatorProber matrix;
  conformance::EvaluatorFlowProber flows;
  int failed = conformance::runCaseFiles(files, conformance::CaseProbers{&matrix, &flows, ""}, out);
  return failed == 0 ? kExitOk : kExitFailed;
}

}  // namespace palisade::agent::cli
