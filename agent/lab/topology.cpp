#include "agent/lab/topology.h"

#include <atomic>
#include <filesystem>
#include <future>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

std::string nodeLinkAddr6(size_t i) { return "fe80::" + std::to_string(i + 1); }

std::vector<std::pair<std::string, std::string>> nodeSysctls() {
  return {{"net.ipv4.ip_forward", "1"},
          {"net.ipv6.conf.all.forwarding", "1"},
          {"net.ipv4.conf.all.rp_filter", "0"},
          {"net.ipv4.conf.default.rp_filter", "0"},
          // Addresses usable at once: no duplicate-address detection delay.
          {"net.ipv6.conf.all.accept_dad", "0"},
          {"net.ipv6.conf.default.accept_dad", "0"}};
}

std::vector<std::pair<std::string, std::string>> podSysctls() {
  return {{"net.ipv6.conf.all.accept_dad", "0"}, {"net.ipv6.conf.default.accept_dad", "0"}};
}

std::string nodeBatch(const LabState& lab, size_t n) {
  const LabNode& node = lab.nodes[n];
  std::string b;
  b += "link set lo up\n";
  b += "addr add " + node.addr4.toString() + "/32 dev lo\n";
  b += "addr add " + node.addr6.toString() + "/128 dev lo\n";
  for (const LabPod& pod : lab.pods) {
    if (pod.node != n) continue;
    b += "link add " + pod.veth + " type veth peer name eth0 netns " + pod.netns + "\n";
    b += "addr add 169.254.1.1/32 dev " + pod.veth + " scope link\n";
    b += "addr add fe80::1/64 dev " + pod.veth + " nodad\n";
    b += "link set " + pod.veth + " up\n";
  }
  // Links to the other nodes: the lower-numbered node creates each pair.
  for (size_t m = n + 1; m < lab.nodes.size(); ++m) {
    b += "link add n" + std::to_string(m) + " type veth peer name n" + std::to_string(n) +
         " netns " + lab.nodes[m].netns + "\n";
  }
  return b;
}

/// Routes and addresses that need every interface to exist (second pass).
std::string nodeRoutes(const LabState& lab, size_t n) {
  const LabNode& node = lab.nodes[n];
  std::string b;
  for (size_t m = 0; m < lab.nodes.size(); ++m) {
    if (m == n) continue;
    std::string dev = "n" + std::to_string(m);
    b += "addr add " + nodeLinkAddr6(n) + "/64 dev " + dev + " nodad\n";
    b += "link set " + dev + " up\n";
    b += "route add " + lab.nodes[m].addr4.toString() + "/32 dev " + dev + " src " +
         node.addr4.toString() + "\n";
    b += "route add " + lab.nodes[m].addr6.toString() + "/128 via " + nodeLinkAddr6(m) + " dev " +
         dev + "\n";
  }
  for (const LabPod& pod : lab.pods) {
    for (const IpAddress& ip : pod.ips) {
      std::string host = ip.toString() + (ip.isV4() ? "/32" : "/128");
      if (pod.node == n) {
        const IpAddress& src = ip.isV4() ? node.addr4 : node.addr6;
        b += "route add " + host + " dev " + pod.veth + " src " + src.toString() + "\n";
      } else {
        std::string dev = "n" + std::to_string(pod.node);
        b += ip.isV4()
                 ? "route add " + host + " via " + lab.nodes[pod.node].addr4.toString() + " dev " +
                       dev + " onlink\n"
                 : "route add " + host + " via " + nodeLinkAddr6(pod.node) + " dev " + dev + "\n";
      }
    }
  }
  return b;
}

std::string podBatch(const LabPod& pod) {
  std::string b = "link set lo up\n";
  bool v4 = false;
  bool v6 = false;
  for (const IpAddress& ip : pod.ips) {
    b += "addr add " + ip.toString() + (ip.isV4() ? "/32" : "/128 nodad") + " dev eth0\n";
    (ip.isV4() ? v4 : v6) = true;
  }
  b += "link set eth0 up\n";
  if (v4) {
    b += "route add 169.254.1.1/32 dev eth0 scope link\n";
    b += "route add default via 169.254.1.1 dev eth0\n";
  }
  if (v6) b += "route add default via fe80::1 dev eth0\n";
  return b;
}

Status ipBatch(const std::string& netns, const std::string& batch) {
  std::vector<std::string> argv = {"ip"};
  if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
  argv.insert(argv.end(), {"-batch", "-"});
  return runChecked("", argv, batch);
}

std::atomic<bool> g_stop_creating{false};

Result<std::vector<std::string>> deleteNamespaces(const std::vector<std::string>& names) {
  std::string dels;
  std::vector<std::string> deleted;
  for (const std::string& name : names) {
    if (!netnsExists(name)) continue;
    dels += "netns del " + name + "\n";
    deleted.push_back(name);
  }
  if (dels.empty()) return deleted;
  // -force: go on past a namespace that vanished meanwhile.
  Result<RunResult> r = runIn("", {"ip", "-force", "-batch", "-"}, dels);
  if (!r) return r.error().context("deleting namespaces");
  if (r->status != 0) return Error(0, "deleting namespaces: " + r->out);
  return deleted;
}

}  // namespace

void stopCreatingTopology() { g_stop_creating = true; }

Status createTopology(const LabState& lab) {
  if (g_stop_creating) return Error(EINTR, "lab " + lab.name + ": interrupted");
  std::string prefix = netnsPrefix(lab.name);
  std::string adds;
  for (const LabNode& n : lab.nodes) {
    if (netnsExists(n.netns)) return Error(EEXIST, "netns " + n.netns + " already exists");
    adds += "netns add " + n.netns + "\n";
  }
  for (const LabPod& p : lab.pods) {
    if (netnsExists(p.netns)) return Error(EEXIST, "netns " + p.netns + " already exists");
    adds += "netns add " + p.netns + "\n";
  }
  if (auto s = ipBatch("", adds); !s) return s.error().context("creating namespaces");
  for (const LabNode& n : lab.nodes) {
    if (auto s = writeSysctls(n.netns, nodeSysctls()); !s) return s;
  }
  for (const LabPod& p : lab.pods) {
    if (auto s = writeSysctls(p.netns, podSysctls()); !s) return s;
  }
  for (size_t n = 0; n < lab.nodes.size(); ++n) {
    if (auto s = ipBatch(lab.nodes[n].netns, nodeBatch(lab, n)); !s) return s;
  }
  // The rest is independent per namespace: run the batches side by side.
  std::vector<std::future<Status>> jobs;
  for (size_t n = 0; n < lab.nodes.size(); ++n) {
    jobs.push_back(std::async(
        std::launch::async, [&lab, n] { return ipBatch(lab.nodes[n].netns, nodeRoutes(lab, n)); }));
  }
  for (const LabPod& p : lab.pods) {
    jobs.push_back(std::async(std::launch::async, [&p] { return ipBatch(p.netns, podBatch(p)); }));
  }
  Status result = okStatus();
  for (auto& j : jobs) {
    Status s = j.get();
    if (!s && result) result = s;
  }
  return result;
}

Result<std::vector<std::string>> destroyTopology(const LabState& lab) {
  std::string prefix = netnsPrefix(lab.name);
  std::vector<std::string> names;
  for (const LabPod& p : lab.pods) names.push_back(p.netns);
  for (const LabNode& n : lab.nodes) names.push_back(n.netns);
  for (const std::string& name : names) {
    if (name.rfind(prefix, 0) != 0) {
      return Error(EPERM, "refusing to delete netns " + name + ": not named " + prefix + "*");
    }
  }
  return deleteNamespaces(names);
}

Result<std::vector<std::string>> destroyByPrefix(const std::string& lab) {
  const std::string prefix = netnsPrefix(lab);
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(std::move(name));
  }
  return deleteNamespaces(names);
}

}  // namespace palisade::agent::lab
