#include "agent/lab/services.h"

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

constexpr const char* kTable = "palisade_lab_svc";
constexpr const char* kMasqMark = "0x4000";

const char* l4(Protocol p) {
  switch (p) {
    case Protocol::TCP:
      return "tcp";
    case Protocol::UDP:
      return "udp";
    case Protocol::SCTP:
      return "sctp";
  }
  return "tcp";
}

std::string hostPort(const IpAddress& ip, int32_t port) {
  return ip.isV4() ? ip.toString() + ":" + std::to_string(port)
                   : "[" + ip.toString() + "]:" + std::to_string(port);
}

std::string familyTable(const LabState& lab, bool v4) {
  const char* fam = v4 ? "ip" : "ip6";
  std::string chains;
  std::string vips;
  std::string node_ports;
  size_t k = 0;
  for (const LabService& svc : lab.services) {
    for (const LabServicePort& sp : svc.ports) {
      std::vector<LabBackend> backends;
      for (const LabBackend& b : sp.backends) {
        if (b.ip.isV4() == v4) backends.push_back(b);
      }
      if (backends.empty()) continue;
      std::string chain = "svc_" + std::to_string(k);
      std::string body;
      if (backends.size() == 1) {
        body = "    goto " + chain + "_ep0\n";
      } else {
        body = "    numgen random mod " + std::to_string(backends.size()) + " vmap { ";
        for (size_t i = 0; i < backends.size(); ++i) {
          body +=
              (i ? ", " : "") + std::to_string(i) + " : goto " + chain + "_ep" + std::to_string(i);
        }
        body += " }\n";
      }
      chains += "  chain " + chain + " {\n" + body + "  }\n";
      for (size_t i = 0; i < backends.size(); ++i) {
        chains += "  chain " + chain + "_ep" + std::to_string(i) + " {\n";
        chains += std::string("    ") + fam + " saddr " + backends[i].ip.toString() +
                  " meta mark set meta mark | " + kMasqMark + "\n";
        chains += std::string("    meta l4proto ") + l4(sp.protocol) + " dnat to " +
                  hostPort(backends[i].ip, backends[i].port) + "\n  }\n";
      }
      if (!svc.headless) {
        for (const IpAddress& vip : svc.cluster_ips) {
          if (vip.isV4() != v4) continue;
          vips += (vips.empty() ? "" : ", ") + vip.toString() + " . " + l4(sp.protocol) + " . " +
                  std::to_string(sp.port) + " : goto " + chain;
        }
      }
      if (sp.node_port != 0) {
        chains += "  chain " + chain + "_np {\n    meta mark set meta mark | " + kMasqMark +
                  "\n    goto " + chain + "\n  }\n";
        node_ports += (node_ports.empty() ? "" : ", ") + std::string(l4(sp.protocol)) + " . " +
                      std::to_string(sp.node_port) + " : goto " + chain + "_np";
      }
      ++k;
    }
  }
  std::string t = std::string("table ") + fam + " " + kTable + "\n";
  t += std::string("delete table ") + fam + " " + kTable + "\n";
  t += std::string("table ") + fam + " " + kTable + " {\n";
  t += "  chain services {\n";
  if (!vips.empty()) {
    t += std::string("    ") + fam + " daddr . meta l4proto . th dport vmap { " + vips + " }\n";
  }
  if (!node_ports.empty()) {
    t += "    fib daddr type local meta l4proto . th dport vmap { " + node_ports + " }\n";
  }
  t += "  }\n";
  t += "  chain prerouting {\n    type nat hook prerouting priority -100; policy accept;\n"
       "    jump services\n  }\n";
  t += "  chain output {\n    type nat hook output priority -100; policy accept;\n"
       "    jump services\n  }\n";
  t += std::string("  chain postrouting {\n    type nat hook postrouting priority 100; ") +
       "policy accept;\n    meta mark & " + kMasqMark + " == " + kMasqMark + " masquerade\n  }\n";
  t += chains;
  t += "}\n";
  return t;
}

}  // namespace

std::string renderServiceScript(const LabState& lab) {
  return familyTable(lab, true) + familyTable(lab, false);
}

Status programServices(const LabState& lab) {
  std::string script = renderServiceScript(lab);
  for (const LabNode& n : lab.nodes) {
    if (auto s = runChecked(n.netns, {"nft", "-f", "-"}, script); !s) {
      return s.error().context("programming services in " + n.netns);
    }
  }
  return okStatus();
}

Status flushConntrack(const LabState& lab) {
  for (const LabNode& n : lab.nodes) {
    if (auto s = runChecked(n.netns, {"conntrack", "-F"}); !s) return s;
  }
  return okStatus();
}

}  // namespace palisade::agent::lab
