#pragma once
// `palisade lab ...`: namespace isolation tests on a real kernel.
//
//   palisade lab up -f PATH... [--nodes N] [--name LAB]
//   palisade lab apply -f PATH... [--name LAB]
//   palisade lab probe [--protocol TCP] [--port 80] [--via pod|service] [-o table|json]
//   palisade lab verify [--protocol TCP] [--port 80] [--via pod|service]
//   palisade lab down [--name LAB]
//   palisade lab serve --name LAB      (started by `lab up`: the lab's one server process)
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct LabOptions {
  std::string name = "lab";
  std::vector<std::string> files;
  int nodes = 0;
  std::string protocol = "TCP";
  int32_t port = 80;
  std::string via = "pod";
  std::string output = "table";
  int timeout_ms = 250;
};

struct LabCommands {
  CLI::App* lab = nullptr;
  CLI::App* up = nullptr;
  CLI::App* apply = nullptr;
  CLI::App* probe = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* down = nullptr;
  CLI::App* serve = nullptr;
};

LabCommands addLabCommand(CLI::App& app, LabOptions& opts);

/// Runs whichever lab subcommand was parsed. Exit: 0 ok, 1 failure or
/// (verify) disagreement, 2 usage.
int runLab(const LabCommands& cmds, const LabOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace palisade::agent::cli
