#include "agent/daemon/agent.h"

#include <google/protobuf/util/json_util.h>

#include <csignal>
#include <memory>

#include "agent/daemon/api_source.h"
#include "agent/daemon/http_server.h"
#include "agent/daemon/manifest_source.h"
#include "agent/daemon/metrics.h"
#include "agent/daemon/reconciler.h"
#include "agent/queue/queue_kernel.h"
#include "agent/queue/queue_service.h"
#include "datapath/nft/monitor.h"
#include "datapath/nft/probe.h"
#include "palisade/v1/status.pb.h"
#include "proto/base/log.h"
#include "proto/base/version.h"

namespace palisade::agent {

using namespace std::chrono_literals;

namespace {

std::chrono::milliseconds secondsFlag(double s) {
  return std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

std::string statusJson(const AgentFlags& flags, Reconciler& rec, Metrics& metrics,
                       const ApiSource* api) {
  palisade::agent::v1::AgentStatus st;
  st.set_node(flags.node);
  st.set_version(version());
  st.set_mode(flags.manifests.empty() ? "api" : "manifests");
  st.set_ready(rec.ready());
  auto size = metrics.rulesetSize();
  st.set_ruleset_revision(size.revision);
  st.set_programs(size.programs);
  st.set_rules(size.rules);
  st.set_set_elements(size.set_elements);
  st.set_endpoints(size.endpoints);
  st.set_last_error(rec.lastError());
  if (api) {
    for (const auto& r : api->reflectors()) {
      auto* rs = st.add_resources();
      const auto& s = r->stats();
      rs->set_resource(r->resource().name);
      rs->set_synced(s.synced);
      rs->set_resource_version(r->resourceVersion());
      rs->set_lists(s.lists);
      rs->set_relists(s.relists);
      rs->set_events(s.added + s.modified + s.deleted);
      rs->set_errors(s.errors);
      rs->set_decode_errors(s.decode_errors);
      rs->set_streaming_list(s.streaming);
    }
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions opts;
  opts.add_whitespace = true;
  opts.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(st, &out, opts);
  return out;
}

/// --queue-count > 0: probes which queue statement the kernel has, starts
/// the consumers and says which rules to render.
Result<std::unique_ptr<queue::QueueService>> startPacketQueue(const AgentFlags& flags,
                                                              datapath::nft::QueueRules& rules) {
  auto native = datapath::nft::probeQueueStatement();
  if (!native) return native.error();
  queue::QueueServiceOptions o;
  o.first_queue = static_cast<uint16_t>(flags.queue_first);
  o.count = static_cast<uint16_t>(flags.queue_count);
  o.pending_timeout = secondsFlag(flags.pending_timeout);
  o.pending_fail_open = flags.pending_fail == "open";
  o.fail_open = flags.fail_open;
  o.log_decisions = flags.userspace_mode == "all";
  auto service = queue::QueueService::start(o);
  if (!service) return service.error();
  rules.pending_pods = true;
  rules.untranslated_services = true;
  rules.all_local_pods = flags.userspace_mode == "all";
  rules.target = queue::queueTarget(o, *native);
  logInfo("packet queue started", {{"statement", *native ? "nft queue expression"
                                                         : "xtables NFQUEUE target via nft compat"},
                                   {"queues", std::to_string(o.first_queue) + "-" +
                                                  std::to_string(o.first_queue + o.count - 1)},
                                   {"pending_timeout_ms", o.pending_timeout.count()},
                                   {"pending_fail", flags.pending_fail},
                                   {"fail", flags.fail_open ? "open" : "closed"},
                                   {"userspace_mode", flags.userspace_mode}});
  return service;
}

}  // namespace

int runAgent(const AgentFlags& flags) {
  logger().configure(parseLogLevel(flags.log_level).value_or(LogLevel::Info),
                     flags.log_format == "json" ? LogFormat::Json : LogFormat::Text);
  if (flags.node.empty()) {
    logError("--node (or NODE_NAME) is required");
    return 2;
  }
  // Signals go to the main thread's sigwait only: block them before any
  // thread starts so every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  logInfo("starting palisade-agent", {{"version", version()},
                                      {"node", flags.node},
                                      {"mode", flags.manifests.empty() ? "api" : "manifests"}});
  // The packet queue starts before its rules exist in the kernel, so that
  // fail-closed rules never meet a queue without a consumer.
  std::unique_ptr<queue::QueueService> packet_queue;
  datapath::nft::QueueRules queue_rules;
  if (flags.queue_count > 0) {
    auto started = startPacketQueue(flags, queue_rules);
    if (!started) {
      logError("cannot start the packet queue", {{"error", started.error().str()}});
      return 1;
    }
    packet_queue = std::move(*started);
  }
  // The table flags: owner (no other process may change or delete the table
  // while we run) with persist (it outlives us for the next agent to take
  // over). Without both, drift repair alone defends the table.
  auto features = datapath::nft::probeFeatures();
  if (!features) {
    logError("cannot probe the kernel's nftables features", {{"error", features.error().str()}});
    return 1;
  }
  const uint32_t table_flags = flags.table_ownership == "off" ? 0 : features->tableFlags();
  logInfo("kernel features", {{"summary", features->summary()}});
  if (flags.table_ownership == "off")
    logWarn(
        "--table-ownership=off: other processes can change table inet palisade; drift "
        "repair restores it");
  else if (!table_flags)
    logWarn(
        "table inet palisade cannot be made tamper-proof on this kernel (needs the owner and "
        "persist flags, Linux 6.9+): another process can change it; drift repair restores it",
        {{"owner", features->table_owner ? "yes" : "no"},
         {"persist", features->table_persist ? "yes" : "no"}});
  auto kernel =
      datapath::nft::openNftKernel(flags.deny_action == "reject" ? datapath::nft::DenyAction::Reject
                                                                 : datapath::nft::DenyAction::Drop,
                                   queue_rules, table_flags);
  if (!kernel) {
    logError("cannot open the datapath", {{"error", kernel.error().str()}});
    return 1;
  }
  queue::QueueKernel* queue_kernel = nullptr;  // owned by the reconciler below
  if (packet_queue) {
    auto qk = std::make_unique<queue::QueueKernel>(
        std::move(kernel.value()),
        [q = packet_queue.get()](const ir::Ruleset& rs,
                                 std::shared_ptr<const queue::ServiceTable> services) {
          q->programmed(rs, std::move(services));
        },
        queue_rules);
    queue_kernel = qk.get();
    kernel.value() = std::move(qk);
  }

  Metrics metrics;
  metrics.defence.table_owner = (table_flags & datapath::nft::kTableFlagOwner) ? 1 : 0;
  metrics.defence.table_persist = (table_flags & datapath::nft::kTableFlagPersist) ? 1 : 0;
  const uint32_t own_port = kernel.value()->portId();
  if (packet_queue)
    metrics.addCollector([q = packet_queue.get()](std::string& out) { q->renderMetrics(out); });
  ReconcilerOptions ropts;
  ropts.node = flags.node;
  ropts.state_dir = flags.state_dir;
  ropts.checkpoint_interval = secondsFlag(flags.checkpoint_interval);
  if (queue_kernel)
    ropts.before_program = [queue_kernel, node = flags.node](const policy::ClusterState& state) {
      queue_kernel->stageServices(
          std::make_shared<const queue::ServiceTable>(queue::ServiceTable::build(state, node)));
    };
  std::unique_ptr<k8s::ClusterConfig> config;
  if (flags.manifests.empty()) {
    auto c =
        flags.kubeconfig.empty() ? k8s::inClusterConfig() : k8s::kubeconfigConfig(flags.kubeconfig);
    if (!c) {
      logError("no API configuration", {{"error", c.error().str()}});
      return 1;
    }
    config = std::make_unique<k8s::ClusterConfig>(std::move(c.value()));
    for (const auto& w : watchedResources(flags.node))
      ropts.required_resources.insert(w.resource.name);
  }
  ropts.drift_check_interval = secondsFlag(flags.drift_check_interval);
  Reconciler reconciler(ropts, std::move(kernel.value()), metrics);
  reconciler.restoreCheckpoint();
  reconciler.start();
  // Changes to our table by anyone else: read back and repaired by the loop.
  auto monitor = datapath::nft::TableMonitor::start(
      datapath::nft::kTableName, own_port,
      [&reconciler](const std::string& what) { reconciler.driftSuspected(what); });
  if (!monitor) {
    logError("cannot listen to nftables events", {{"error", monitor.error().str()}});
    reconciler.stop();
    return 1;
  }
  // Rendered only while the HTTP listeners run, which stop before the monitor.
  metrics.addCollector([m = monitor->get()](std::string& out) { renderMonitorMetrics(*m, out); });

  std::unique_ptr<ApiSource> api;
  std::unique_ptr<ManifestSource> files;
  if (config) {
    k8s::ReflectorOptions o;
    o.page_size = size_t(flags.page_size);
    o.backoff_initial = secondsFlag(flags.backoff_initial);
    o.backoff_max = secondsFlag(flags.backoff_max);
    o.watch_timeout = std::chrono::seconds(flags.watch_timeout);
    o.streaming = flags.streaming_list == "on"    ? k8s::StreamingList::On
                  : flags.streaming_list == "off" ? k8s::StreamingList::Off
                                                  : k8s::StreamingList::Auto;
    k8s::ClientOptions co;
    co.user_agent = std::string("palisade-agent/") + version();
    api = std::make_unique<ApiSource>(*config, flags.node, reconciler, metrics, o, co);
    metrics.addCollector(
        [a = api.get()](std::string& out) { renderReflectorMetrics(a->reflectors(), out); });
    api->start();
  } else {
    files = std::make_unique<ManifestSource>(flags.manifests, reconciler, metrics);
    if (auto s = files->start(); !s) {
      logError("cannot watch the manifest directory", {{"error", s.error().str()}});
      return 1;
    }
  }

  // /metrics where the operator says (Prometheus); health and /status on
  // loopback only (validateFlags), so that neither pods on the node network
  // nor a flood of scrapes can fail the kubelet's probes.
  HttpServer metrics_http({.name = "metrics"});
  HttpServer health_http({.name = "health"});
  metrics_http.handle("/metrics", [&] {
    return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()};
  });
  health_http.handle("/healthz", [&] {
    return reconciler.healthy() ? HttpReply{200, "text/plain", "ok\n"}
                                : HttpReply{503, "text/plain", "reconcile loop stuck\n"};
  });
  health_http.handle("/readyz", [&] {
    return reconciler.ready() ? HttpReply{200, "text/plain", "ok\n"}
                              : HttpReply{503, "text/plain", reconciler.notReadyReason() + "\n"};
  });
  health_http.handle("/status", [&] {
    return HttpReply{200, "application/json", statusJson(flags, reconciler, metrics, api.get())};
  });
  metrics.addCollector([&](std::string& out) {
    renderHttpServerMetrics({&metrics_http, &health_http}, out);
  });
  for (auto [server, addr] : {std::pair{&metrics_http, &flags.metrics_addr},
                              std::pair{&health_http, &flags.health_addr}}) {
    if (addr->empty()) continue;
    if (auto s = server->start(*addr); !s) {
      logError("cannot listen", {{"error", s.error().str()}});
      return 1;
    }
    logInfo("listening", {{"listener", server->name()}, {"addr", *addr}, {"port", server->port()}});
  }
  while (true) {
    int sig = 0;
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      logInfo("SIGHUP: full resync");
      if (api) api->relist();
      if (files) files->reload();
      reconciler.resync();
      continue;
    }
    logInfo("shutting down; enforcement stays in the kernel", {{"signal", sig}});
    break;
  }
  if (api) api->stop();
  if (files) files->stop();
  metrics_http.stop();
  health_http.stop();
  monitor->reset();  // before the loop it reports to
  reconciler.stop();
  return 0;
}

}  // namespace palisade::agent
