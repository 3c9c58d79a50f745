// Every manifest under deploy/ parses; the DaemonSet only passes flags the
// agent accepts and has the shape issue 5 asks for.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "agent/daemon/flags.h"
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
        std::string arg = a.as<std::string>();
        ASSERT_EQ(arg.rfind("--", 0), 0u) << arg;
        std::string name = arg.substr(0, arg.find('='));
        EXPECT_NE(std::find(names.begin(), names.end(), name), names.end())
            << "DaemonSet passes " << name << ", which palisade-agent does not accept";
      }
      const auto sc = c["securityContext"];
      EXPECT_FALSE(sc["privileged"].as<bool>());
      std::vector<std::string> caps;
      for (const auto& cap : sc["capabilities"]["add"]) caps.push_back(cap.as<std::string>());
      EXPECT_EQ(caps, (std::vector<std::string>{"NET_ADMIN", "NET_RAW"}));
      EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
      EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
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

TEST(DeployTest, ClusterRoleIsListWatchOnly) {
  for (const auto& d : loadDeploy()) {
    if (d["kind"].as<std::string>() != "ClusterRole") continue;
    for (const auto& rule : d["rules"]) {
      for (const auto& verb : rule["verbs"]) {
        std::string v = verb.as<std::string>();
        bool nodes = rule["resources"][0].as<std::string>() == "nodes";
        EXPECT_TRUE(v == "list" || v == "watch" || (nodes && v == "get")) << v;
      }
    }
  }
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
  for (const auto& n : needed)
    EXPECT_TRUE(granted.count(n)) << "no list/watch on " << n.first << "/" << n.second;
  for (const auto& a : any)
    EXPECT_TRUE(needed.count(a)) << "RBAC grants " << a.first << "/" << a.second
                                 << ", which no kind in policy/kinds/kinds.h needs";
}

TEST(DeployTest, FlagListCoversTheDocumentedFlags) {
  auto names = agentFlagNames();
  for (const char* f : {"--kubeconfig", "--manifests", "--node", "--state-dir", "--metrics-addr",
                        "--log-format", "--log-level"})
    EXPECT_NE(std::find(names.begin(), names.end(), f), names.end()) << f;
}

}  // namespace
}  // namespace palisade::agent
