#include "agent/cli/cmd_lab.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "agent/cli/cmd_reach.h"
#include "agent/cli/common.h"
#include "agent/cli/lab_verify.h"
#include "agent/lab/lab.h"
#include "agent/lab/plan.h"
#include "agent/lab/server.h"

namespace palisade::agent::cli {
namespace {

void addProbeFlags(CLI::App* sub, LabOptions& opts) {
  sub->add_option("--protocol", opts.protocol, "TCP or UDP (SCTP: no sockets here)")
      ->capture_default_str();
  sub->add_option("--port", opts.port, "Destination (pod) port")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  sub->add_option("--via", opts.via, "pod: to the pod IP; service: to a ClusterIP backed by it")
      ->check(CLI::IsMember({"pod", "service"}))
      ->capture_default_str();
  sub->add_option("--timeout-ms", opts.timeout_ms, "Per-matrix connect timeout")
      ->check(CLI::Range(10, 10000))
      ->capture_default_str();
}

/// The same JSON document as `palisade reach -o json`.
std::string reachJson(const std::vector<std::string>& names,
                      const std::vector<std::vector<bool>>& allowed, policy::Protocol protocol,
                      int32_t port) {
  boost::json::array results;
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < names.size(); ++j) {
      results.push_back(boost::json::object{
          {"from", names[i]}, {"to", names[j]}, {"allowed", static_cast<bool>(allowed[i][j])}});
    }
  }
  boost::json::object doc;
  doc["protocol"] = policy::protocolName(protocol);
  doc["port"] = port;
  doc["results"] = std::move(results);
  return boost::json::serialize(doc);
}

struct Loaded {
  lab::LabState lab;
  policy::ClusterState state;
};

std::optional<Loaded> loadLab(const std::string& name, std::ostream& err) {
  auto lab = lab::loadState(name);
  if (!lab) {
    err << "palisade lab: " << lab.error().str() << "\n";
    return std::nullopt;
  }
  std::vector<std::string> warnings;
  auto state = lab::loadClusterState(*lab, &warnings);
  for (const std::string& w : warnings) err << "warning: " << w << "\n";
  if (!state) {
    err << "palisade lab: " << state.error().str() << "\n";
    return std::nullopt;
  }
  return Loaded{std::move(*lab), std::move(*state)};
}

int runProbeOrVerify(bool verify, const LabOptions& opts, std::ostream& out, std::ostream& err) {
  std::optional<policy::Protocol> protocol = parseProtocolArg(opts.protocol);
  if (!protocol) {
    err << "palisade lab: unknown protocol \"" << opts.protocol << "\"\n";
    return kExitUsage;
  }
  std::optional<Loaded> loaded = loadLab(opts.name, err);
  if (!loaded) return kExitFailed;
  lab::Via via = opts.via == "service" ? lab::Via::Service : lab::Via::Pod;
  auto probe =
      lab::labProbe(loaded->lab, loaded->state, *protocol, opts.port, via, opts.timeout_ms);
  if (!probe) {
    err << "palisade lab probe: " << probe.error().str() << "\n";
    return kExitFailed;
  }
  for (const std::string& n : probe->notes) err << "note: " << n << "\n";
  const std::string what =
      std::string(policy::protocolName(*protocol)) + "/" + std::to_string(opts.port);
  if (!verify) {
    if (opts.output == "json") {
      out << reachJson(probe->names, probe->allowed, *protocol, opts.port) << "\n";
      return kExitOk;
    }
    std::vector<std::vector<char>> marks(probe->names.size());
    for (size_t i = 0; i < probe->names.size(); ++i) {
      for (size_t j = 0; j < probe->names.size(); ++j) {
        marks[i].push_back(!probe->probed[i][j] ? '-' : probe->allowed[i][j] ? '.' : 'X');
      }
    }
    out << renderGrid(probe->names, marks);
    out << "legend: . connected  X refused or timed out  - not probed (no " << what
        << " listener, no address or Service to reach it by)\n";
    return kExitOk;
  }
  std::vector<policy::PodId> pods = loaded->state.podsSorted();
  VerifyGrid grid;
  grid.names = probe->names;
  grid.predicted = reachMatrix(loaded->state, pods, *protocol, opts.port);
  grid.kernel = probe->allowed;
  grid.checked = probe->probed;
  // To its own pod IP a pod never leaves its namespace: nothing enforces
  // that. Through its Service (hairpin) the node does, so that is checked.
  if (opts.via == "pod") {
    for (size_t i = 0; i < pods.size(); ++i) grid.checked[i][i] = false;
  }
  out << "prediction (palisade reach) and kernel (lab probe via " << opts.via << "), " << what
      << ", from row to column:\n";
  out << renderVerifyTable(grid);
  // Why cells were not checked. A pod that does not listen on the port
  // refuses whatever policy says: its column says nothing about enforcement.
  std::string idle;
  for (size_t j = 0; j < pods.size(); ++j) {
    if (!probe->served[j]) idle += (idle.empty() ? "" : ", ") + probe->names[j];
  }
  if (!idle.empty()) out << "not checked (-): no " << what << " listener: " << idle << "\n";
  if (opts.via == "pod") {
    out << "not checked (-): a pod to its own IP (never leaves its namespace; --via service "
           "checks the hairpin)\n";
  }
  for (size_t i = 0; i < pods.size(); ++i) {
    for (size_t j = 0; j < pods.size(); ++j) {
      if (!grid.checked[i][j] || grid.predicted[i][j] == grid.kernel[i][j]) continue;
      out << "! " << probe->names[i] << " -> " << probe->names[j] << ": predicted "
          << (grid.predicted[i][j] ? "allow" : "deny") << ", kernel "
          << (grid.kernel[i][j] ? "allow" : "deny") << "\n";
    }
  }
  VerifyCount count = countVerify(grid);
  out << (count.disagree == 0 ? "agree" : "disagree") << ": " << count.checked << " cells checked, "
      << count.disagree << " disagreeing (probe " << lab::formatSeconds(probe->seconds) << " s)\n";
  return count.disagree == 0 ? kExitOk : kExitFailed;
}

}  // namespace

LabCommands addLabCommand(CLI::App& app, LabOptions& opts) {
  LabCommands c;
  c.lab = app.add_subcommand("lab", "Namespace isolation tests on the real kernel (root)");
  c.lab->require_subcommand(1);
  auto name = [&](CLI::App* sub) {
    sub->add_option("--name", opts.name, "Lab name (1-12 of [a-z0-9-])")->capture_default_str();
  };
  c.up = c.lab->add_subcommand("up", "Build a lab of network namespaces from manifests");
  c.up->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  c.up->add_option("--nodes", opts.nodes, "Lab nodes (pods without nodeName are spread)")
      ->check(CLI::Range(1, 64));
  name(c.up);
  c.apply = c.lab->add_subcommand("apply", "Apply policies and label changes, re-sync");
  c.apply->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  name(c.apply);
  c.probe = c.lab->add_subcommand("probe", "Real connections for every ordered pair of pods");
  addProbeFlags(c.probe, opts);
  c.probe->add_option("-o,--output", opts.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  name(c.probe);
  c.verify = c.lab->add_subcommand("verify", "Compare reach (prediction) with probe (kernel)");
  addProbeFlags(c.verify, opts);
  name(c.verify);
  c.down = c.lab->add_subcommand("down", "Remove everything the lab made");
  name(c.down);
  c.serve = c.lab->add_subcommand("serve", "The lab's server process (started by lab up)");
  name(c.serve);
  return c;
}

int runLab(const LabCommands& c, const LabOptions& opts, std::ostream& out, std::ostream& err) {
  if (c.serve->parsed()) return lab::serveMain(opts.name);
  if (c.up->parsed()) {
    lab::UpOptions up{opts.name, opts.files, opts.nodes, ""};
    auto result = lab::labUp(up, out);
    if (!result) {
      err << "palisade lab up: " << result.error().str() << "\n";
      return kExitFailed;
    }
    return kExitOk;
  }
  if (c.apply->parsed()) {
    if (auto s = lab::labApply(opts.name, opts.files, out); !s) {
      err << "palisade lab apply: " << s.error().str() << "\n";
      return kExitFailed;
    }
    return kExitOk;
  }
  if (c.probe->parsed()) return runProbeOrVerify(false, opts, out, err);
  if (c.verify->parsed()) return runProbeOrVerify(true, opts, out, err);
  if (c.down->parsed()) {
    if (auto s = lab::labDown(opts.name, out); !s) {
      err << "palisade lab down: " << s.error().str() << "\n";
      return kExitFailed;
    }
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace palisade::agent::cli
