#pragma once
// palisade-agent's command line. The flag list is also what the deploy test
// checks the DaemonSet's args against.
//
// Safe by default: the packet queue is on (a pod the agent does not know yet
// is held, not let through the base chain), fail closed; the health endpoints
// listen on loopback only and /metrics on 127.0.0.1 unless the operator names
// another address (the DaemonSet passes the node's IP).
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "proto/base/result.h"

namespace palisade::agent {

struct AgentFlags {
  std::string kubeconfig;
  std::string manifests;
  std::string node;
  std::string state_dir = "/var/lib/palisade";
  std::string metrics_addr = "127.0.0.1:9640";  // /metrics; "" (--metrics-addr=off): none
  std::string health_addr =
      "127.0.0.1:9641";  // /healthz, /readyz, /status; loopback only; "": none
  std::string log_format = "text";
  std::string log_level = "info";
  std::string deny_action = "drop";
  std::string streaming_list = "auto";
  int page_size = 500;
  double checkpoint_interval = 5;  // seconds
  double backoff_initial = 0.8;
  double backoff_max = 30;
  int watch_timeout = 300;
  double drift_check_interval = 10;      // seconds; 0 = only the change events
  std::string table_ownership = "auto";  // auto: owner+persist where the kernel has them; off
  // The packet queue (NFQUEUE fallback, agent/queue); --queue-count 0 turns it off.
  int queue_count = 1;         // queues, one consumer thread each
  int queue_first = 0;         // first queue number
  double pending_timeout = 5;  // seconds a pending pod's packet is held
  std::string pending_fail = "closed";
  std::string userspace_mode = "none";
  bool fail_open = false;  // --fail-open / --fail-closed (default)
};

/// Registers every flag on `app` (defaults from `flags`; --node from NODE_NAME)
/// and, as the app's final callback, validateFlags (a CLI::ValidationError).
void addFlags(CLI::App& app, AgentFlags& flags);
/// What no single flag's check can see, after parsing `app`: a flag that only
/// means something with the packet queue given while --queue-count is 0, and
/// --metrics-addr equal to --health-addr.
Status validateFlags(const CLI::App& app, const AgentFlags& flags);
/// The flags that need --queue-count > 0.
const std::vector<std::string>& queueOnlyFlags();
/// "--kubeconfig", "--node", ... (every long flag, --help and --version included).
std::vector<std::string> agentFlagNames();

}  // namespace palisade::agent
