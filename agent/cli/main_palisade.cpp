// palisade: the command line. Everything but `apply` and `lab` is a dry run
// that reads manifests and never touches kernel state.
//
//   palisade check   -f PATH...                       validate
//   palisade reach   -f PATH... [--protocol] [--port] every pod pair
//   palisade explain -f PATH... --from --to --port    one flow, and why
//   palisade compile -f PATH... --node NAME           the node's IR
//   palisade test    CASE.yaml...                     conformance cases
//   palisade apply   -f PATH... --node NAME           program this netns once (root)
//   palisade lab     up|apply|probe|verify|down       real kernel, network namespaces (root)
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/cli/cmd_apply.h"
#include "agent/cli/cmd_check.h"
#include "agent/cli/cmd_compile.h"
#include "agent/cli/cmd_explain.h"
#include "agent/cli/cmd_lab.h"
#include "agent/cli/cmd_reach.h"
#include "agent/cli/cmd_test.h"
#include "agent/cli/common.h"
#include "proto/base/version.h"

int main(int argc, char** argv) {
  namespace cli = palisade::agent::cli;
  CLI::App app{"palisade: Kubernetes NetworkPolicy (dry run, except apply and lab)"};
  app.set_version_flag("--version", std::string(palisade::version()));
  app.require_subcommand(1);
  cli::CheckOptions check;
  cli::ReachOptions reach;
  cli::ExplainOptions explain;
  cli::CompileOptions compile;
  cli::TestOptions test;
  CLI::App* check_cmd = cli::addCheckCommand(app, check);
  CLI::App* reach_cmd = cli::addReachCommand(app, reach);
  CLI::App* explain_cmd = cli::addExplainCommand(app, explain);
  CLI::App* compile_cmd = cli::addCompileCommand(app, compile);
  CLI::App* test_cmd = cli::addTestCommand(app, test);
  cli::LabOptions lab;
  cli::LabCommands lab_cmds = cli::addLabCommand(app, lab);
  cli::addApplyCommand(app);  // runs from its own callback and exits
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // --help is a success; every other parse problem is a usage error.
    return code == 0 ? cli::kExitOk : cli::kExitUsage;
  }
  try {
    if (check_cmd->parsed()) return cli::runCheck(check, std::cout, std::cerr);
    if (reach_cmd->parsed()) return cli::runReach(reach, std::cout, std::cerr);
    if (explain_cmd->parsed()) return cli::runExplain(explain, std::cout, std::cerr);
    if (compile_cmd->parsed()) return cli::runCompile(compile, std::cout, std::cerr);
    if (test_cmd->parsed()) return cli::runTest(test, std::cout, std::cerr);
    if (lab_cmds.lab->parsed()) return cli::runLab(lab_cmds, lab, std::cout, std::cerr);
  } catch (const std::exception& e) {
    // Broken invariants inside the core end here, loudly, with a distinct code.
    std::cerr << "palisade: internal error: " << e.what() << "\n";
    return 3;
  }
  return cli::kExitUsage;
}
