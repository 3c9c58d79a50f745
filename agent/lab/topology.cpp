#include "agent/lab/topology.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

std::string nodeLinkAddr6(size_t i) { return "fe80::" + std::to_string(i + 1); }

std::string hostPrefix(const IpAddress& ip) { return ip.toString() + (ip.isV4() ? "/32" : "/128"); }

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
  for (const IpAddress& ip : node.hosted) b += "addr add " + hostPrefix(ip) + " dev lo\n";
  for (const LabPod& pod : lab.pods) {
    if (pod.node != n) continue;
    b += "link add " + pod.veth + " type veth peer name eth0 netns " + pod.netns + "\n";
    b += "addr add 169.254.1.1/32 dev " + pod.veth + " scope link\n";
    b += "addr add fe80::1/64 dev " + pod.veth + " nodad\n";
    b += "link set " + pod.veth + " up\n";
  }
  // The outside hangs off node 0 the way a pod does.
  if (lab.outside && n == 0) {
    const LabOutside& out = *lab.outside;
    b += "link add " + out.veth + " type veth peer name eth0 netns " + out.netns + "\n";
    b += "addr add 169.254.1.1/32 dev " + out.veth + " scope link\n";
    b += "addr add fe80::1/64 dev " + out.veth + " nodad\n";
    b += "link set " + out.veth + " up\n";
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
    for (const IpAddress& ip : lab.nodes[m].hosted) {
      b += ip.isV4()
               ? "route add " + hostPrefix(ip) + " via " + lab.nodes[m].addr4.toString() + " dev " +
                     dev + " onlink\n"
               : "route add " + hostPrefix(ip) + " via " + nodeLinkAddr6(m) + " dev " + dev + "\n";
    }
  }
  // Whatever is neither a pod nor a node is outside: node 0 sends it there
  // (the outside answers ARP and ND for its addresses), the others to node 0.
  if (lab.outside) {
    if (n == 0) {
      b += "route add 0.0.0.0/0 dev " + lab.outside->veth + "\n";
      b += "route add ::/0 dev " + lab.outside->veth + "\n";
    } else {
      b += "route add 0.0.0.0/0 via " + lab.nodes[0].addr4.toString() + " dev n0 onlink\n";
      b += "route add ::/0 via " + nodeLinkAddr6(0) + " dev n0\n";
    }
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

std::string addressLines(const std::vector<IpAddress>& ips) {
  std::string b;
  for (const IpAddress& ip : ips)
    b += "addr add " + hostPrefix(ip) + (ip.isV4() ? "" : " nodad") + " dev eth0\n";
  return b;
}

/// Like a pod with both families' default routes, whatever addresses it has yet.
std::string outsideBatch(const LabOutside& out) {
  std::string b = "link set lo up\n";
  b += addressLines(out.addresses);
  b += "link set eth0 up\n";
  b += "route add 169.254.1.1/32 dev eth0 scope link\n";
  b += "route add default via 169.254.1.1 dev eth0\n";
  b += "route add ::/0 via fe80::1 dev eth0\n";
  return b;
}

Status ipBatch(const std::string& netns, const std::string& batch) {
  std::vector<std::string> argv = {"ip"};
  if (!netns.empty()) argv.insert(argv.end(), {"-n", netns});
  argv.insert(argv.end(), {"-batch", "-"});
  return runChecked("", argv, batch);
}

/// Every namespace of the lab with the interfaces that carry its traffic.
std::vector<std::pair<std::string, std::vector<std::string>>> labLinks(const LabState& lab) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (size_t n = 0; n < lab.nodes.size(); ++n) {
    std::vector<std::string> links;
    for (const LabPod& pod : lab.pods) {
      if (pod.node == n) links.push_back(pod.veth);
    }
    for (size_t m = 0; m < lab.nodes.size(); ++m) {
      if (m != n) links.push_back("n" + std::to_string(m));
    }
    if (lab.outside && n == 0) links.push_back(lab.outside->veth);
    out.emplace_back(lab.nodes[n].netns, std::move(links));
  }
  for (const LabPod& pod : lab.pods) out.push_back({pod.netns, {"eth0"}});
  if (lab.outside) out.push_back({lab.outside->netns, {"eth0"}});
  return out;
}

/// Waits until every link is running. A veth whose peer just came up gets
/// its carrier, operstate and real qdisc from the kernel's linkwatch work,
/// later; until then it drops what it is given, and the first probe of a
/// new lab would time out as if a policy had dropped it.
Status waitForLinks(const LabState& lab) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (const auto& [netns, links] : labLinks(lab)) {
    auto guard = NetnsGuard::enter(netns);
    if (!guard) return guard.error();
    Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));  // ioctls ask its namespace
    if (!sock) return Error(errno, "socket in " + netns);
    for (const std::string& link : links) {
      for (;;) {
        ifreq req{};
        link.copy(req.ifr_name, IFNAMSIZ - 1);
        if (ioctl(sock.get(), SIOCGIFFLAGS, &req) != 0)
          return Error(errno, "flags of " + link + " in " + netns);
        if ((req.ifr_flags & IFF_RUNNING) != 0) break;
        if (std::chrono::steady_clock::now() > deadline)
          return Error(ETIMEDOUT, link + " in " + netns + " is not running after 5 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
  }
  return okStatus();
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
  if (lab.outside) {
    if (netnsExists(lab.outside->netns))
      return Error(EEXIST, "netns " + lab.outside->netns + " already exists");
    adds += "netns add " + lab.outside->netns + "\n";
  }
  if (auto s = ipBatch("", adds); !s) return s.error().context("creating namespaces");
  for (const LabNode& n : lab.nodes) {
    if (auto s = writeSysctls(n.netns, nodeSysctls()); !s) return s;
  }
  for (const LabPod& p : lab.pods) {
    if (auto s = writeSysctls(p.netns, podSysctls()); !s) return s;
  }
  if (lab.outside) {
    if (auto s = writeSysctls(lab.outside->netns, podSysctls()); !s) return s;
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
  if (lab.outside) {
    jobs.push_back(std::async(std::launch::async, [&lab] {
      return ipBatch(lab.outside->netns, outsideBatch(*lab.outside));
    }));
  }
  Status result = okStatus();
  for (auto& j : jobs) {
    Status s = j.get();
    if (!s && result) result = s;
  }
  if (!result) return result;
  return waitForLinks(lab);
}

Result<std::vector<std::string>> destroyTopology(const LabState& lab) {
  std::string prefix = netnsPrefix(lab.name);
  std::vector<std::string> names;
  for (const LabPod& p : lab.pods) names.push_back(p.netns);
  for (const LabNode& n : lab.nodes) names.push_back(n.netns);
  if (lab.outside) names.push_back(lab.outside->netns);
  for (const std::string& name : names) {
    if (name.rfind(prefix, 0) != 0) {
      return Error(EPERM, "refusing to delete netns " + name + ": not named " + prefix + "*");
    }
  }
  return deleteNamespaces(names);
}

Status addOutsideAddresses(const LabState& lab, const std::vector<IpAddress>& addresses) {
  if (!lab.outside) return Error(EINVAL, "lab " + lab.name + " has no outside namespace");
  if (addresses.empty()) return okStatus();
  return ipBatch(lab.outside->netns, addressLines(addresses));
}

Result<std::vector<std::string>> destroyByPrefix(const std::string& lab) {
  return destroyNetnsPrefixed(netnsPrefix(lab));
}

Result<std::vector<std::string>> destroyNetnsPrefixed(const std::string& prefix) {
  // The lab's mark and something after it: never every namespace, never foreign ones.
  if (prefix.rfind("pal-", 0) != 0 || prefix.size() < 6) {
    return Error(EPERM, "refusing to delete namespaces named " + prefix + "*");
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(std::move(name));
  }
  return deleteNamespaces(names);
}

}  // namespace palisade::agent::lab
