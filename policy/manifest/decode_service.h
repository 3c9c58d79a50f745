#pragma once
// core/v1 Service and discovery.k8s.io/v1 EndpointSlice: decode, default, validate.
#include "policy/manifest/decode_common.h"

namespace palisade::policy::manifest {

template <DocumentNode N>
void decodeServicePort(const N& p, const FieldPath& pp, DecodeContext& ctx,
                       std::vector<ServicePort>& out) {
  ServicePort port;
  if (auto name = stringField(p, pp, "name", ctx)) port.name = name->value;
  if (auto protocol = protocolField(p, pp, ctx)) port.protocol = *protocol;
  if (auto number = intField(p, pp, "port", ctx, Need::Required)) {
    if (checkPortNumber(number->value, number->line, pp.child("port"), ctx)) {
      port.port = static_cast<int32_t>(number->value);
    }
  }
  port.target_port.value = port.port;  // defaulted: targetPort = port
  if (auto target = p.get("targetPort")) {
    // 0 is what clients send for "unset"; the API server then defaults it to port.
    if (!(target->kind() == NodeKind::Int && target->integer() == 0)) {
      if (auto ref = portRef(*target, pp.child("targetPort"), ctx)) port.target_port = *ref;
    }
  }
  if (auto node_port = intField(p, pp, "nodePort", ctx); node_port && node_port->value != 0) {
    if (checkPortNumber(node_port->value, node_port->line, pp.child("nodePort"), ctx)) {
      port.node_port = static_cast<int32_t>(node_port->value);
    }
  }
  out.push_back(std::move(port));
}

template <DocumentNode N>
std::optional<Service> decodeServiceT(const N& root, DecodeContext& ctx) {
  Service svc;
  decodeMeta(root, Scope::Namespaced, NameRule::Dns1035Label, ctx, svc.meta);
  mapField(root, FieldPath::root(""), "spec", ctx, [&](const N& spec, const FieldPath& sp) {
    if (auto type = stringField(spec, sp, "type", ctx)) {
      const std::string_view t = type->value;
      if (t == "ClusterIP")
        svc.type = ServiceType::ClusterIP;
      else if (t == "NodePort")
        svc.type = ServiceType::NodePort;
      else if (t == "LoadBalancer")
        svc.type = ServiceType::LoadBalancer;
      else if (t == "ExternalName")
        svc.type = ServiceType::ExternalName;
      else {
        ctx.error(type->line, sp.child("type"),
                  "invalid service type " + quote(t) +
                      ": must be ClusterIP, NodePort, LoadBalancer or ExternalName");
      }
    }
    if (auto sel = spec.get("selector")) {
      decodeLabelMap(*sel, sp.child("selector"), ctx, svc.selector.emplace());
    }
    auto add_cluster_ip = [&](std::string_view text, int line, const FieldPath& p) {
      if (text == "None") {
        svc.headless = true;
      } else if (!text.empty()) {
        if (auto ip = checkIp(text, line, p, ctx)) svc.cluster_ips.push_back(*ip);
      }
    };
    stringList(spec, sp, "clusterIPs", ctx, add_cluster_ip);
    if (auto single = stringField(spec, sp, "clusterIP", ctx)) {
      // clusterIPs[0] mirrors clusterIP when both are set.
      if (svc.cluster_ips.empty() && !svc.headless) {
        add_cluster_ip(single->value, single->line, sp.child("clusterIP"));
      }
    }
    listOfMaps(spec, sp, "ports", ctx,
               [&](const N& p, const FieldPath& pp) { decodeServicePort(p, pp, ctx, svc.ports); });
    if (auto name = stringField(spec, sp, "externalName", ctx)) svc.external_name = name->value;
    stringList(spec, sp, "externalIPs", ctx,
               [&](std::string_view text, int line, const FieldPath& p) {
                 if (auto ip = checkIp(text, line, p, ctx)) svc.external_ips.push_back(*ip);
               });
  });
  mapField(root, FieldPath::root(""), "status", ctx, [&](const N& status, const FieldPath& st) {
    mapField(status, st, "loadBalancer", ctx, [&](const N& lb, const FieldPath& lp) {
      listOfMaps(lb, lp, "ingress", ctx, [&](const N& e, const FieldPath& ep) {
        // Hostname-only ingress points (some cloud load balancers) carry no IP.
        if (auto ip = stringField(e, ep, "ip", ctx); ip && !ip->value.empty()) {
          if (auto addr = checkIp(ip->value, ip->line, ep.child("ip"), ctx)) {
            svc.load_balancer_ips.push_back(*addr);
          }
        }
      });
    });
  });
  if (ctx.failed()) return std::nullopt;
  return svc;
}

template <DocumentNode N>
void decodeEndpoint(const N& e, const FieldPath& ep, std::string_view address_type,
                    DecodeContext& ctx, std::vector<EndpointSliceEndpoint>& out) {
  EndpointSliceEndpoint endpoint;
  stringList(e, ep, "addresses", ctx, [&](std::string_view text, int line, const FieldPath& p) {
    if (address_type == "FQDN") return;  // names, not addresses: nothing to enforce on
    auto ip = checkIp(text, line, p, ctx);
    if (!ip) return;
    if ((address_type == "IPv4") != ip->isV4()) {
      ctx.error(
          line, p,
          "address " + quote(text) + " does not match addressType " + std::string(address_type));
      return;
    }
    endpoint.addresses.push_back(*ip);
  });
  mapField(e, ep, "conditions", ctx, [&](const N& c, const FieldPath& cp) {
    if (auto ready = boolField(c, cp, "ready", ctx)) endpoint.ready = *ready;
  });
  mapField(e, ep, "targetRef", ctx, [&](const N& t, const FieldPath& tp) {
    EndpointTargetRef& ref = endpoint.target_ref.emplace();
    if (auto kind = stringField(t, tp, "kind", ctx)) ref.kind = kind->value;
    if (auto ns = stringField(t, tp, "namespace", ctx)) ref.namespace_ = ns->value;
    if (auto name = stringField(t, tp, "name", ctx)) ref.name = name->value;
  });
  if (auto node = stringField(e, ep, "nodeName", ctx)) endpoint.node_name = node->value;
  out.push_back(std::move(endpoint));
}

template <DocumentNode N>
std::optional<EndpointSlice> decodeEndpointSliceT(const N& root, DecodeContext& ctx) {
  EndpointSlice slice;
  decodeMeta(root, Scope::Namespaced, NameRule::Dns1123Subdomain, ctx, slice.meta);
  if (auto it = slice.meta.labels.find("kubernetes.io/service-name");
      it != slice.meta.labels.end()) {
    slice.service_name = it->second;
  }
  const FieldPath none = FieldPath::root("");
  if (auto type = stringField(root, none, "addressType", ctx, Need::Required)) {
    slice.address_type = type->value;
    if (type->value != "IPv4" && type->value != "IPv6" && type->value != "FQDN") {
      ctx.error(type->line, none.child("addressType"),
                "invalid addressType " + quote(type->value) + ": must be IPv4, IPv6 or FQDN");
    }
  }
  listOfMaps(root, none, "endpoints", ctx, [&](const N& e, const FieldPath& ep) {
    decodeEndpoint(e, ep, slice.address_type, ctx, slice.endpoints);
  });
  listOfMaps(root, none, "ports", ctx, [&](const N& p, const FieldPath& pp) {
    EndpointSlicePort port;
    if (auto name = stringField(p, pp, "name", ctx)) port.name = name->value;
    if (auto protocol = protocolField(p, pp, ctx)) port.protocol = *protocol;
    if (auto number = intField(p, pp, "port", ctx)) {
      if (checkPortNumber(number->value, number->line, pp.child("port"), ctx)) {
        port.port = static_cast<int32_t>(number->value);
      }
    }
    slice.ports.push_back(std::move(port));
  });
  if (ctx.failed()) return std::nullopt;
  return slice;
}

}  // namespace palisade::policy::manifest
