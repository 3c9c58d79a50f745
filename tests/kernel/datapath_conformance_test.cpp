// Every pod pair through the real kernel agrees with policy::evaluate over the
// same compiled ruleset (the evaluator is what the CLI and the queue use).
#include <gtest/gtest.h>

#include "datapath/nft/programmer.h"
#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"

namespace palisade::datapath::nft {
namespace {

using palisade::testing::Conn;
using palisade::testing::Fd;

constexpr const char* kManifests = R"(
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {kubernetes.io/metadata.name: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {kubernetes.io/metadata.name: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {nodeName: n0, containers: [{name: c, image: i, ports: [{containerPort: 80, name: http}]}]}
status: {podIP: 10.77.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {nodeName: n0, containers: [{name: c, image: i, ports: [{containerPort: 80, name: http}]}]}
status: {podIP: 10.77.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: y, labels: {pod: a}}
spec: {nodeName: n0, containers: [{name: c, image: i}]}
status: {podIP: 10.77.3.2}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: y, labels: {pod: b}}
spec: {nodeName: n0, containers: [{name: c, image: i}]}
status: {podIP: 10.77.4.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-y-a-to-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
      podSelector: {matchLabels: {pod: a}}
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-to-x, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}}]
    ports: [{protocol: TCP, port: 80}]
)";

TEST(DatapathConformance, EveryPairMatchesTheEvaluator) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  policy::ManifestSet set = policy::readManifestText(kManifests, "inline.yaml");
  ASSERT_TRUE(set.errors.empty());
  policy::ClusterState state = policy::ClusterState::fromManifests(set);
  ir::Ruleset rs = policy::compile(state, "n0");
  ASSERT_EQ(rs.endpoints_size(), 4);

  palisade::testing::Topology t(4);
  for (const auto& ip : t.node_ip) rs.mutable_node()->add_addresses_v4(testing::ip4(ip));
  auto tr = palisade::testing::inNetns(t.node, [] { return openMnlTransport(); });
  ASSERT_TRUE(tr.ok());
  Programmer prog(std::move(*tr), {});
  auto r = prog.sync(rs);
  ASSERT_TRUE(r.ok()) << r.error().str();

  std::vector<Fd> listeners;
  for (const auto& ns : t.pods)
    for (uint16_t port : {80, 81}) listeners.push_back(palisade::testing::tcpListen(ns, port));
  int checked = 0, allowed = 0;
  for (size_t s = 0; s < t.pods.size(); ++s) {
    for (size_t d = 0; d < t.pods.size(); ++d) {
      if (s == d) continue;  // a pod's own address never leaves its namespace
      for (uint16_t port : {80, 81}) {
        auto judged =
            policy::evaluate(rs, *policy::IpAddress::parse(t.pod_ip[s]),
                             *policy::IpAddress::parse(t.pod_ip[d]), policy::Protocol::TCP, port);
        ASSERT_TRUE(judged) << judged.error().str();
        const policy::Verdict& v = *judged;
        Conn c = palisade::testing::tcpConnect(t.pods[s], t.pod_ip[d], port, 200);
        EXPECT_EQ(c == Conn::Ok, v.allowed)
            << t.pod_ip[s] << " -> " << t.pod_ip[d] << ":" << port << " egress "
            << v.egress.describe() << ", ingress " << v.ingress.describe();
        ++checked;
        allowed += v.allowed;
      }
    }
  }
  EXPECT_EQ(checked, 24);
  EXPECT_GT(allowed, 0);
  EXPECT_LT(allowed, checked);
}

}  // namespace
}  // namespace palisade::datapath::nft

// `palisade apply` programs the namespace it runs in, adopts on a second run,
// and `--delete` removes the table.
#include <fstream>
#include <sstream>

#include "agent/cli/cmd_apply.h"

namespace palisade::datapath::nft {
namespace {

TEST(DatapathApply, ApplyAdoptDelete) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) GTEST_SKIP() << why;
  palisade::testing::NetnsGuard guard;
  std::string ns = guard.add("apply");
  std::string path = "/tmp/" + palisade::testing::prefix() + "apply.yaml";
  std::ofstream(path) << kManifests;
  agent::cli::ApplyOptions o;
  o.files = {path};
  o.node = "n0";
  auto run = [&](const agent::cli::ApplyOptions& opts, std::string* out_text) {
    return palisade::testing::inNetns(ns, [&] {
      std::ostringstream out, err;
      int rc = agent::cli::runApply(opts, out, err);
      *out_text = out.str() + err.str();
      return rc;
    });
  };
  std::string text;
  EXPECT_EQ(run(o, &text), 0) << text;
  EXPECT_NE(text.find("programmed table inet palisade for node n0"), std::string::npos) << text;
  EXPECT_NE(text.find("kernel features:"), std::string::npos);
  int rc = 0;
  std::string listed =
      palisade::testing::shell("ip netns exec " + ns + " nft list table inet palisade", &rc);
  EXPECT_EQ(rc, 0) << listed;
  EXPECT_NE(listed.find("chain postrouting"), std::string::npos);
  // Second run: the table is adopted, nothing changes.
  EXPECT_EQ(run(o, &text), 0) << text;
  EXPECT_NE(text.find("0 element changes"), std::string::npos) << text;
  agent::cli::ApplyOptions del;
  del.remove = true;
  EXPECT_EQ(run(del, &text), 0) << text;
  palisade::testing::shell("ip netns exec " + ns + " nft list table inet palisade", &rc);
  EXPECT_NE(rc, 0);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace palisade::datapath::nft
