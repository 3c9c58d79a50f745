// Service resolution: the way traffic to svc/NS/NAME:port reaches backends.
#include "policy/service/resolve.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace palisade::policy {
namespace {

using ::testing::HasSubstr;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

Pod makePod(const std::string& ns, const std::string& name, const char* addr,
            std::vector<ContainerPort> ports, LabelMap labels = {}) {
  Pod p;
  p.meta.namespace_ = ns;
  p.meta.name = name;
  p.meta.labels = labels.empty() ? LabelMap{{"app", "web"}} : labels;
  if (addr != nullptr) p.ips.push_back(ip(addr));
  p.ports = std::move(ports);
  return p;
}

Service makeService(const std::string& ns, const std::string& name, PortRef target,
                    std::optional<LabelMap> selector = LabelMap{{"app", "web"}}) {
  Service s;
  s.meta.namespace_ = ns;
  s.meta.name = name;
  s.selector = std::move(selector);
  s.cluster_ips.push_back(ip("10.96.0.10"));
  s.ports.push_back(ServicePort{"http", Protocol::TCP, 80, std::move(target), 30080});
  return s;
}

class ResolveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Namespace ns;
    ns.meta.name = "shop";
    ns.meta.labels = {{"kubernetes.io/metadata.name", "shop"}};
    state_.upsertNamespace(ns);
    state_.upsertPod(makePod("shop", "web-1", "10.0.0.1", {{"http", 8080, Protocol::TCP}}));
    state_.upsertPod(makePod("shop", "web-2", "10.0.0.2", {{"http", 9090, Protocol::TCP}}));
    state_.upsertPod(makePod("shop", "web-3", "10.0.0.3", {{"grpc", 7070, Protocol::TCP}}));
    state_.upsertPod(makePod("shop", "db", "10.0.0.9", {}, {{"app", "db"}}));
  }
  ClusterState state_;
};

TEST(ParseServiceRef, Forms) {
  EXPECT_EQ(parseServiceRef("svc/ns/name"), std::make_pair(std::string("ns"), std::string("name")));
  EXPECT_FALSE(parseServiceRef("ns/name"));
  EXPECT_FALSE(parseServiceRef("svc/ns"));
  EXPECT_FALSE(parseServiceRef("svc//name"));
  EXPECT_FALSE(parseServiceRef("svc/ns/name/x"));
}

TEST_F(ResolveTest, UnknownServiceAndPort) {
  EXPECT_THAT(resolveService(state_, "shop", "nope", 80, Protocol::TCP).error,
              HasSubstr("no Service shop/nope"));
  state_.upsertService(makeService("shop", "web", PortRef{8080}));
  ServiceResolution r = resolveService(state_, "shop", "web", 81, Protocol::TCP);
  EXPECT_THAT(r.error, HasSubstr("has no port 81/TCP (ports: 80/TCP)"));
  EXPECT_FALSE(resolveService(state_, "shop", "web", 80, Protocol::UDP).error.empty());
}

TEST_F(ResolveTest, NamedTargetPortPerPodFromSelector) {
  state_.upsertService(makeService("shop", "web", PortRef{std::string("http")}));
  ServiceResolution r = resolveService(state_, "shop", "web", 80, Protocol::TCP);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.backends.size(), 3u);
  EXPECT_EQ(state_.podName(*r.backends[0].pod), "shop/web-1");
  EXPECT_EQ(r.backends[0].port, 8080);
  EXPECT_EQ(r.backends[1].port, 9090);
  // web-3 has no port named http: the endpoints controller skips it.
  EXPECT_EQ(r.backends[2].port, 0);
  EXPECT_THAT(r.backends[2].note, HasSubstr("not a backend"));
}

TEST_F(ResolveTest, NumericTargetPortAndNodePort) {
  Service s = makeService("shop", "web", PortRef{8443});
  s.type = ServiceType::NodePort;
  state_.upsertService(s);
  ServiceResolution r = resolveService(state_, "shop", "web", 30080, Protocol::TCP);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.backends.size(), 3u);
  EXPECT_EQ(r.backends[2].port, 8443);
  EXPECT_THAT(r.notes.front(), HasSubstr("nodePort"));
}

TEST_F(ResolveTest, EndpointSlicesWin) {
  state_.upsertService(makeService("shop", "web", PortRef{std::string("http")}));
  EndpointSlice slice;
  slice.meta.namespace_ = "shop";
  slice.meta.name = "web-abc";
  slice.meta.labels = {{"kubernetes.io/service-name", "web"}};
  slice.service_name = "web";
  slice.address_type = "IPv4";
  slice.ports.push_back({"http", Protocol::TCP, 8080});
  EndpointSliceEndpoint ep;
  ep.addresses.push_back(ip("10.0.0.1"));
  ep.target_ref = EndpointTargetRef{"Pod", "shop", "web-1"};
  slice.endpoints.push_back(ep);
  EndpointSliceEndpoint not_ready;
  not_ready.addresses.push_back(ip("10.0.0.2"));
  not_ready.ready = false;
  slice.endpoints.push_back(not_ready);
  state_.upsertEndpointSlice(slice);

  ServiceResolution r = resolveService(state_, "shop", "web", 80, Protocol::TCP);
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(state_.podName(*r.backends[0].pod), "shop/web-1");
  EXPECT_EQ(r.backends[0].port, 8080);
  EXPECT_THAT(r.backends[0].note, HasSubstr("EndpointSlice web-abc"));
  // No targetRef: the pod is found by address.
  EXPECT_EQ(state_.podName(*r.backends[1].pod), "shop/web-2");
  EXPECT_FALSE(r.backends[1].ready);
}

TEST_F(ResolveTest, HeadlessGoesToPodsDirectly) {
  Service s = makeService("shop", "db", PortRef{5432}, LabelMap{{"app", "db"}});
  s.headless = true;
  s.cluster_ips.clear();
  s.ports = {ServicePort{"pg", Protocol::TCP, 5432, PortRef{5432}, 0}};
  state_.upsertService(s);
  ServiceResolution r = resolveService(state_, "shop", "db", 5432, Protocol::TCP);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(state_.podName(*r.backends[0].pod), "shop/db");
  EXPECT_EQ(r.backends[0].port, 5432);
  EXPECT_THAT(r.notes.front(), HasSubstr("headless"));
  // A port the headless service does not list is used as it is.
  r = resolveService(state_, "shop", "db", 6000, Protocol::TCP);
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(r.backends[0].port, 6000);
}

TEST_F(ResolveTest, ExternalNameHasNoAddresses) {
  Service s;
  s.meta.namespace_ = "shop";
  s.meta.name = "ext";
  s.type = ServiceType::ExternalName;
  s.external_name = "db.example.com";
  state_.upsertService(s);
  ServiceResolution r = resolveService(state_, "shop", "ext", 5432, Protocol::TCP);
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_FALSE(r.backends[0].address);
  EXPECT_FALSE(r.backends[0].pod);
  EXPECT_EQ(r.backends[0].hostname, "db.example.com");
  EXPECT_THAT(r.backends[0].note, HasSubstr("no addresses"));
}

TEST_F(ResolveTest, SelectorLessWithManualSlice) {
  state_.upsertService(makeService("shop", "legacy", PortRef{443}, std::nullopt));
  EndpointSlice slice;
  slice.meta.namespace_ = "shop";
  slice.meta.name = "legacy-1";
  slice.meta.labels = {{"kubernetes.io/service-name", "legacy"}};
  slice.service_name = "legacy";
  slice.address_type = "IPv4";
  slice.ports.push_back({"http", Protocol::TCP, 443});
  EndpointSliceEndpoint ep;
  ep.addresses = {ip("192.0.2.10"), ip("10.0.0.9")};
  slice.endpoints.push_back(ep);
  state_.upsertEndpointSlice(slice);
  ServiceResolution r = resolveService(state_, "shop", "legacy", 80, Protocol::TCP);
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_FALSE(r.backends[0].pod);
  EXPECT_EQ(r.backends[0].address->toString(), "192.0.2.10");
  EXPECT_THAT(r.backends[0].note, HasSubstr("not a pod"));
  EXPECT_EQ(state_.podName(*r.backends[1].pod), "shop/db");
  EXPECT_EQ(r.backends[1].port, 443);
}

TEST_F(ResolveTest, SelectorLessWithoutSlicesHasNoBackends) {
  state_.upsertService(makeService("shop", "orphan", PortRef{80}, std::nullopt));
  ServiceResolution r = resolveService(state_, "shop", "orphan", 80, Protocol::TCP);
  EXPECT_TRUE(r.backends.empty());
  EXPECT_THAT(r.notes.back(), HasSubstr("no backends"));
}

}  // namespace
}  // namespace palisade::policy
