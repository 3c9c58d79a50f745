#include "agent/daemon/api_source.h"

#include "agent/daemon/log.h"
#include "policy/manifest/decode_json.h"

namespace palisade::agent {

std::vector<k8s::Resource> watchedResources(const std::string& node) {
  return {
      {"namespaces", "Namespace", "/api/v1/namespaces", ""},
      {"pods", "Pod", "/api/v1/pods", ""},
      {"networkpolicies", "NetworkPolicy", "/apis/networking.k8s.io/v1/networkpolicies", ""},
      {"services", "Service", "/api/v1/services", ""},
      {"endpointslices", "EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices", ""},
      {"nodes", "Node", "/api/v1/nodes", "metadata.name=" + node},
  };
}

namespace {

ObjectKind kindOf(const std::string& kind) {
  if (kind == "Namespace") return ObjectKind::Namespace;
  if (kind == "Pod") return ObjectKind::Pod;
  if (kind == "NetworkPolicy") return ObjectKind::NetworkPolicy;
  if (kind == "Service") return ObjectKind::Service;
  if (kind == "EndpointSlice") return ObjectKind::EndpointSlice;
  return ObjectKind::Node;
}

template <typename T>
std::optional<AnyObject> wrap(std::optional<T>&& v) {
  if (!v) return std::nullopt;
  return AnyObject(std::move(*v));
}

}  // namespace

ApiSource::ApiSource(k8s::ClusterConfig config, const std::string& node, Reconciler& reconciler,
                     Metrics& metrics, k8s::ReflectorOptions options,
                     k8s::ClientOptions client_options)
    : reconciler_(reconciler), metrics_(metrics) {
  // One token source for every reflector: a 401 on one re-reads it for all.
  auto tokens = std::make_shared<k8s::TokenSource>(config);
  for (auto& r : watchedResources(node)) {
    auto resource = std::make_shared<k8s::Resource>(r);
    k8s::ReflectorCallbacks cb;
    cb.on_object = [this, resource](k8s::EventType t, simdjson::dom::element obj) {
      onObject(*resource, t, obj);
    };
    cb.on_removed = [this, resource](std::string_view ns, std::string_view name) {
      reconciler_.remove(kindOf(resource->kind), std::string(ns), std::string(name));
    };
    cb.on_synced = [this, resource] { reconciler_.synced(resource->name); };
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

void ApiSource::onObject(const k8s::Resource& r, k8s::EventType type, simdjson::dom::element obj) {
  auto received = Clock::now();
  ObjectKind kind = kindOf(r.kind);
  if (type == k8s::EventType::Deleted) {
    std::string_view ns, name;
    auto meta = obj["metadata"];
    if (meta["namespace"].get_string().get(ns)) ns = {};
    if (meta["name"].get_string().get(name)) return;
    reconciler_.remove(kind, std::string(ns), std::string(name), received);
    return;
  }
  policy::Diagnostics diags;
  policy::SourceLocation where;
  std::optional<AnyObject> decoded;
  switch (kind) {
    case ObjectKind::Namespace:
      decoded = wrap(policy::decodeNamespace(obj, where, diags));
      break;
    case ObjectKind::Pod:
      decoded = wrap(policy::decodePod(obj, where, diags));
      break;
    case ObjectKind::NetworkPolicy:
      decoded = wrap(policy::decodeNetworkPolicy(obj, where, diags));
      break;
    case ObjectKind::Service:
      decoded = wrap(policy::decodeService(obj, where, diags));
      break;
    case ObjectKind::EndpointSlice:
      decoded = wrap(policy::decodeEndpointSlice(obj, where, diags));
      break;
    case ObjectKind::Node:
      decoded = wrap(policy::decodeNode(obj, where, diags));
      break;
  }
  if (!decoded) {
    ++metrics_.objects_rejected;
    for (const auto& d : diags)
      logWarn("skipping invalid object (the previous version, if any, stays in force)",
              {{"kind", r.kind}, {"object", d.object}, {"field", d.field}, {"reason", d.message}});
    return;
  }
  if (auto* pod = std::get_if<policy::Pod>(&*decoded)) {
    // A finished pod has given its address back: it is no longer a peer.
    if (pod->phase == "Succeeded" || pod->phase == "Failed") {
      reconciler_.remove(ObjectKind::Pod, pod->meta.namespace_, pod->meta.name, received);
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
  simple("palisade_api_throttled_total", "429 answers.",
         [](const k8s::ReflectorStats& s) { return s.throttled.load(); });
  metricHeader(out, "palisade_api_synced", "gauge", "1 once the resource's first list completed.");
  for (const auto& r : reflectors)
    out += "palisade_api_synced{resource=\"" + r->resource().name + "\"} " +
           std::to_string(r->stats().synced ? 1 : 0) + "\n";
}

}  // namespace palisade::agent
