#include "agent/cli/cmd_reach.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "agent/cli/common.h"
#include "policy/evaluate/evaluate.h"

namespace palisade::agent::cli {

CLI::App* addReachCommand(CLI::App& app, ReachOptions& opts) {
  CLI::App* sub = app.add_subcommand("reach", "Verdict for every ordered pair of pods");
  sub->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  sub->add_option("--protocol", opts.protocol, "TCP, UDP or SCTP")->capture_default_str();
  sub->add_option("--port", opts.port, "Destination port")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  sub->add_option("-o,--output", opts.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  return sub;
}

std::vector<std::vector<bool>> reachMatrix(const policy::ClusterState& state,
                                           const std::vector<policy::PodId>& pods,
                                           policy::Protocol protocol, int32_t port) {
  std::vector<std::vector<bool>> allowed(pods.size(), std::vector<bool>(pods.size(), false));
  for (size_t i = 0; i < pods.size(); ++i) {
    for (size_t j = 0; j < pods.size(); ++j) {
      allowed[i][j] = policy::evaluate(state, policy::FlowEnd::ofPod(pods[i]),
                                       policy::FlowEnd::ofPod(pods[j]), protocol, port)
                          .allowed;
    }
  }
  return allowed;
}

std::string renderGrid(const std::vector<std::string>& names,
                       const std::vector<std::vector<char>>& marks) {
  size_t width = 1;
  for (const std::string& n : names) width = std::max(width, n.size());
  auto pad = [](const std::string& s, size_t w) { return std::string(w - s.size(), ' ') + s; };
  std::string out = std::string(width, ' ');
  for (const std::string& n : names) out += " " + pad(n, width);
  out += "\n";
  for (size_t i = 0; i < names.size(); ++i) {
    out += names[i] + std::string(width - names[i].size(), ' ');
    for (size_t j = 0; j < names.size(); ++j) out += " " + pad(std::string(1, marks[i][j]), width);
    out += "\n";
  }
  return out;
}

std::string renderReachTable(const std::vector<std::string>& names,
                             const std::vector<std::vector<bool>>& allowed) {
  std::vector<std::vector<char>> marks(allowed.size());
  for (size_t i = 0; i < allowed.size(); ++i) {
    for (bool a : allowed[i]) marks[i].push_back(a ? '.' : 'X');
  }
  return renderGrid(names, marks);
}

int runReach(const ReachOptions& opts, std::ostream& out, std::ostream& err) {
  std::optional<policy::Protocol> protocol = parseProtocolArg(opts.protocol);
  if (!protocol) {
    err << "palisade reach: unknown protocol \"" << opts.protocol << "\" (TCP, UDP or SCTP)\n";
    return kExitUsage;
  }
  LoadedState loaded = loadState(opts.files, err);
  const policy::ClusterState& state = loaded.state;
  // As `check`: any invalid input fails the command, after printing what the
  // valid objects give (the agent would enforce those).
  const int code = loaded.errors == 0 ? kExitOk : kExitFailed;
  std::vector<policy::PodId> pods = state.podsSorted();
  std::vector<std::string> names;
  names.reserve(pods.size());
  for (policy::PodId id : pods) names.push_back(state.podName(id));
  std::vector<std::vector<bool>> allowed = reachMatrix(state, pods, *protocol, opts.port);

  if (opts.output == "json") {
    boost::json::array results;
    results.reserve(pods.size() * pods.size());
    for (size_t i = 0; i < pods.size(); ++i) {
      for (size_t j = 0; j < pods.size(); ++j) {
        results.push_back(boost::json::object{
            {"from", names[i]}, {"to", names[j]}, {"allowed", static_cast<bool>(allowed[i][j])}});
      }
    }
    boost::json::object doc;
    doc["protocol"] = policy::protocolName(*protocol);
    doc["port"] = opts.port;
    doc["results"] = std::move(results);
    out << boost::json::serialize(doc) << "\n";
    return code;
  }
  if (pods.empty()) {
    err << "palisade reach: no " << (loaded.errors == 0 ? "" : "valid ")
        << "pods in the manifests\n";
    return code;
  }
  out << renderReachTable(names, allowed);
  return code;
}

}  // namespace palisade::agent::cli
