#include "agent/daemon/flags.h"

#include "agent/daemon/http_server.h"
#include "proto/base/version.h"

namespace palisade::agent {

namespace {

/// "off" becomes "" (that listener off): CLI11 takes no empty value.
bool off(std::string& addr) {
  if (addr == "off") addr.clear();
  return addr.empty();
}

/// host:port as HttpServer takes it, or off.
CLI::Validator listenAddress() {
  return CLI::Validator(
      [](std::string& addr) -> std::string {
        std::string host;
        uint16_t port = 0;
        if (off(addr) || parseListenAddress(addr, host, port)) return "";
        return "not HOST:PORT with an IP address (\"10.0.0.5:9640\", \"[fd00::5]:9640\", "
               "\":9640\" for every address) or off";
      },
      "HOST:PORT");
}

/// listenAddress, and the host must be loopback: anything on the node
/// network, pods included, could otherwise read /status and fail the probes.
CLI::Validator loopbackAddress() {
  return CLI::Validator(
      [](std::string& addr) -> std::string {
        std::string host;
        uint16_t port = 0;
        if (off(addr)) return "";
        if (!parseListenAddress(addr, host, port))
          return "not HOST:PORT with a loopback IP address (\"127.0.0.1:9641\", "
                 "\"[::1]:9641\") or off";
        if (!isLoopbackAddress(host))
          return addr + " listens on " + host +
                 ", not on loopback: /healthz, /readyz and /status are served on "
                 "127.0.0.0/8 or ::1 only (the kubelet probes a hostNetwork pod at 127.0.0.1); "
                 "use --metrics-addr for an address other hosts reach";
        return "";
      },
      "LOOPBACK:PORT");
}

}  // namespace

const std::vector<std::string>& queueOnlyFlags() {
  static const std::vector<std::string> kFlags = {"--queue-first",  "--pending-timeout",
                                                  "--pending-fail", "--userspace-mode",
                                                  "--fail-open",    "--fail-closed"};
  return kFlags;
}

Status validateFlags(const CLI::App& app, const AgentFlags& f) {
  if (f.queue_count == 0) {
    for (const std::string& name : queueOnlyFlags())
      if (app.count(name) > 0)
        return Error(EINVAL, name +
                                 " needs the packet queue (--queue-count > 0), and "
                                 "--queue-count is 0");
  }
  if (!f.metrics_addr.empty() && f.metrics_addr == f.health_addr)
    return Error(EINVAL, "--metrics-addr and --health-addr are both " + f.metrics_addr +
                             ": /metrics and the health endpoints need listeners of their own");
  return okStatus();
}

void addFlags(CLI::App& app, AgentFlags& f) {
  app.description("palisade-agent: enforces Kubernetes NetworkPolicy on this node with nftables.");
  app.set_version_flag("--version", std::string(version()));
  app.add_option("--kubeconfig", f.kubeconfig,
                 "kubeconfig file (default: in-cluster service account)");
  app.add_option("--manifests", f.manifests,
                 "standalone mode: read objects from this directory, reloaded on change");
  app.add_option("--node", f.node, "this node's name")->envname("NODE_NAME");
  app.add_option("--state-dir", f.state_dir, "checkpoint directory")->capture_default_str();
  app.add_option("--metrics-addr", f.metrics_addr,
                 "HOST:PORT for /metrics (Prometheus); the DaemonSet passes the node's IP; "
                 "off: no listener")
      ->transform(listenAddress())
      ->capture_default_str();
  app.add_option("--health-addr", f.health_addr,
                 "loopback HOST:PORT for /healthz, /readyz and /status (the kubelet's probes); "
                 "off: no listener")
      ->transform(loopbackAddress())
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
  app.add_option("--drift-check-interval", f.drift_check_interval,
                 "seconds between looks at the nftables generation, the safety net behind the "
                 "change events (0 = events only)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--table-ownership", f.table_ownership,
                 "auto: create table inet palisade with the kernel's owner and persist flags "
                 "where it has both, so no other process can change or delete it; off: leave "
                 "it editable (e.g. for nft tracing rules; drift repair still undoes changes)")
      ->check(CLI::IsMember({"auto", "off"}))
      ->capture_default_str();
  app.add_option("--queue-count", f.queue_count,
                 "NFQUEUE queues for the packet-queue fallback (pending pods, untranslated "
                 "Service traffic, user-space mode), spread across CPUs; 0 = off (a pod the "
                 "agent does not know yet then passes the base chain)")
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
  app.final_callback([&app, &f] {
    if (auto s = validateFlags(app, f); !s) throw CLI::ValidationError(s.error().message());
  });
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
