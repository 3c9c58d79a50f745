#include "agent/lab/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "policy/service/resolve.h"

namespace palisade::agent::lab {
namespace {

using policy::Cidr;
using policy::Family;

// Lab-internal address plan. Nothing here leaves the lab's namespaces, so the
// ranges only have to avoid the pods' own addresses.
IpAddress nodeAddr4(size_t i) {
  return IpAddress::v4((172u << 24) | (31u << 16) | (255u << 8) | static_cast<uint32_t>(i + 1));
}
IpAddress nodeAddr6(size_t i) { return IpAddress::v6(0xfd00ffff00000000ull, i + 1); }
Cidr defaultPodCidr4(size_t i) {
  return *Cidr::create(IpAddress::v4((10u << 24) | (244u << 16) | static_cast<uint32_t>(i << 8)),
                       24);
}
IpAddress clusterIp4(size_t k) {
  return IpAddress::v4((10u << 24) | (96u << 16) | static_cast<uint32_t>(k + 10));
}
IpAddress clusterIp6(size_t k) { return IpAddress::v6(0xfd00009600000000ull, k + 10); }

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out;
}

policy::Node* findNode(policy::ManifestSet& set, const std::string& name) {
  for (policy::Node& n : set.nodes) {
    if (n.meta.name == name) return &n;
  }
  return nullptr;
}

}  // namespace

Result<LabState> planLab(policy::ManifestSet& set, const PlanOptions& options) {
  LabState lab;
  lab.name = options.name;
  // Nodes: the Node objects, then every spec.nodeName, then generated ones up to --nodes.
  std::vector<std::string> names;
  auto add_name = [&](const std::string& n) {
    if (!n.empty() && std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  for (const policy::Node& n : set.nodes) add_name(n.meta.name);
  for (const policy::Pod& p : set.pods) add_name(p.node_name);
  int wanted = std::max(options.nodes, 1);
  for (int i = 0; static_cast<int>(names.size()) < wanted; ++i)
    add_name("node-" + std::to_string(i));
  for (size_t i = 0; i < names.size(); ++i) {
    lab.nodes.push_back(
        {names[i], netnsPrefix(lab.name) + "n" + std::to_string(i), nodeAddr4(i), nodeAddr6(i)});
    policy::Node* node = findNode(set, names[i]);
    if (node == nullptr) {
      set.nodes.emplace_back();
      node = &set.nodes.back();
      node->meta.name = names[i];
    }
    node->addresses = {nodeAddr4(i), nodeAddr6(i)};
    bool has_v4 = std::any_of(node->pod_cidrs.begin(), node->pod_cidrs.end(),
                              [](const Cidr& c) { return c.family() == Family::V4; });
    if (!has_v4) node->pod_cidrs.push_back(defaultPodCidr4(i));
  }

  std::set<IpAddress> used;
  for (const policy::Pod& p : set.pods) used.insert(p.ips.begin(), p.ips.end());
  std::map<std::string, size_t> node_index;
  for (size_t i = 0; i < names.size(); ++i) node_index[names[i]] = i;
  std::vector<uint64_t> next_host(names.size(), 2);
  size_t spread = 0;
  for (policy::Pod& p : set.pods) {
    if (p.host_network) continue;
    size_t node = 0;
    if (p.node_name.empty()) {
      node = spread++ % names.size();
      p.node_name = names[node];
    } else {
      node = node_index[p.node_name];
    }
    if (p.ips.empty()) {
      // Allocate from every pod CIDR of the node (dual stack when it has both).
      uint64_t last = next_host[node];
      for (const Cidr& c : findNode(set, names[node])->pod_cidrs) {
        for (uint64_t h = next_host[node];; ++h) {
          IpAddress ip = c.family() == Family::V4
                             ? IpAddress::v4(c.address().v4Value() + static_cast<uint32_t>(h))
                             : IpAddress::v6(c.address().high(), c.address().low() + h);
          if (!c.contains(ip)) return Error(ENOSPC, "pod CIDR " + c.toString() + " is full");
          if (used.insert(ip).second) {
            p.ips.push_back(ip);
            last = std::max(last, h);
            break;
          }
        }
      }
      next_host[node] = last + 1;
    }
    LabPod pod;
    pod.namespace_ = p.meta.namespace_;
    pod.name = p.meta.name;
    pod.netns = netnsPrefix(lab.name) + sanitize(pod.namespace_) + "-" + sanitize(pod.name);
    pod.node = node;
    pod.veth = "p" + std::to_string(lab.pods.size());
    pod.ips = p.ips;
    for (const policy::ContainerPort& cp : p.ports) {
      LabPort port{cp.port, cp.protocol};
      bool dup = std::any_of(pod.ports.begin(), pod.ports.end(), [&](const LabPort& q) {
        return q.port == port.port && q.protocol == port.protocol;
      });
      if (!dup) pod.ports.push_back(port);
    }
    lab.pods.push_back(std::move(pod));
  }

  // Services: ClusterIPs (v4, and v6 when a backend pod has a v6 address) and NodePorts.
  std::set<IpAddress> vips;
  for (const policy::Service& s : set.services)
    vips.insert(s.cluster_ips.begin(), s.cluster_ips.end());
  size_t next_vip = 0;
  int32_t next_node_port = 30000;
  for (policy::Service& s : set.services) {
    if (s.type == policy::ServiceType::ExternalName) continue;
    if (!s.headless && s.cluster_ips.empty()) {
      while (vips.count(clusterIp4(next_vip))) ++next_vip;
      s.cluster_ips.push_back(clusterIp4(next_vip));
      bool v6 = false;
      for (const policy::Pod& p : set.pods) {
        for (const IpAddress& ip : p.ips) v6 = v6 || !ip.isV4();
      }
      if (v6) s.cluster_ips.push_back(clusterIp6(next_vip));
      vips.insert(s.cluster_ips.begin(), s.cluster_ips.end());
    }
    for (policy::ServicePort& sp : s.ports) {
      bool wants_node_port =
          s.type == policy::ServiceType::NodePort || s.type == policy::ServiceType::LoadBalancer;
      if (wants_node_port && sp.node_port == 0) sp.node_port = next_node_port++;
    }
    LabService svc;
    svc.namespace_ = s.meta.namespace_;
    svc.name = s.meta.name;
    svc.headless = s.headless;
    svc.cluster_ips = s.cluster_ips;
    for (const policy::ServicePort& sp : s.ports) {
      svc.ports.push_back({sp.protocol, sp.port, sp.node_port, {}});
    }
    lab.services.push_back(std::move(svc));
  }
  return lab;
}

void overlayLab(const LabState& lab, policy::ManifestSet& set) {
  for (policy::Pod& p : set.pods) {
    if (const LabPod* lp = lab.findPod(p.meta.namespace_, p.meta.name)) {
      p.node_name = lab.nodes[lp->node].name;
      p.ips = lp->ips;
    }
  }
  for (policy::Service& s : set.services) {
    for (const LabService& ls : lab.services) {
      if (ls.namespace_ != s.meta.namespace_ || ls.name != s.meta.name) continue;
      if (!s.headless && s.cluster_ips.empty()) s.cluster_ips = ls.cluster_ips;
      for (policy::ServicePort& sp : s.ports) {
        for (const LabServicePort& lsp : ls.ports) {
          if (lsp.port == sp.port && lsp.protocol == sp.protocol && sp.node_port == 0) {
            sp.node_port = lsp.node_port;
          }
        }
      }
    }
  }
  for (const auto& lab_node : lab.nodes) {
    policy::Node* node = findNode(set, lab_node.name);
    if (node == nullptr) {
      set.nodes.emplace_back();
      node = &set.nodes.back();
      node->meta.name = lab_node.name;
    }
    node->addresses = {lab_node.addr4, lab_node.addr6};
  }
}

Result<policy::ClusterState> loadClusterState(const LabState& lab,
                                              std::vector<std::string>* warnings) {
  if (lab.manifest_dirs.empty()) return Error(0, "lab " + lab.name + " records no manifests");
  policy::ManifestSet base = policy::readManifests({lab.manifest_dirs.front()});
  for (const auto& e : base.errors) warnings->push_back(e.format());
  overlayLab(lab, base);
  policy::ClusterState state = policy::ClusterState::fromManifests(base);
  for (size_t i = 1; i < lab.manifest_dirs.size(); ++i) {
    policy::ManifestSet more = policy::readManifests({lab.manifest_dirs[i]});
    for (const auto& e : more.errors) warnings->push_back(e.format());
    overlayLab(lab, more);
    for (const policy::Namespace& ns : more.namespaces) state.upsertNamespace(ns);
    for (const policy::Pod& p : more.pods) {
      if (lab.findPod(p.meta.namespace_, p.meta.name) == nullptr) {
        warnings->push_back("pod " + p.meta.namespace_ + "/" + p.meta.name +
                            " is not in the lab (lab apply changes labels, not pods): ignored");
        continue;
      }
      state.upsertPod(p);
    }
    for (const policy::NetworkPolicy& np : more.policies) state.upsertPolicy(np);
  }
  return state;
}

Result<LabState> planFlowLab(const policy::ClusterState& state, const FlowLabOptions& options) {
  LabState lab;
  lab.name = options.name;
  const std::string prefix = netnsPrefix(lab.name) + options.infix;
  // std::map: the case nodes in name order, the order "node i" counts in.
  const auto& case_nodes = state.nodes();
  const size_t count = std::clamp<size_t>(case_nodes.size(), 1, std::max(options.nodes, 1));
  std::set<IpAddress> reserved = {IpAddress::v4((169u << 24) | (254u << 16) | (1u << 8) | 1u)};
  for (size_t i = 0; i < count; ++i) {
    lab.nodes.push_back({"", prefix + "n" + std::to_string(i), nodeAddr4(i), nodeAddr6(i)});
    reserved.insert({nodeAddr4(i), nodeAddr6(i)});
  }
  std::map<std::string, size_t> lab_node_of;
  size_t k = 0;
  for (const auto& [name, node] : case_nodes) {
    LabNode& host = lab.nodes[k % count];
    lab_node_of[name] = k % count;
    host.name += (host.name.empty() ? "" : "+") + name;
    host.hosted.insert(host.hosted.end(), node.addresses.begin(), node.addresses.end());
    ++k;
  }
  for (size_t i = 0; i < count; ++i) {
    if (lab.nodes[i].name.empty()) lab.nodes[i].name = "lab-node-" + std::to_string(i);
  }
  auto collides = [&](const IpAddress& ip) -> Status {
    if (reserved.count(ip) != 0)
      return Error(EINVAL, ip.toString() + " is an address the lab uses for its own wiring");
    return okStatus();
  };
  for (const LabNode& n : lab.nodes) {
    for (const IpAddress& ip : n.hosted) {
      if (auto s = collides(ip); !s) return s.error().context("node address");
    }
  }
  for (policy::PodId id : state.podsSorted()) {
    const policy::PodRecord& rec = state.pod(id);
    if (rec.host_network) continue;
    LabPod pod;
    pod.namespace_ = std::string(state.str(rec.namespace_));
    pod.name = std::string(state.str(rec.name));
    pod.netns = prefix + sanitize(pod.namespace_) + "-" + sanitize(pod.name);
    auto it = lab_node_of.find(std::string(state.str(rec.node)));
    pod.node = it == lab_node_of.end() ? 0 : it->second;
    pod.veth = "p" + std::to_string(lab.pods.size());
    pod.ips = rec.ips;
    for (const IpAddress& ip : pod.ips) {
      if (auto s = collides(ip); !s) return s.error().context("pod " + pod.label());
    }
    lab.pods.push_back(std::move(pod));
  }
  lab.outside = LabOutside{prefix + "out", "o0", {}};
  return lab;
}

std::vector<LabService> planServices(const policy::ClusterState& state) {
  std::vector<LabService> out;
  for (const auto& [key, s] : state.services()) {
    if (s.type == policy::ServiceType::ExternalName) continue;
    LabService svc;
    svc.namespace_ = s.meta.namespace_;
    svc.name = s.meta.name;
    svc.headless = s.headless;
    svc.cluster_ips = s.cluster_ips;
    for (const policy::ServicePort& sp : s.ports) {
      LabServicePort lsp{sp.protocol, sp.port, sp.node_port, {}};
      policy::ServiceResolution r =
          policy::resolveService(state, s.meta.namespace_, s.meta.name, sp.port, sp.protocol);
      for (const policy::ServiceBackend& b : r.backends) {
        if (b.address && b.port > 0 && b.ready) lsp.backends.push_back({*b.address, b.port});
      }
      svc.ports.push_back(std::move(lsp));
    }
    out.push_back(std::move(svc));
  }
  return out;
}

}  // namespace palisade::agent::lab
