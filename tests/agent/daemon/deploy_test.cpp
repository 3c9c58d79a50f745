// Every manifest under deploy/ parses; the DaemonSet only passes flags the
// agent accepts and has the shape issue 5 asks for; it is safe by default
// (issue 11): queue on and fail closed, health on loopback where the probes
// look, RuntimeDefault seccomp, exactly the capabilities and RBAC verbs the
// README documents.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "agent/daemon/flags.h"
#include "agent/daemon/http_server.h"
#include "policy/kinds/kinds.h"

namespace palisade::agent {
namespace {

std::vector<YAML::Node> loadDeploy() {
  std::vector<YAML::Node> docs;
  for (auto& e : std::filesystem::recursive_directory_iterator(PALISADE_SOURCE_DIR "/deploy")) {
    auto ext = e.path().extension();
    if (ext != ".yaml" && ext != ".yml") continue;
    for (auto& d : YAML::LoadAllFromFile(e.path().string()))
      if (d && !d.IsNull()) docs.push_back(d);
  }
  return docs;
}

TEST(DeployTest, EveryManifestParsesWithKindAndName) {
  auto docs = loadDeploy();
  ASSERT_GE(docs.size(), 5u);
  for (const auto& d : docs) {
    EXPECT_TRUE(d["kind"]) << YAML::Dump(d);
    EXPECT_TRUE(d["metadata"]["name"]) << YAML::Dump(d);
  }
}

TEST(DeployTest, DaemonSetArgsAreAgentFlags) {
  auto names = agentFlagNames();
  int daemonsets = 0;
  for (const auto& d : loadDeploy()) {
    if (d["kind"].as<std::string>() != "DaemonSet") continue;
    ++daemonsets;
    const auto spec = d["spec"]["template"]["spec"];
    EXPECT_TRUE(spec["hostNetwork"].as<bool>());
    EXPECT_EQ(spec["priorityClassName"].as<std::string>(), "system-node-critical");
    bool tolerates_all = false;
    for (const auto& t : spec["tolerations"])
      if (t["operator"].as<std::string>() == "Exists" && !t["key"]) tolerates_all = true;
    EXPECT_TRUE(tolerates_all);
    for (const auto& c : spec["containers"]) {
      for (const auto& a : c["args"]) {
        auto arg = a.as<std::string>();
        ASSERT_EQ(arg.rfind("--", 0), 0u) << arg;
        std::string name = arg.substr(0, arg.find('='));
        EXPECT_NE(std::find(names.begin(), names.end(), name), names.end())
            << "DaemonSet passes " << name << ", which palisade-agent does not accept";
      }
      EXPECT_TRUE(c["resources"]["requests"]);
      EXPECT_TRUE(c["resources"]["limits"]);
    }
    bool host_state = false;
    for (const auto& v : spec["volumes"])
      if (v["hostPath"] && v["hostPath"]["path"].as<std::string>() == "/var/lib/palisade")
        host_state = true;
    EXPECT_TRUE(host_state);
  }
  EXPECT_EQ(daemonsets, 1);
}

// The reflectors only list and watch (the own Node too, by field selector).
TEST(DeployTest, ClusterRoleIsListWatchOnly) {
  int roles = 0;
  for (const auto& d : loadDeploy()) {
    if (d["kind"].as<std::string>() != "ClusterRole") continue;
    ++roles;
    for (const auto& rule : d["rules"]) {
      std::set<std::string> verbs;
      for (const auto& verb : rule["verbs"]) verbs.insert(verb.as<std::string>());
      EXPECT_EQ(verbs, (std::set<std::string>{"list", "watch"})) << YAML::Dump(rule);
    }
  }
  EXPECT_EQ(roles, 1);
}

// The ClusterRole grants list and watch on the resource of every kind in the
// table (what the agent's reflectors ask for), and on nothing else.
TEST(DeployTest, ClusterRoleGrantsWhatTheKindTableWatches) {
  std::set<std::pair<std::string, std::string>> granted;  // (group, resource) with list+watch
  std::set<std::pair<std::string, std::string>> any;
  for (const auto& d : loadDeploy()) {
    if (d["kind"].as<std::string>() != "ClusterRole") continue;
    for (const auto& rule : d["rules"]) {
      std::set<std::string> verbs;
      for (const auto& v : rule["verbs"]) verbs.insert(v.as<std::string>());
      for (const auto& g : rule["apiGroups"])
        for (const auto& r : rule["resources"]) {
          any.emplace(g.as<std::string>(), r.as<std::string>());
          if (verbs.count("list") && verbs.count("watch"))
            granted.emplace(g.as<std::string>(), r.as<std::string>());
        }
    }
  }
  std::set<std::pair<std::string, std::string>> needed;
  for (const policy::KindInfo& k : policy::Kinds::kInfos)
    needed.emplace(std::string(k.group), std::string(k.resource));
  // The cluster tiers' CRDs are among them: RBAC is authorised before the
  // server looks a resource up, so without these rules an agent gets 403
  // (never synced, nothing programmed) even where the CRDs are not installed.
  for (const char* r :
       {"clusternetworkpolicies", "adminnetworkpolicies", "baselineadminnetworkpolicies"})
    EXPECT_TRUE(needed.count({"policy.networking.k8s.io", r})) << r << " is not in the kind table";
  for (const auto& n : needed)
    EXPECT_TRUE(granted.count(n)) << "no list/watch on " << n.first << "/" << n.second;
  for (const auto& a : any)
    EXPECT_TRUE(needed.count(a)) << "RBAC grants " << a.first << "/" << a.second
                                 << ", which no kind in policy/kinds/kinds.h needs";
}

TEST(DeployTest, FlagListCoversTheDocumentedFlags) {
  auto names = agentFlagNames();
  for (const char* f : {"--kubeconfig", "--manifests", "--node", "--state-dir", "--metrics-addr",
                        "--health-addr", "--queue-count", "--log-format", "--log-level"})
    EXPECT_NE(std::find(names.begin(), names.end(), f), names.end()) << f;
}

/// The one DaemonSet's pod spec and its one container.
struct AgentPod {
  YAML::Node pod, spec, container;
};
AgentPod agentPod() {
  for (const auto& d : loadDeploy())
    if (d["kind"].as<std::string>() == "DaemonSet") {
      auto tmpl = d["spec"]["template"];
      return {tmpl, tmpl["spec"], tmpl["spec"]["containers"][0]};
    }
  ADD_FAILURE() << "no DaemonSet under deploy/";
  return {};
}

/// The container's args with $(VAR) expanded as the kubelet does, from
/// example values of the env vars the container defines (a reference to an
/// undefined one is a failure: the kubelet would pass it verbatim).
std::vector<std::string> expandedArgs(const YAML::Node& container) {
  const std::map<std::string, std::string> example = {
      {"spec.nodeName", "node-1"}, {"status.podIP", "10.0.0.5"}, {"status.hostIP", "10.0.0.5"}};
  std::map<std::string, std::string> env;
  for (const auto& e : container["env"]) {
    auto path = e["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>();
    EXPECT_TRUE(example.count(path)) << "env " << e["name"] << " from " << path;
    env["$(" + e["name"].as<std::string>() + ")"] = example.count(path) ? example.at(path) : "";
  }
  std::vector<std::string> args;
  for (const auto& a : container["args"]) {
    auto arg = a.as<std::string>();
    for (size_t at = arg.find("$("); at != std::string::npos; at = arg.find("$(", at)) {
      std::string ref = arg.substr(at, arg.find(')', at) + 1 - at);
      EXPECT_TRUE(env.count(ref)) << arg << " uses " << ref << ", which the container does not set";
      arg.replace(at, ref.size(), env.count(ref) ? env[ref] : "");
    }
    args.push_back(arg);
  }
  return args;
}

/// The agent's flags as the DaemonSet sets them, through the agent's own parser.
AgentFlags daemonSetFlags() {
  CLI::App app;
  AgentFlags f;
  addFlags(app, f);
  auto args = expandedArgs(agentPod().container);
  std::reverse(args.begin(), args.end());  // CLI11 takes them from the back
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    ADD_FAILURE() << "palisade-agent refuses the DaemonSet's args: " << e.what();
  }
  return f;
}

uint16_t portOf(const std::string& addr) {
  std::string host;
  uint16_t port = 0;
  EXPECT_TRUE(parseListenAddress(addr, host, port)) << addr;
  return port;
}

TEST(DeployTest, DaemonSetHoldsPendingPodsAndFailsClosed) {
  AgentFlags f = daemonSetFlags();
  EXPECT_GE(f.queue_count, 1) << "the DaemonSet leaves pods the agent does not know unprotected";
  EXPECT_EQ(f.pending_fail, "closed");
  EXPECT_FALSE(f.fail_open);
  EXPECT_EQ(f.userspace_mode, "none");
}

TEST(DeployTest, ProbesReachTheLoopbackHealthListener) {
  AgentFlags f = daemonSetFlags();
  std::string host;
  uint16_t health_port = 0;
  ASSERT_TRUE(parseListenAddress(f.health_addr, host, health_port)) << f.health_addr;
  EXPECT_TRUE(isLoopbackAddress(host)) << f.health_addr;
  const auto c = agentPod().container;
  for (const auto& [probe, path] :
       {std::pair{"livenessProbe", "/healthz"}, std::pair{"readinessProbe", "/readyz"}}) {
    const auto get = c[probe]["httpGet"];
    ASSERT_TRUE(get) << probe;
    EXPECT_EQ(get["path"].as<std::string>(), path) << probe;
    EXPECT_EQ(get["host"].as<std::string>(), host) << probe << ": the kubelet would probe the "
                                                   << "pod (node) IP, where health is not served";
    EXPECT_EQ(get["port"].as<int>(), health_port) << probe;
  }
}

TEST(DeployTest, PrometheusScrapesTheMetricsListener) {
  AgentFlags f = daemonSetFlags();
  EXPECT_EQ(f.metrics_addr, "10.0.0.5:9640") << "not on the pod's (the node's) IP";
  const uint16_t port = portOf(f.metrics_addr);
  const auto a = agentPod();
  EXPECT_EQ(a.pod["metadata"]["annotations"]["prometheus.io/port"].as<std::string>(),
            std::to_string(port));
  std::map<std::string, int> ports;
  for (const auto& p : a.container["ports"])
    ports[p["name"].as<std::string>()] = p["containerPort"].as<int>();
  EXPECT_EQ(ports, (std::map<std::string, int>{{"metrics", port}}))
      << "only the metrics port is the node's; health stays on loopback";
}

/// The first cells of the rows of the README table whose header starts
/// `header` (backticks stripped).
std::vector<std::vector<std::string>> readmeTable(const std::string& header) {
  std::ifstream in(PALISADE_SOURCE_DIR "/README.md");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside) {
      inside = line.rfind(header, 0) == 0;
      continue;
    }
    if (line.empty() || line[0] != '|') break;
    if (line.rfind("|---", 0) == 0 || line.rfind("| ---", 0) == 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (char ch : line.substr(1)) {
      if (ch == '|') {
        auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
        cells.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
        cell.clear();
      } else if (ch != '`') {
        cell += ch;
      }
    }
    rows.push_back(cells);
  }
  return rows;
}

std::set<std::string> splitList(const std::string& cell) {
  std::set<std::string> out;
  std::string item;
  for (char ch : cell + ",") {
    if (ch == ',') {
      auto b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
      if (b != std::string::npos) out.insert(item.substr(b, e - b + 1));
      item.clear();
    } else {
      item += ch;
    }
  }
  return out;
}

TEST(DeployTest, PodIsHardenedWithExactlyTheDocumentedCapabilities) {
  const auto a = agentPod();
  auto seccomp = a.spec["securityContext"]["seccompProfile"]["type"].as<std::string>("");
  if (a.container["securityContext"]["seccompProfile"])
    seccomp = a.container["securityContext"]["seccompProfile"]["type"].as<std::string>();
  EXPECT_EQ(seccomp, "RuntimeDefault");
  const auto sc = a.container["securityContext"];
  EXPECT_FALSE(sc["privileged"].as<bool>());
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>());
  for (const char* shared : {"hostPID", "hostIPC"})
    EXPECT_FALSE(a.spec[shared] && a.spec[shared].as<bool>()) << shared;
  std::vector<std::string> drop;
  for (const auto& cap : sc["capabilities"]["drop"]) drop.push_back(cap.as<std::string>());
  EXPECT_EQ(drop, (std::vector<std::string>{"ALL"}));
  std::set<std::string> added, documented;
  for (const auto& cap : sc["capabilities"]["add"]) added.insert(cap.as<std::string>());
  for (const auto& row : readmeTable("| capability |")) documented.insert(row.at(0));
  EXPECT_FALSE(documented.empty()) << "README.md has no `| capability | why |` table";
  EXPECT_EQ(added, documented) << "the DaemonSet's capabilities and README's table differ";
  EXPECT_EQ(added.count("NET_RAW"), 0u) << "nothing the agent runs opens a raw socket";
}

TEST(DeployTest, ClusterRoleIsWhatTheReadmeDocuments) {
  std::set<std::pair<std::string, std::string>> granted, documented;  // (resource, verb)
  for (const auto& d : loadDeploy()) {
    if (d["kind"].as<std::string>() != "ClusterRole") continue;
    for (const auto& rule : d["rules"])
      for (const auto& r : rule["resources"])
        for (const auto& v : rule["verbs"])
          granted.emplace(r.as<std::string>(), v.as<std::string>());
  }
  for (const auto& row : readmeTable("| resources |")) {
    ASSERT_GE(row.size(), 3u);
    for (const auto& r : splitList(row[0]))
      for (const auto& v : splitList(row[1])) documented.emplace(r, v);
  }
  EXPECT_FALSE(documented.empty()) << "README.md has no `| resources | verbs | why |` table";
  EXPECT_EQ(granted, documented);
}

}  // namespace
}  // namespace palisade::agent
