// The agent's API path in one process: fake API server → reflectors →
// decoders → reconcile loop → recording kernel; plus the HTTP endpoints.
#include "agent/daemon/api_source.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "agent/daemon/http_server.h"
#include "tests/agent/daemon/fake_kernel.h"
#include "tests/agent/k8s/fake_apiserver.h"
#include "tests/agent/k8s/k8s_objects.h"

namespace palisade::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeApiServer;
using testing::FakeKernel;
using testing::FakeKernelLog;

template <typename P>
bool eventually(P pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

std::pair<int, std::string> httpGet(uint16_t port, const std::string& target) {
  namespace http = boost::beast::http;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  return {int(res.result_int()), res.body()};
}

class ApiSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.setToken("t");
    server_.start();
    server_.upsert("/api/v1/nodes", "", "node-1",
                   testing::nodeJson("node-1", "10.1.0.0/24", "192.168.0.10"));
    server_.upsert("/api/v1/namespaces", "", "web", testing::namespaceJson("web"));
    addPod("a", "db", "10.1.0.5");
    addPod("b", "client", "10.1.0.6");
    ReconcilerOptions o;
    o.node = "node-1";
    for (const auto& w : watchedResources("node-1")) o.required_resources.insert(w.resource.name);
    rec_ = std::make_unique<Reconciler>(o, std::make_unique<FakeKernel>(log_), metrics_);
    rec_->start();
    k8s::ClusterConfig c;
    c.host = "127.0.0.1";
    c.port = std::to_string(server_.port());
    c.ca_pem = testing::TestPki::get().ca_pem;
    c.token = "t";
    k8s::ReflectorOptions ro;
    ro.backoff_initial = 10ms;
    ro.backoff_max = 50ms;
    ro.streaming = k8s::StreamingList::Off;
    ro.absent_recheck = 30ms;
    api_ = std::make_unique<ApiSource>(c, "node-1", *rec_, metrics_, ro);
    metrics_.addCollector(
        [this](std::string& out) { renderReflectorMetrics(api_->reflectors(), out); });
  }
  void TearDown() override {
    api_->stop();
    rec_->stop();
    server_.stop();
  }
  void addPod(const std::string& name, const std::string& app, const std::string& ip) {
    testing::PodSpec p;
    p.ns = "web";
    p.name = name;
    p.ip = ip;
    p.labels = {{"app", app}};
    p.ports = {{"sql", 5432}};
    server_.upsert("/api/v1/pods", "web", name, testing::podJson(p));
  }
  uint32_t ingressOf(const std::string& name) {
    auto rs = log_->lastRuleset();
    auto* e = log_->endpoint(rs, "web", name);
    return e ? e->ingress_program() : 9999;
  }
  /// The last programmed endpoint of web/<name> (a default one when absent).
  ir::Endpoint endpointOf(const std::string& name) {
    auto rs = log_->lastRuleset();
    auto* e = log_->endpoint(rs, "web", name);
    return e ? *e : ir::Endpoint{};
  }
  const k8s::ReflectorStats& statsOf(const std::string& resource) {
    for (const auto& r : api_->reflectors())
      if (r->resource().name == resource) return r->stats();
    ADD_FAILURE() << "no reflector for " << resource;
    return api_->reflectors().front()->stats();
  }
  uint64_t apiErrors() {
    uint64_t n = 0;
    for (const auto& r : api_->reflectors()) n += r->stats().errors;
    return n;
  }

  FakeApiServer server_;
  std::shared_ptr<FakeKernelLog> log_ = std::make_shared<FakeKernelLog>();
  Metrics metrics_;
  std::unique_ptr<Reconciler> rec_;
  std::unique_ptr<ApiSource> api_;
};

const std::string kPolicies = "/apis/networking.k8s.io/v1/networkpolicies";

TEST_F(ApiSourceTest, PolicyLifecycleThroughTheApi) {
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  EXPECT_EQ(log_->adopts, 1);
  EXPECT_EQ(ingressOf("a"), 0u);
  EXPECT_EQ(log_->lastRuleset().node().pod_cidrs_v4_size(), 1);
  server_.upsert(kPolicies, "web", "db",
                 testing::policyJson("web", "db", {{"app", "db"}}, {{"app", "client"}}));
  ASSERT_TRUE(eventually([&] { return ingressOf("a") != 0; }));
  // An invalid object is skipped; what is in force stays.
  server_.upsert(
      kPolicies, "web", "bad",
      "{\"kind\":\"NetworkPolicy\",\"apiVersion\":\"networking.k8s.io/v1\",\"metadata\":"
      "{\"name\":\"bad\",\"namespace\":\"web\"},\"spec\":{\"podSelector\":{},\"ingress\":"
      "[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/33\"}}]}]}}");
  ASSERT_TRUE(eventually([&] { return metrics_.objects_rejected == 1; }));
  // Updating the valid policy into an invalid one keeps the valid version.
  server_.upsert(kPolicies, "web", "db",
                 "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"db\",\"namespace\":\"web\"},"
                 "\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"db\"}},\"ingress\":[{"
                 "\"ports\":[{\"port\":0}]}]}}");
  ASSERT_TRUE(eventually([&] { return metrics_.objects_rejected == 2; }));
  ASSERT_TRUE(rec_->waitIdle(2s));
  EXPECT_NE(ingressOf("a"), 0u);
  server_.remove(kPolicies, "web", "db");
  ASSERT_TRUE(eventually([&] { return ingressOf("a") == 0; }));
  // A pod relabel reaches the kernel as a sync.
  server_.upsert(kPolicies, "web", "db2", testing::policyJson("web", "db2", {{"app", "db"}}));
  ASSERT_TRUE(eventually([&] { return ingressOf("a") != 0; }));
  addPod("a", "not-db", "10.1.0.5");
  ASSERT_TRUE(eventually([&] { return ingressOf("a") == 0; }));
  addPod("c", "db", "10.1.0.7");
  ASSERT_TRUE(eventually([&] { return ingressOf("c") != 0 && ingressOf("c") != 9999; }));
}

TEST_F(ApiSourceTest, ApiOutageChangesNothing) {
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  int calls = log_->calls();
  server_.stop();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(log_->calls(), calls);
  EXPECT_TRUE(rec_->ready());
  EXPECT_TRUE(rec_->healthy());
}

TEST_F(ApiSourceTest, NotReadyWhileOneResourceCannotList) {
  server_.failNext("/apis/discovery.k8s.io", 403, "", 1000);
  api_->start();
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(rec_->ready());
  EXPECT_EQ(log_->calls(), 0);
}

TEST_F(ApiSourceTest, HttpEndpoints) {
  HttpServer http;
  http.handle("/metrics", [&] { return HttpReply{200, "text/plain", metrics_.render()}; });
  http.handle("/readyz", [&] {
    return rec_->ready() ? HttpReply{200, "text/plain", "ok\n"}
                         : HttpReply{503, "text/plain", "not ready\n"};
  });
  ASSERT_TRUE(http.start("127.0.0.1:0"));
  EXPECT_EQ(httpGet(http.port(), "/readyz").first, 503);
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  EXPECT_EQ(httpGet(http.port(), "/readyz").first, 200);
  auto [code, body] = httpGet(http.port(), "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_NE(body.find("palisade_api_events_total{resource=\"pods\",type=\"ADDED\"} 2"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("palisade_api_synced{resource=\"nodes\"} 1"), std::string::npos);
  EXPECT_EQ(httpGet(http.port(), "/nope").first, 404);
  // The node is watched by name only.
  EXPECT_GE(server_.countRequests("fieldSelector=metadata.name%3Dnode-1"), 1u);
}

// The cluster tiers' CRDs (policy.networking.k8s.io) are not installed in most
// clusters: their 404 must not keep the node from being programmed.
const std::string kCnps =
    policy::kindInfo(policy::kindId<policy::ClusterNetworkPolicy>()).collectionPath();
const std::string kAnps =
    policy::kindInfo(policy::kindId<policy::AdminNetworkPolicy>()).collectionPath();
const std::string kBanps =
    policy::kindInfo(policy::kindId<policy::BaselineAdminNetworkPolicy>()).collectionPath();

// The objects as the API server serves them (the CRDs' required fields; the
// server adds metadata.resourceVersion). Both deny web/a (app=db) ingress from
// app=client pods in the Admin tier.
const std::string kCnpDenyClients =
    R"({"apiVersion":"policy.networking.k8s.io/v1alpha2","kind":"ClusterNetworkPolicy",)"
    R"("metadata":{"name":"no-clients"},"spec":{"tier":"Admin","priority":10,)"
    R"("subject":{"pods":{"namespaceSelector":{},"podSelector":{"matchLabels":{"app":"db"}}}},)"
    R"("ingress":[{"name":"deny-clients","action":"Deny","from":[{"pods":{"namespaceSelector":{},)"
    R"("podSelector":{"matchLabels":{"app":"client"}}}}]}]}})";
const std::string kAnpDenyClients =
    R"({"apiVersion":"policy.networking.k8s.io/v1alpha1","kind":"AdminNetworkPolicy",)"
    R"("metadata":{"name":"no-clients"},"spec":{"priority":10,)"
    R"("subject":{"pods":{"namespaceSelector":{},"podSelector":{"matchLabels":{"app":"db"}}}},)"
    R"("ingress":[{"name":"deny-clients","action":"Deny","from":[{"pods":{"namespaceSelector":{},)"
    R"("podSelector":{"matchLabels":{"app":"client"}}}}]}]}})";
// The Baseline tier's singleton: every pod's egress outside the cluster denied.
const std::string kBanpDenyEgress =
    R"({"apiVersion":"policy.networking.k8s.io/v1alpha1","kind":"BaselineAdminNetworkPolicy",)"
    R"("metadata":{"name":"default"},"spec":{"subject":{"namespaces":{}},)"
    R"("egress":[{"name":"no-internet","action":"Deny","to":[{"networks":["0.0.0.0/0"]}]}]}})";

TEST_F(ApiSourceTest, AbsentCrdsDoNotHoldBackProgramming) {
  for (const auto& path : {kCnps, kAnps, kBanps}) server_.unserve(path);
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  EXPECT_EQ(log_->adopts, 1);
  EXPECT_EQ(endpointOf("a").name(), "a");
  // Each is looked for again (every 30 ms here), and none of it is an error.
  for (const auto& path : {kCnps, kAnps, kBanps})
    EXPECT_TRUE(eventually([&] { return server_.countRequests(path) >= 3; })) << path;
  EXPECT_EQ(apiErrors(), 0u);
  EXPECT_EQ(metrics_.objects_rejected, 0u);
  const std::string m = metrics_.render();
  for (const char* r :
       {"clusternetworkpolicies", "adminnetworkpolicies", "baselineadminnetworkpolicies"}) {
    EXPECT_NE(m.find("palisade_api_served{resource=\"" + std::string(r) + "\"} 0"),
              std::string::npos)
        << r << "\n"
        << m;
    EXPECT_NE(m.find("palisade_api_synced{resource=\"" + std::string(r) + "\"} 1"),
              std::string::npos)
        << r;
    EXPECT_NE(m.find("palisade_api_errors_total{resource=\"" + std::string(r) + "\"} 0"),
              std::string::npos)
        << r;
  }
  EXPECT_NE(m.find("palisade_api_served{resource=\"pods\"} 1"), std::string::npos);
}

TEST_F(ApiSourceTest, CrdInstalledLaterIsEnforced) {
  for (const auto& path : {kCnps, kAnps, kBanps}) server_.unserve(path);
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  ASSERT_TRUE(rec_->waitIdle(2s));
  EXPECT_EQ(endpointOf("a").admin_ingress_program(), 0u);
  server_.serve(kCnps);
  server_.upsert(kCnps, "", "no-clients", kCnpDenyClients);
  ASSERT_TRUE(eventually([&] { return endpointOf("a").admin_ingress_program() != 0; }));
  EXPECT_EQ(endpointOf("b").admin_ingress_program(), 0u) << "b is no subject of the policy";
  EXPECT_TRUE(statsOf("clusternetworkpolicies").served);
  EXPECT_FALSE(statsOf("adminnetworkpolicies").served);
  EXPECT_EQ(metrics_.objects_rejected, 0u);
  EXPECT_EQ(apiErrors(), 0u);
}

TEST_F(ApiSourceTest, CrdDeletedTakesItsPoliciesWithIt) {
  server_.upsert(kCnps, "", "no-clients", kCnpDenyClients);
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  ASSERT_TRUE(eventually([&] { return endpointOf("a").admin_ingress_program() != 0; }));
  // No DELETED events: the watch ends and the server answers 404 from now on.
  server_.unserve(kCnps);
  ASSERT_TRUE(eventually([&] { return endpointOf("a").admin_ingress_program() == 0; }));
  EXPECT_FALSE(statsOf("clusternetworkpolicies").served);
  EXPECT_TRUE(rec_->ready());
  // Installed again, with the policy re-created: enforced again.
  server_.serve(kCnps);
  server_.upsert(kCnps, "", "no-clients", kCnpDenyClients);
  ASSERT_TRUE(eventually([&] { return endpointOf("a").admin_ingress_program() != 0; }));
  EXPECT_EQ(apiErrors(), 0u);
}

// A cluster with only the v1alpha1 CRDs: they are enforced, v1alpha2 is absent.
TEST_F(ApiSourceTest, OnlyV1alpha1ServedIsEnforced) {
  server_.unserve(kCnps);
  server_.upsert(kAnps, "", "no-clients", kAnpDenyClients);
  server_.upsert(kBanps, "", "default", kBanpDenyEgress);
  api_->start();
  ASSERT_TRUE(eventually([&] { return rec_->ready(); }));
  ASSERT_TRUE(eventually([&] {
    return endpointOf("a").admin_ingress_program() != 0 &&
           endpointOf("b").baseline_egress_program() != 0;
  }));
  EXPECT_EQ(endpointOf("b").admin_ingress_program(), 0u);
  EXPECT_FALSE(statsOf("clusternetworkpolicies").served);
  EXPECT_TRUE(statsOf("adminnetworkpolicies").served);
  EXPECT_TRUE(statsOf("baselineadminnetworkpolicies").served);
  EXPECT_EQ(metrics_.objects_rejected, 0u);
  EXPECT_EQ(apiErrors(), 0u);
}

// RBAC missing for a CRD is not absence: that resource never syncs, nothing is
// programmed, and the 403 is counted (the reflector logs it with the resource).
TEST_F(ApiSourceTest, ForbiddenCrdIsAnErrorNotAbsence) {
  server_.failNext(kAnps, 403, "", 1000);
  api_->start();
  ASSERT_TRUE(eventually([&] { return statsOf("adminnetworkpolicies").forbidden >= 2; }));
  EXPECT_FALSE(rec_->ready());
  EXPECT_EQ(log_->calls(), 0);
  EXPECT_FALSE(statsOf("adminnetworkpolicies").synced);
  const std::string m = metrics_.render();
  const std::string line = "palisade_api_forbidden_total{resource=\"adminnetworkpolicies\"} ";
  ASSERT_NE(m.find(line), std::string::npos) << m;
  EXPECT_EQ(m.find(line + "0\n"), std::string::npos) << m;
  EXPECT_NE(m.find("palisade_api_forbidden_total{resource=\"pods\"} 0\n"), std::string::npos);
}

TEST(HttpServerTest, ParsesListenAddresses) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parseListenAddress(":9640", host, port));
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9640);
  ASSERT_TRUE(parseListenAddress("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(parseListenAddress("nohost", host, port));
  EXPECT_FALSE(parseListenAddress("1.2.3.4:99999", host, port));
}

}  // namespace
}  // namespace palisade::agent
