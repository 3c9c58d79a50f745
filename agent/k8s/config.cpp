#include "agent/k8s/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace palisade::agent::k8s {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(errno, "reading " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xff));
    }
  }
  return out;
}

static std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<ClusterConfig> inClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host) return Error(0, "in-cluster config: KUBERNETES_SERVICE_HOST is not set");
  ClusterConfig c;
  c.host = host;
  if (port && *port) c.port = port;
  auto ca = readFile(sa_dir + "/ca.crt");
  if (!ca) return ca.error().context("in-cluster config");
  c.ca_pem = std::move(ca.value());
  c.token_file = sa_dir + "/token";
  auto token = readFile(c.token_file);
  if (!token) return token.error().context("in-cluster config");
  c.token = trim(token.value());
  return c;
}

namespace {

// A named entry of a kubeconfig list ("clusters", "users", "contexts").
YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item[field];
  }
  return YAML::Node();
}

// 1..65535 in decimal: what the client will connect to.
bool isPortNumber(const std::string& port) {
  if (port.empty() || port.size() > 5) return false;
  for (char ch : port)
    if (ch < '0' || ch > '9') return false;
  const int n = std::stoi(port);
  return n >= 1 && n <= 65535;
}

// `*-data` (base64) wins over the file form, as in client-go; relative paths
// are relative to the kubeconfig's directory.
Result<std::string> dataOrFile(const YAML::Node& n, const std::string& data_key,
                               const std::string& file_key, const std::filesystem::path& base) {
  if (n[data_key]) {
    auto decoded = base64Decode(n[data_key].as<std::string>());
    if (!decoded) return Error(0, data_key + ": invalid base64");
    return *decoded;
  }
  if (n[file_key]) {
    std::filesystem::path p = n[file_key].as<std::string>();
    if (p.is_relative()) p = base / p;
    return readFile(p.string());
  }
  return std::string();
}

}  // namespace

Result<ClusterConfig> kubeconfigConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return Error(0, "kubeconfig " + path + ": " + e.what());
  }
  auto fail = [&](const std::string& why) { return Error(0, "kubeconfig " + path + ": " + why); };
  try {
    std::string ctx_name = root["current-context"] ? root["current-context"].as<std::string>() : "";
    YAML::Node ctx;
    if (!ctx_name.empty())
      ctx = findNamed(root["contexts"], ctx_name, "context");
    else if (root["contexts"] && root["contexts"].size() > 0)
      ctx = root["contexts"][0]["context"];
    std::string cluster_name = ctx && ctx["cluster"] ? ctx["cluster"].as<std::string>() : "";
    std::string user_name = ctx && ctx["user"] ? ctx["user"].as<std::string>() : "";
    YAML::Node cluster = findNamed(root["clusters"], cluster_name, "cluster");
    if (!cluster && root["clusters"] && root["clusters"].size() == 1)
      cluster = root["clusters"][0]["cluster"];
    if (!cluster || !cluster["server"]) return fail("no cluster server for the current context");
    YAML::Node user = findNamed(root["users"], user_name, "user");
    auto base = std::filesystem::path(path).parent_path();

    ClusterConfig c;
    auto server = cluster["server"].as<std::string>();
    const std::string scheme = "https://";
    if (server.rfind(scheme, 0) != 0) return fail("server must be https://: " + server);
    std::string hostport = server.substr(scheme.size());
    if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
    if (!hostport.empty() && hostport[0] == '[') {  // [v6]:port
      auto close = hostport.find(']');
      if (close == std::string::npos) return fail("bad server address " + server);
      c.host = hostport.substr(1, close - 1);
      if (close + 1 < hostport.size() && hostport[close + 1] == ':')
        c.port = hostport.substr(close + 2);
    } else if (auto colon = hostport.rfind(':'); colon != std::string::npos) {
      c.host = hostport.substr(0, colon);
      c.port = hostport.substr(colon + 1);
    } else {
      c.host = hostport;
    }
    if (c.host.empty()) return fail("no host in server " + server);
    if (!isPortNumber(c.port)) return fail("bad port in server " + server);
    auto ca = dataOrFile(cluster, "certificate-authority-data", "certificate-authority", base);
    if (!ca) return ca.error().context("kubeconfig " + path);
    c.ca_pem = std::move(ca.value());
    if (user) {
      if (user["token"]) c.token = user["token"].as<std::string>();
      if (user["tokenFile"]) {
        std::filesystem::path p = user["tokenFile"].as<std::string>();
        if (p.is_relative()) p = base / p;
        c.token_file = p.string();
        auto t = readFile(c.token_file);
        if (!t) return t.error().context("kubeconfig " + path);
        c.token = trim(t.value());
      }
      auto cert = dataOrFile(user, "client-certificate-data", "client-certificate", base);
      if (!cert) return cert.error().context("kubeconfig " + path);
      auto key = dataOrFile(user, "client-key-data", "client-key", base);
      if (!key) return key.error().context("kubeconfig " + path);
      c.client_cert_pem = std::move(cert.value());
      c.client_key_pem = std::move(key.value());
    }
    return c;
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}

TokenSource::TokenSource(const ClusterConfig& config, std::chrono::milliseconds max_age)
    : token_(config.token), file_(config.token_file), max_age_(max_age) {
  read_at_ = std::chrono::steady_clock::now();
  stale_ = false;
}

std::string TokenSource::token() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (!file_.empty() && (stale_ || now - read_at_ >= max_age_)) {
    // A failed read keeps the previous token: a rotation in progress must not
    // leave us with none.
    if (auto t = readFile(file_); t) token_ = trim(t.value());
    read_at_ = now;
    stale_ = false;
  }
  return token_;
}

void TokenSource::invalidate() {
  std::lock_guard lock(mu_);
  stale_ = true;
}

}  // namespace palisade::agent::k8s
