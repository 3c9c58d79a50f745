#include "policy/service/resolve.h"

#include <algorithm>

namespace palisade::policy {
namespace {

std::string portText(int32_t port, Protocol protocol) {
  return std::to_string(port) + "/" + protocolName(protocol);
}

std::string targetPortText(const PortRef& ref) {
  return ref.isNamed() ? "\"" + ref.name() + "\"" : std::to_string(ref.number());
}

/// Does the pod carry every label of a Service selector? Matched through the
/// symbol table without interning, so the state stays const.
bool selectorMatches(const ClusterState& state, const PodRecord& pod, const LabelMap& selector) {
  for (const auto& [key, value] : selector) {
    Symbol k = state.symbols().find(key);
    Symbol v = state.symbols().find(value);
    if (k == SymbolTable::kNone || v == SymbolTable::kNone) return false;
    if (labelValue(pod.labels, k) != v) return false;
  }
  return true;
}

/// Pods of `ns` selected by a Service selector, in (namespace, name) order.
/// An empty selector selects nothing (Kubernetes treats it as selector-less).
std::vector<PodId> selectedPods(const ClusterState& state, std::string_view ns,
                                const LabelMap& selector) {
  std::vector<PodId> out;
  const NamespaceRecord* record = state.findNamespace(ns);
  if (selector.empty() || record == nullptr) return out;
  // The namespace index keeps this proportional to the namespace, not the cluster.
  for (PodId id : record->pods) {
    if (state.pod(id).live && selectorMatches(state, state.pod(id), selector)) out.push_back(id);
  }
  std::sort(out.begin(), out.end(), [&](PodId a, PodId b) {
    return state.str(state.pod(a).name) < state.str(state.pod(b).name);
  });
  return out;
}

/// The container port a targetPort names on one pod (numbers pass through).
std::optional<int32_t> resolveTargetPort(const ClusterState& state, const PodRecord& pod,
                                         const PortRef& target, Protocol protocol) {
  if (!target.isNamed()) return target.number();
  for (const PodPort& p : pod.ports) {
    if (p.protocol == protocol && p.name != 0 && state.str(p.name) == target.name()) {
      return p.port;
    }
  }
  return std::nullopt;
}

/// Backends computed from the selector, as the EndpointSlice controller
/// would: every selected pod, each on its own resolution of targetPort.
void backendsFromSelector(const ClusterState& state, std::string_view ns, const LabelMap& selector,
                          const ServicePort& sp, ServiceResolution& out) {
  std::vector<PodId> pods = selectedPods(state, ns, selector);
  if (pods.empty()) {
    out.notes.emplace_back("the selector matches no pod: the service has no backends");
  }
  for (PodId id : pods) {
    const PodRecord& pod = state.pod(id);
    ServiceBackend b;
    b.pod = id;
    b.protocol = sp.protocol;
    if (!pod.ips.empty()) b.address = pod.ips.front();
    std::optional<int32_t> port = resolveTargetPort(state, pod, sp.target_port, sp.protocol);
    if (!port) {
      b.note = "pod has no " + std::string(protocolName(sp.protocol)) + " container port named " +
               targetPortText(sp.target_port) + ": not a backend";
      b.ready = false;
    } else {
      b.port = *port;
      b.note = sp.target_port.isNamed() ? "targetPort " + targetPortText(sp.target_port) + " = " +
                                              std::to_string(*port) + " on this pod"
                                        : "targetPort " + std::to_string(*port);
    }
    if (pod.ips.empty()) {
      b.note += b.note.empty() ? "" : "; ";
      b.note += "pod has no IP yet (judged by name)";
    }
    out.backends.push_back(std::move(b));
  }
  out.notes.emplace_back("no EndpointSlices: backends computed from the selector");
}

/// Backends from the Service's EndpointSlices: the addresses kube-proxy uses.
void backendsFromSlices(const ClusterState& state, std::string_view ns,
                        const std::vector<const EndpointSlice*>& slices, const ServicePort* sp,
                        int32_t fallback_port, Protocol protocol, ServiceResolution& out) {
  for (const EndpointSlice* slice : slices) {
    // The slice port carrying the ServicePort's name is where traffic goes.
    std::optional<int32_t> slice_port;
    bool slice_has_port = false;
    for (const EndpointSlicePort& p : slice->ports) {
      if (p.protocol == protocol && (sp == nullptr || p.name == sp->name)) {
        slice_port = p.port;
        slice_has_port = true;
        break;
      }
    }
    if (sp != nullptr && !slice_has_port) {
      out.notes.push_back("EndpointSlice " + slice->meta.name + " has no port named \"" + sp->name +
                          "\": its endpoints are skipped");
      continue;
    }
    for (const EndpointSliceEndpoint& ep : slice->endpoints) {
      std::optional<PodId> ref_pod;
      if (ep.target_ref && ep.target_ref->kind == "Pod") {
        std::string ref_ns =
            ep.target_ref->namespace_.empty() ? std::string(ns) : ep.target_ref->namespace_;
        ref_pod = state.findPod(ref_ns, ep.target_ref->name);
      }
      auto emit = [&](std::optional<IpAddress> addr, std::string hostname) {
        ServiceBackend b;
        b.address = addr;
        b.hostname = std::move(hostname);
        b.protocol = protocol;
        b.ready = ep.ready;
        b.pod = ref_pod;
        if (!b.pod && addr) b.pod = state.findPodByIp(*addr);
        if (slice_port) {
          b.port = *slice_port;
          b.note =
              "port " + std::to_string(*slice_port) + " from EndpointSlice " + slice->meta.name;
        } else if (sp != nullptr && b.pod) {
          // A slice port without a number: resolve targetPort on the pod.
          if (auto p = resolveTargetPort(state, state.pod(*b.pod), sp->target_port, protocol)) {
            b.port = *p;
            b.note = "targetPort " + targetPortText(sp->target_port) + " = " + std::to_string(*p);
          }
        } else if (sp == nullptr) {
          b.port = fallback_port;
          b.note = "EndpointSlice " + slice->meta.name + " gives no port: the requested port";
        }
        if (b.port == 0) b.note = "no port number for this endpoint: not judged";
        if (!b.pod) b.note += "; not a pod (external address)";
        if (!ep.ready) b.note += "; not ready (kube-proxy sends it no new connections)";
        out.backends.push_back(std::move(b));
      };
      if (ep.addresses.empty()) emit(std::nullopt, "");
      for (const IpAddress& a : ep.addresses) emit(a, "");
    }
  }
}

}  // namespace

const char* serviceTypeName(ServiceType type) {
  switch (type) {
    case ServiceType::ClusterIP:
      return "ClusterIP";
    case ServiceType::NodePort:
      return "NodePort";
    case ServiceType::LoadBalancer:
      return "LoadBalancer";
    case ServiceType::ExternalName:
      return "ExternalName";
  }
  return "ClusterIP";
}

std::optional<std::pair<std::string, std::string>> parseServiceRef(std::string_view text) {
  constexpr std::string_view kPrefix = "svc/";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
    return std::nullopt;
  }
  std::string_view name = text.substr(slash + 1);
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(text.substr(0, slash)), std::string(name));
}

ServiceResolution resolveService(const ClusterState& state, std::string_view ns,
                                 std::string_view name, int32_t port, Protocol protocol) {
  ServiceResolution out;
  out.service = std::string(ns) + "/" + std::string(name);
  const Service* svc = state.findService(ns, name);
  if (svc == nullptr) {
    out.error = "no Service " + out.service;
    return out;
  }
  out.found = true;
  out.type = svc->type;
  out.headless = svc->headless;

  if (svc->type == ServiceType::ExternalName) {
    ServiceBackend b;
    b.hostname = svc->external_name;
    b.port = port;
    b.protocol = protocol;
    b.note = "ExternalName: clients get a DNS CNAME to " + svc->external_name +
             "; no addresses here, so nothing to judge (the flow goes to whatever the name "
             "resolves to)";
    out.backends.push_back(std::move(b));
    return out;
  }

  // The ServicePort the client addresses: by service port, else by nodePort.
  const ServicePort* sp = nullptr;
  for (const ServicePort& p : svc->ports) {
    if (p.protocol == protocol && p.port == port) {
      sp = &p;
      break;
    }
  }
  if (sp == nullptr && svc->type != ServiceType::ClusterIP) {
    for (const ServicePort& p : svc->ports) {
      if (p.protocol == protocol && p.node_port != 0 && p.node_port == port) {
        sp = &p;
        out.notes.push_back("port " + std::to_string(port) + " is the nodePort of service port " +
                            std::to_string(p.port));
        break;
      }
    }
  }
  if (sp != nullptr) out.service_port = *sp;

  std::vector<const EndpointSlice*> slices = state.endpointSlicesOf(ns, name);

  if (svc->headless) {
    // Clients resolve the name to pod addresses and connect to them directly,
    // so the port they use is the pod port; a listed ServicePort maps it.
    out.notes.emplace_back("headless service: clients connect to the pods directly");
    PortRef target{port};
    if (sp != nullptr) {
      target = sp->target_port;
    } else {
      out.notes.push_back("no service port " + portText(port, protocol) +
                          ": the pods are judged on that port as it is");
    }
    ServicePort direct{sp != nullptr ? sp->name : "", protocol, port, target, 0};
    if (svc->selector) {
      backendsFromSelector(state, ns, *svc->selector, direct, out);
      out.notes.pop_back();  // "no EndpointSlices" does not apply to direct pod traffic
    } else {
      backendsFromSlices(state, ns, slices, nullptr, port, protocol, out);
    }
    return out;
  }

  if (sp == nullptr) {
    std::string listed;
    for (const ServicePort& p : svc->ports) {
      if (!listed.empty()) listed += ", ";
      listed += portText(p.port, p.protocol);
    }
    out.error = "Service " + out.service + " has no port " + portText(port, protocol) +
                " (ports: " + (listed.empty() ? "none" : listed) + ")";
    return out;
  }

  if (!slices.empty()) {
    backendsFromSlices(state, ns, slices, sp, port, protocol, out);
    if (!svc->selector) out.notes.emplace_back("selector-less service: manual EndpointSlices");
  } else if (svc->selector) {
    backendsFromSelector(state, ns, *svc->selector, *sp, out);
  } else {
    out.notes.emplace_back("selector-less service without EndpointSlices: no backends");
  }
  if (out.backends.empty() && out.notes.empty()) out.notes.emplace_back("no backends");
  return out;
}

}  // namespace palisade::policy
