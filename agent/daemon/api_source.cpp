#include "agent/daemon/api_source.h"

#include "policy/manifest/decode_json.h"
#include "proto/base/log.h"

namespace palisade::agent {

std::vector<WatchedResource> watchedResources(const std::string& node) {
  std::vector<WatchedResource> out;
  for (size_t i = 0; i < policy::Kinds::kSize; ++i) {
    const policy::KindId id{uint8_t(i)};
    const policy::KindInfo& k = policy::kindInfo(id);
    k8s::Resource r{std::string(k.resource), std::string(k.name), k.collectionPath(), ""};
    if (k.watch == policy::WatchScope::ThisNode) r.field_selector = "metadata.name=" + node;
    r.custom = k.custom;
    out.push_back({std::move(r), id});
  }
  return out;
}

ApiSource::ApiSource(const k8s::ClusterConfig& config, const std::string& node,
                     Reconciler& reconciler, Metrics& metrics, k8s::ReflectorOptions options,
                     const k8s::ClientOptions& client_options)
    : reconciler_(reconciler), metrics_(metrics) {
  // One token source for every reflector: a 401 on one re-reads it for all.
  auto tokens = std::make_shared<k8s::TokenSource>(config);
  for (const WatchedResource& w : watchedResources(node)) {
    const k8s::Resource& r = w.resource;
    const policy::KindId kind = w.kind;
    k8s::ReflectorCallbacks cb;
    cb.on_object = [this, kind](k8s::EventType t, simdjson::dom::element obj) {
      onObject(kind, t, obj);
    };
    cb.on_removed = [this, kind](std::string_view ns, std::string_view name) {
      reconciler_.remove(kind, std::string(ns), std::string(name));
    };
    cb.on_synced = [this, name = r.name] { reconciler_.synced(name); };
    reflectors_.push_back(std::make_unique<k8s::Reflector>(r, config, tokens, std::move(cb),
                                                           options, client_options));
  }
}

ApiSource::~ApiSource() { stop(); }

void ApiSource::start() {
  for (auto& r : reflectors_) r->start();
}

void ApiSource::stop() {
  for (auto& r : reflectors_) r->stop();
}

void ApiSource::relist() {
  for (auto& r : reflectors_) r->relist();
}

void ApiSource::onObject(policy::KindId kind, k8s::EventType type, simdjson::dom::element obj) {
  auto received = Clock::now();
  if (type == k8s::EventType::Deleted) {
    std::string_view ns, name;
    auto meta = obj["metadata"];
    if (meta["namespace"].get_string().get(ns)) ns = {};
    if (meta["name"].get_string().get(name)) return;
    reconciler_.remove(kind, std::string(ns), std::string(name), received);
    return;
  }
  policy::Diagnostics diags;
  std::optional<policy::AnyObject> decoded = policy::decodeJsonAs(kind, obj, {}, diags);
  if (!decoded) {
    ++metrics_.objects_rejected;
    for (const auto& d : diags)
      logWarn("skipping invalid object (the previous version, if any, stays in force)",
              {{"kind", policy::kindInfo(kind).name},
               {"object", d.object},
               {"field", d.field},
               {"reason", d.message}});
    return;
  }
  if (auto* pod = std::get_if<policy::Pod>(&*decoded)) {
    // A finished pod has given its address back: it is no longer a peer.
    if (pod->phase == "Succeeded" || pod->phase == "Failed") {
      reconciler_.remove(policy::kindId<policy::Pod>(), pod->meta.namespace_, pod->meta.name,
                         received);
      return;
    }
  }
  reconciler_.upsert(std::move(*decoded), received);
}

void renderReflectorMetrics(const std::vector<std::unique_ptr<k8s::Reflector>>& reflectors,
                            std::string& out) {
  metricHeader(out, "palisade_api_events_total", "counter",
               "API objects received, by resource and event type (LIST items count as ADDED).");
  for (const auto& r : reflectors) {
    const auto& s = r->stats();
    const std::string l = "{resource=\"" + r->resource().name + "\",type=\"";
    out += "palisade_api_events_total" + l + "ADDED\"} " + std::to_string(s.added) + "\n";
    out += "palisade_api_events_total" + l + "MODIFIED\"} " + std::to_string(s.modified) + "\n";
    out += "palisade_api_events_total" + l + "DELETED\"} " + std::to_string(s.deleted) + "\n";
    out += "palisade_api_events_total" + l + "BOOKMARK\"} " + std::to_string(s.bookmarks) + "\n";
  }
  auto simple = [&](const char* name, const char* help, auto field) {
    metricHeader(out, name, "counter", help);
    for (const auto& r : reflectors)
      out += std::string(name) + "{resource=\"" + r->resource().name + "\"} " +
             std::to_string(field(r->stats())) + "\n";
  };
  simple("palisade_api_relists_total", "Relists after the first list (410, SIGHUP).",
         [](const k8s::ReflectorStats& s) { return s.relists.load(); });
  simple("palisade_api_watches_total", "Watch requests started.",
         [](const k8s::ReflectorStats& s) { return s.watches.load(); });
  simple("palisade_api_errors_total", "Failed API requests and broken streams.",
         [](const k8s::ReflectorStats& s) { return s.errors.load(); });
  simple("palisade_api_decode_errors_total", "Malformed events or objects skipped.",
         [](const k8s::ReflectorStats& s) { return s.decode_errors.load(); });
  simple("palisade_api_oversized_total",
         "LIST pages or watch events over their size limit (pages shrink, events relist).",
         [](const k8s::ReflectorStats& s) { return s.oversized.load(); });
  simple("palisade_api_throttled_total", "429 answers.",
         [](const k8s::ReflectorStats& s) { return s.throttled.load(); });
  simple("palisade_api_forbidden_total",
         "403 answers: the agent's ClusterRole does not grant list and watch on the resource.",
         [](const k8s::ReflectorStats& s) { return s.forbidden.load(); });
  metricHeader(out, "palisade_api_synced", "gauge", "1 once the resource's first list completed.");
  for (const auto& r : reflectors)
    out += "palisade_api_synced{resource=\"" + r->resource().name + "\"} " +
           std::to_string(r->stats().synced ? 1 : 0) + "\n";
  metricHeader(out, "palisade_api_served", "gauge",
               "0 while the API server does not serve the resource (a CRD not installed; looked "
               "for again periodically, and synced with no objects), else 1.");
  for (const auto& r : reflectors)
    out += "palisade_api_served{resource=\"" + r->resource().name + "\"} " +
           std::to_string(r->stats().served ? 1 : 0) + "\n";
}

}  // namespace palisade::agent
