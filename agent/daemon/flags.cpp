#include "agent/daemon/flags.h"

#include "agent/daemon/metrics.h"
#include "proto/base/version.h"

namespace palisade::agent {

void addFlags(CLI::App& app, AgentFlags& f) {
  app.description("palisade-agent: enforces Kubernetes NetworkPolicy on this node with nftables.");
  app.set_version_flag("--version", std::string(version()));
  app.add_option("--kubeconfig", f.kubeconfig,
                 "kubeconfig file (default: in-cluster service account)");
  app.add_option("--manifests", f.manifests,
                 "standalone mode: read objects from this directory, reloaded on change");
  app.add_option("--node", f.node, "this node's name")->envname("NODE_NAME");
  app.add_option("--state-dir", f.state_dir, "checkpoint directory")->capture_default_str();
  app.add_option("--metrics-addr", f.metrics_addr, "address for /metrics, /healthz, /readyz")
      ->capture_default_str();
  app.add_option("--log-format", f.log_format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--deny-action", f.deny_action, "drop or reject denied packets")
      ->check(CLI::IsMember({"drop", "reject"}))
      ->capture_default_str();
  app.add_option("--streaming-list", f.streaming_list,
                 "use watch streaming lists (sendInitialEvents): auto, on or off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_option("--page-size", f.page_size, "LIST page size")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--checkpoint-interval", f.checkpoint_interval,
                 "minimum seconds between checkpoint writes")
      ->capture_default_str();
  app.add_option("--backoff-initial", f.backoff_initial, "first reconnect backoff, seconds")
      ->capture_default_str();
  app.add_option("--backoff-max", f.backoff_max, "reconnect backoff cap, seconds")
      ->capture_default_str();
  app.add_option("--watch-timeout", f.watch_timeout, "watch timeoutSeconds (randomised up to 2x)")
      ->capture_default_str();
  app.add_option("--queue-count", f.queue_count,
                 "NFQUEUE queues for the packet-queue fallback (pending pods, untranslated "
                 "Service traffic, user-space mode), spread across CPUs; 0 = off")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  app.add_option("--queue-first", f.queue_first, "first NFQUEUE queue number")
      ->check(CLI::Range(0, 65535 - 64))
      ->capture_default_str();
  app.add_option("--pending-timeout", f.pending_timeout,
                 "seconds a new connection of a not-yet-known pod is held")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  app.add_option("--pending-fail", f.pending_fail,
                 "verdict for a pod still unknown at the timeout: open or closed")
      ->check(CLI::IsMember({"open", "closed"}))
      ->capture_default_str();
  app.add_option("--userspace-mode", f.userspace_mode,
                 "all: every new connection of local pods is decided in user space and logged")
      ->check(CLI::IsMember({"none", "all"}))
      ->capture_default_str();
  auto* open = app.add_flag("--fail-open{true}", f.fail_open,
                            "with no queue consumer or a full queue, accept the packet");
  auto* closed = app.add_flag("--fail-closed{false}", f.fail_open,
                              "with no queue consumer or a full queue, drop it (default)");
  open->excludes(closed);
  app.add_flag_callback(
      "--flag-list",
      [] {
        for (const auto& n : agentFlagNames()) std::printf("%s\n", n.c_str());
        throw CLI::Success();
      },
      "print every flag name and exit");
}

std::vector<std::string> agentFlagNames() {
  CLI::App app;
  AgentFlags f;
  addFlags(app, f);
  std::vector<std::string> names = {"--help"};
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& n : opt->get_lnames()) names.push_back("--" + n);
  }
  return names;
}

}  // namespace palisade::agent
