#pragma once
// palisade-agent's command line. The flag list is also what the deploy test
// checks the DaemonSet's args against.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace palisade::agent {

struct AgentFlags {
  std::string kubeconfig;
  std::string manifests;
  std::string node;
  std::string state_dir = "/var/lib/palisade";
  std::string metrics_addr = ":9640";
  std::string log_format = "text";
  std::string log_level = "info";
  std::string deny_action = "drop";
  std::string streaming_list = "auto";
  int page_size = 500;
  double checkpoint_interval = 5;  // seconds
  double backoff_initial = 0.8;
  double backoff_max = 30;
  int watch_timeout = 300;
  // The packet queue (NFQUEUE fallback, agent/queue): off with --queue-count 0.
  int queue_count = 0;         // queues, one consumer thread each
  int queue_first = 0;         // first queue number
  double pending_timeout = 5;  // seconds a pending pod's packet is held
  std::string pending_fail = "closed";
  std::string userspace_mode = "none";
  bool fail_open = false;  // --fail-open / --fail-closed (default)
};

/// Registers every flag on `app` (defaults from `flags`; --node from NODE_NAME).
void addFlags(CLI::App& app, AgentFlags& flags);
/// "--kubeconfig", "--node", ... (every long flag, --help and --version included).
std::vector<std::string> agentFlagNames();

}  // namespace palisade::agent
