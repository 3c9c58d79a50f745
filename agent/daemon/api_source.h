#pragma once
// Feeds the reconcile loop from the Kubernetes API: one reflector per
// resource (Pods, Namespaces, NetworkPolicies, Services, EndpointSlices, this
// Node, and the cluster tiers' CRDs where they are installed), each object
// decoded with the policy decoders (the same validation and defaulting as
// manifests). A CRD the API does not serve counts as synced with no objects
// and is looked for again (reflector.h), so it never holds programming
// back. An object that fails validation is logged with its kind and name and
// skipped; the state keeps its previous version, so enforcement already in
// force is never dropped because of it.
#include <memory>
#include <string>
#include <vector>

#include "agent/daemon/metrics.h"
#include "agent/daemon/reconciler.h"
#include "agent/k8s/reflector.h"
#include "policy/kinds/kinds.h"

namespace palisade::agent {

/// A resource the agent lists and watches, and the kind of its objects.
struct WatchedResource {
  k8s::Resource resource;
  policy::KindId kind;
};

/// One resource per kind of the table (policy/kinds/kinds.h), in its order;
/// a kind watched ThisNode by field selector on `node`.
std::vector<WatchedResource> watchedResources(const std::string& node);

class ApiSource {
 public:
  ApiSource(const k8s::ClusterConfig& config, const std::string& node, Reconciler& reconciler,
            Metrics& metrics, k8s::ReflectorOptions options = {},
            const k8s::ClientOptions& client_options = {});
  ~ApiSource();
  void start();
  void stop();
  void relist();
  const std::vector<std::unique_ptr<k8s::Reflector>>& reflectors() const { return reflectors_; }

 private:
  void onObject(policy::KindId kind, k8s::EventType type, simdjson::dom::element obj);

  Reconciler& reconciler_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<k8s::Reflector>> reflectors_;
};

/// Renders the reflectors' counters in Prometheus text (a Metrics collector).
void renderReflectorMetrics(const std::vector<std::unique_ptr<k8s::Reflector>>& reflectors,
                            std::string& out);

}  // namespace palisade::agent
