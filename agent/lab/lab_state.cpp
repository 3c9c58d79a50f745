#include "agent/lab/lab_state.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace palisade::agent::lab {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

json::array ipsToJson(const std::vector<IpAddress>& ips) {
  json::array a;
  for (const IpAddress& ip : ips) a.push_back(json::string(ip.toString()));
  return a;
}

std::vector<IpAddress> ipsFromJson(const json::value& v) {
  std::vector<IpAddress> out;
  for (const json::value& e : v.as_array()) {
    if (auto ip = IpAddress::parse(std::string(e.as_string()))) out.push_back(*ip);
  }
  return out;
}

IpAddress ipFromJson(const json::value& v) {
  return IpAddress::parse(std::string(v.as_string())).value_or(IpAddress());
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

Protocol protoFromJson(const json::value& v) {
  return policy::parseProtocol(str(v)).value_or(Protocol::TCP);
}

}  // namespace

const LabPod* LabState::findPod(const std::string& ns, const std::string& name) const {
  for (const LabPod& p : pods) {
    if (p.namespace_ == ns && p.name == name) return &p;
  }
  return nullptr;
}

std::string netnsPrefix(const std::string& lab) { return "pal-" + lab + "-"; }

Status validLabName(const std::string& lab) {
  bool ok = !lab.empty() && lab.size() <= 12 && std::all_of(lab.begin(), lab.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
  if (!ok) return Error(EINVAL, "lab name \"" + lab + "\" must be 1-12 characters of [a-z0-9-]");
  return okStatus();
}

std::string stateDir(const std::string& lab) { return "/run/palisade/lab/" + lab; }

Status saveState(const LabState& s) {
  json::object doc;
  doc["name"] = s.name;
  doc["serve_pid"] = s.serve_pid;
  json::array nodes;
  for (const LabNode& n : s.nodes) {
    nodes.push_back(json::object{{"name", n.name},
                                 {"netns", n.netns},
                                 {"addr4", n.addr4.toString()},
                                 {"addr6", n.addr6.toString()},
                                 {"hosted", ipsToJson(n.hosted)}});
  }
  doc["nodes"] = std::move(nodes);
  if (s.outside) {
    doc["outside"] = json::object{{"netns", s.outside->netns},
                                  {"veth", s.outside->veth},
                                  {"addresses", ipsToJson(s.outside->addresses)}};
  }
  json::array pods;
  for (const LabPod& p : s.pods) {
    json::array ports;
    for (const LabPort& port : p.ports) {
      ports.push_back(
          json::object{{"port", port.port}, {"protocol", policy::protocolName(port.protocol)}});
    }
    pods.push_back(json::object{{"namespace", p.namespace_},
                                {"name", p.name},
                                {"netns", p.netns},
                                {"node", p.node},
                                {"veth", p.veth},
                                {"ips", ipsToJson(p.ips)},
                                {"ports", std::move(ports)}});
  }
  doc["pods"] = std::move(pods);
  json::array services;
  for (const LabService& svc : s.services) {
    json::array ports;
    for (const LabServicePort& sp : svc.ports) {
      json::array backends;
      for (const LabBackend& b : sp.backends) {
        backends.push_back(json::object{{"ip", b.ip.toString()}, {"port", b.port}});
      }
      ports.push_back(json::object{{"protocol", policy::protocolName(sp.protocol)},
                                   {"port", sp.port},
                                   {"node_port", sp.node_port},
                                   {"backends", std::move(backends)}});
    }
    services.push_back(json::object{{"namespace", svc.namespace_},
                                    {"name", svc.name},
                                    {"headless", svc.headless},
                                    {"cluster_ips", ipsToJson(svc.cluster_ips)},
                                    {"ports", std::move(ports)}});
  }
  doc["services"] = std::move(services);
  json::array dirs;
  for (const std::string& d : s.manifest_dirs) dirs.push_back(json::string(d));
  doc["manifest_dirs"] = std::move(dirs);

  std::error_code ec;
  fs::create_directories(stateDir(s.name), ec);
  if (ec) return Error(ec.value(), "creating " + stateDir(s.name));
  // Written aside and renamed, so a reader never sees half a file.
  std::string path = stateDir(s.name) + "/state.json";
  {
    std::ofstream out(path + ".tmp");
    out << json::serialize(doc) << "\n";
    if (!out) return Error(errno, "writing " + path + ".tmp");
  }
  fs::rename(path + ".tmp", path, ec);
  if (ec) return Error(ec.value(), "renaming " + path + ".tmp");
  return okStatus();
}

Result<LabState> loadState(const std::string& lab) {
  std::string path = stateDir(lab) + "/state.json";
  std::ifstream in(path);
  if (!in) return Error(ENOENT, "no lab \"" + lab + "\" (" + path + ")");
  std::stringstream text;
  text << in.rdbuf();
  LabState s;
  try {
    json::value doc = json::parse(text.str());
    const json::object& o = doc.as_object();
    s.name = str(o.at("name"));
    s.serve_pid = static_cast<int>(o.at("serve_pid").to_number<int64_t>());
    for (const json::value& v : o.at("nodes").as_array()) {
      const json::object& n = v.as_object();
      s.nodes.push_back({str(n.at("name")), str(n.at("netns")), ipFromJson(n.at("addr4")),
                         ipFromJson(n.at("addr6"))});
      // Optional: states written before cluster-netpol labs have none.
      if (const json::value* hosted = n.if_contains("hosted"))
        s.nodes.back().hosted = ipsFromJson(*hosted);
    }
    if (const json::value* out = o.if_contains("outside")) {
      const json::object& x = out->as_object();
      s.outside = LabOutside{str(x.at("netns")), str(x.at("veth")), ipsFromJson(x.at("addresses"))};
    }
    for (const json::value& v : o.at("pods").as_array()) {
      const json::object& p = v.as_object();
      LabPod pod;
      pod.namespace_ = str(p.at("namespace"));
      pod.name = str(p.at("name"));
      pod.netns = str(p.at("netns"));
      pod.node = static_cast<size_t>(p.at("node").to_number<int64_t>());
      pod.veth = str(p.at("veth"));
      pod.ips = ipsFromJson(p.at("ips"));
      for (const json::value& pv : p.at("ports").as_array()) {
        pod.ports.push_back({static_cast<int32_t>(pv.at("port").to_number<int64_t>()),
                             protoFromJson(pv.at("protocol"))});
      }
      s.pods.push_back(std::move(pod));
    }
    for (const json::value& v : o.at("services").as_array()) {
      const json::object& so = v.as_object();
      LabService svc;
      svc.namespace_ = str(so.at("namespace"));
      svc.name = str(so.at("name"));
      svc.headless = so.at("headless").as_bool();
      svc.cluster_ips = ipsFromJson(so.at("cluster_ips"));
      for (const json::value& pv : so.at("ports").as_array()) {
        LabServicePort sp;
        sp.protocol = protoFromJson(pv.at("protocol"));
        sp.port = static_cast<int32_t>(pv.at("port").to_number<int64_t>());
        sp.node_port = static_cast<int32_t>(pv.at("node_port").to_number<int64_t>());
        for (const json::value& bv : pv.at("backends").as_array()) {
          sp.backends.push_back(
              {ipFromJson(bv.at("ip")), static_cast<int32_t>(bv.at("port").to_number<int64_t>())});
        }
        svc.ports.push_back(std::move(sp));
      }
      s.services.push_back(std::move(svc));
    }
    for (const json::value& v : o.at("manifest_dirs").as_array()) s.manifest_dirs.push_back(str(v));
  } catch (const std::exception& e) {
    return Error(0, path + ": unreadable lab state: " + e.what());
  }
  return s;
}

Result<std::string> copyManifests(const std::vector<std::string>& paths, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ec.value(), "creating " + dir);
  std::vector<fs::path> files;
  for (const std::string& p : paths) {
    if (!fs::is_directory(p, ec)) {
      files.emplace_back(p);
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(p, ec)) {
      std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        found.push_back(e.path());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  for (size_t i = 0; i < files.size(); ++i) {
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "%04zu-", i);
    fs::copy_file(files[i], fs::path(dir) / (prefix + files[i].filename().string()),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return Error(ec.value(), "copying " + files[i].string());
  }
  return dir;
}

}  // namespace palisade::agent::lab
