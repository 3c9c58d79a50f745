// Reflector against the fake API server: pagination, watch streams split at
// arbitrary byte boundaries, bookmarks, 410 (HTTP and in-stream), dropped
// connections, clean stream ends, 429 + Retry-After, token rotation,
// malformed events, streaming lists and their fallback, CA verification, and
// custom resources the server does not serve (404: absent, looked for again).
#include "agent/k8s/reflector.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/agent/k8s/fake_apiserver.h"
#include "tests/agent/k8s/k8s_objects.h"

namespace palisade::agent::k8s {
namespace {

using namespace std::chrono_literals;
using testing::FakeApiServer;
using testing::PodSpec;
using testing::TestPki;

const std::string kPods = "/api/v1/pods";

template <typename P>
bool eventually(P pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

struct Recorder {
  std::mutex mu;
  std::map<std::string, std::string> objects;  // "ns/name" → labels.app
  std::vector<std::string> log;                // "ADDED ns/name", "REMOVED ns/name"
  int synced = 0;

  ReflectorCallbacks callbacks() {
    ReflectorCallbacks cb;
    cb.on_object = [this](EventType t, simdjson::dom::element obj) {
      // Cluster-scoped objects (the CRD kinds) have no namespace.
      std::string_view ns_view;
      if (obj["metadata"]["namespace"].get_string().get(ns_view) != simdjson::SUCCESS) ns_view = {};
      std::string ns(ns_view);
      std::string name(obj["metadata"]["name"].get_string().value_unsafe());
      std::string_view app;  // stays empty for objects without the label
      if (obj["metadata"]["labels"]["app"].get_string().get(app) != simdjson::SUCCESS) app = {};
      std::lock_guard lock(mu);
      log.push_back(std::string(eventTypeName(t)) + " " + ns + "/" + name);
      if (t == EventType::Deleted)
        objects.erase(ns + "/" + name);
      else
        objects[ns + "/" + name] = std::string(app);
    };
    cb.on_removed = [this](std::string_view ns, std::string_view name) {
      std::lock_guard lock(mu);
      std::string key = std::string(ns) + "/" + std::string(name);
      log.push_back("REMOVED " + key);
      objects.erase(key);
    };
    cb.on_synced = [this] {
      std::lock_guard lock(mu);
      ++synced;
    };
    return cb;
  }
  size_t count() {
    std::lock_guard lock(mu);
    return objects.size();
  }
  int syncs() {
    std::lock_guard lock(mu);
    return synced;
  }
  std::string app(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = objects.find(key);
    return it == objects.end() ? "<none>" : it->second;
  }
  bool logged(const std::string& line) {
    std::lock_guard lock(mu);
    return std::find(log.begin(), log.end(), line) != log.end();
  }
};

class ReflectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.setToken("token-1");
    server_.start();
  }
  void TearDown() override {
    if (reflector_) reflector_->stop();
    server_.stop();
  }
  ClusterConfig config() {
    ClusterConfig c;
    c.host = "127.0.0.1";
    c.port = std::to_string(server_.port());
    c.ca_pem = TestPki::get().ca_pem;
    c.token = "token-1";
    return c;
  }
  ReflectorOptions fastOptions() {
    ReflectorOptions o;
    o.backoff_initial = 10ms;
    o.backoff_max = 100ms;
    o.streaming = StreamingList::Off;
    o.page_size = 3;
    return o;
  }
  void addPod(const std::string& name, const std::string& app, const std::string& ns = "web") {
    PodSpec p;
    p.ns = ns;
    p.name = name;
    p.ip = "10.1.0." + std::to_string(1 + (std::hash<std::string>{}(name) % 200));
    p.labels = {{"app", app}};
    p.ports = {{"http", 8080}};
    server_.upsert(kPods, ns, name, testing::podJson(p));
  }
  void start(ReflectorOptions o, ClusterConfig c, Resource r = {"pods", "Pod", kPods, ""}) {
    reflector_ = std::make_unique<Reflector>(std::move(r), c, std::make_shared<TokenSource>(c, 60s),
                                             rec_.callbacks(), o);
    reflector_->start();
  }
  void start(ReflectorOptions o) { start(o, config()); }
  void start() { start(fastOptions()); }

  FakeApiServer server_;
  Recorder rec_;
  std::unique_ptr<Reflector> reflector_;
};

TEST_F(ReflectorTest, ListsWithPaginationThenWatches) {
  for (int i = 0; i < 7; ++i) addPod("p" + std::to_string(i), "a");
  start();
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_EQ(rec_.count(), 7u);
  EXPECT_EQ(server_.countRequests("limit=3"), 3u);  // 3 + 3 + 1
  EXPECT_EQ(server_.countRequests("continue="), 2u);
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  addPod("p7", "b");
  ASSERT_TRUE(eventually([&] { return rec_.app("web/p7") == "b"; }));
  addPod("p7", "c");  // MODIFIED
  server_.remove(kPods, "web", "p0");
  ASSERT_TRUE(eventually([&] { return rec_.app("web/p7") == "c" && rec_.count() == 7; }));
  EXPECT_TRUE(rec_.logged("MODIFIED web/p7"));
  EXPECT_TRUE(rec_.logged("DELETED web/p0"));
  EXPECT_EQ(reflector_->stats().lists, 1u);
  // The watch started from the list's resourceVersion, with bookmarks on.
  auto reqs = server_.requests();
  auto watch = std::find_if(reqs.begin(), reqs.end(),
                            [](auto& r) { return r.target.find("watch=1") != std::string::npos; });
  ASSERT_NE(watch, reqs.end());
  EXPECT_NE(watch->target.find("allowWatchBookmarks=true"), std::string::npos);
  EXPECT_NE(watch->target.find("resourceVersion=107"), std::string::npos) << watch->target;
  EXPECT_EQ(watch->authorization, "Bearer token-1");
}

TEST_F(ReflectorTest, EventsSplitAtArbitraryByteBoundaries) {
  server_.setMaxSplit(7);
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  for (int i = 0; i < 60; ++i) addPod("p" + std::to_string(i), "v" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return rec_.count() == 60; }));
  EXPECT_EQ(rec_.app("web/p59"), "v59");
  EXPECT_EQ(reflector_->stats().decode_errors, 0u);
  EXPECT_EQ(reflector_->stats().added, 60u);
}

TEST_F(ReflectorTest, BookmarkAdvancesVersionAndRewatchUsesIt) {
  addPod("p0", "a");
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  server_.bookmark(kPods);
  std::string rv = std::to_string(server_.resourceVersion());
  ASSERT_TRUE(eventually([&] { return reflector_->resourceVersion() == rv; }));
  EXPECT_EQ(reflector_->stats().bookmarks, 1u);
  server_.endWatches();  // clean end → rewatch from the bookmark, no relist
  ASSERT_TRUE(eventually([&] { return server_.countRequests("resourceVersion=" + rv) == 1; }));
  EXPECT_EQ(reflector_->stats().lists, 1u);
  EXPECT_EQ(server_.countRequests("limit="), 1u);
}

TEST_F(ReflectorTest, InStreamGoneRelistsAndReportsVanishedObjects) {
  addPod("keep", "a");
  addPod("gone", "a");
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1 && rec_.count() == 2; }));
  server_.removeSilently(kPods, "web", "gone");
  addPod("new", "b");
  server_.compactAndExpire(kPods);
  ASSERT_TRUE(eventually([&] { return reflector_->stats().relists == 1; }));
  EXPECT_TRUE(rec_.logged("REMOVED web/gone"));
  EXPECT_EQ(rec_.app("web/new"), "b");
  EXPECT_EQ(rec_.count(), 2u);
  EXPECT_EQ(reflector_->stats().expired, 1u);
  EXPECT_EQ(rec_.syncs(), 2);
}

TEST_F(ReflectorTest, HttpGoneOnWatchRelists) {
  addPod("p0", "a");
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  server_.expireHttpNext(kPods, 1);
  server_.dropConnections();
  ASSERT_TRUE(eventually([&] { return reflector_->stats().relists == 1; }));
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  addPod("p1", "a");
  ASSERT_TRUE(eventually([&] { return rec_.count() == 2; }));
}

TEST_F(ReflectorTest, ExpiredContinueTokenRestartsTheList) {
  for (int i = 0; i < 5; ++i) addPod("p" + std::to_string(i), "a");
  server_.setExpireContinue(true);
  start();
  ASSERT_TRUE(eventually([&] { return server_.countRequests("continue=") >= 2; }));
  EXPECT_EQ(rec_.syncs(), 0);
  server_.setExpireContinue(false);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_EQ(rec_.count(), 5u);
}

TEST_F(ReflectorTest, DroppedConnectionRewatchesFromLastVersion) {
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  addPod("p0", "a");
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1; }));
  std::string rv = reflector_->resourceVersion();
  server_.dropConnections();
  addPod("p1", "a");  // while disconnected: must arrive through the rewatch
  ASSERT_TRUE(eventually([&] { return rec_.count() == 2; }));
  EXPECT_GE(server_.countRequests("resourceVersion=" + rv), 1u);
  EXPECT_EQ(reflector_->stats().lists, 1u);
}

TEST_F(ReflectorTest, TooManyRequestsHonoursRetryAfter) {
  server_.failNext(kPods, 429, "1");
  start();
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }, 5000ms));
  auto reqs = server_.requests();
  ASSERT_GE(reqs.size(), 2u);
  auto gap = reqs[1].at - reqs[0].at;
  EXPECT_GE(gap, 950ms);  // backoff alone would be ~10 ms
  EXPECT_EQ(reflector_->stats().throttled, 1u);
}

TEST_F(ReflectorTest, ServerErrorsBackOffAndRecover) {
  server_.failNext(kPods, 503, "", 3);
  start();
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  auto reqs = server_.requests();
  ASSERT_GE(reqs.size(), 4u);
  // Exponential: 10, 20, 40 ms (plus jitter).
  EXPECT_GE(reqs[3].at - reqs[0].at, 70ms);
  EXPECT_EQ(reflector_->stats().errors, 3u);
}

TEST_F(ReflectorTest, RotatedTokenIsReReadAfter401) {
  auto dir =
      std::filesystem::temp_directory_path() / ("palisade-token-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "token").string();
  std::ofstream(file) << "token-1\n";
  auto c = config();
  c.token_file = file;
  addPod("p0", "a");
  start(fastOptions(), c);
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  std::ofstream(file) << "token-2\n";
  server_.setToken("token-2");
  server_.dropConnections();
  addPod("p1", "a");
  ASSERT_TRUE(eventually([&] { return rec_.count() == 2; }));
  EXPECT_EQ(reflector_->stats().unauthorized, 1u);
  EXPECT_EQ(server_.requests().back().authorization, "Bearer token-2");
  std::filesystem::remove_all(dir);
}

TEST_F(ReflectorTest, MalformedEventsAreSkipped) {
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  server_.rawEvent(kPods, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"namespace\":\"x\"}}}");
  server_.rawEvent(kPods, "{this is not json");
  server_.rawEvent(kPods, "{\"type\":\"WHATEVER\",\"object\":{\"metadata\":{}}}");
  addPod("p0", "a");
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1; }));
  EXPECT_EQ(reflector_->stats().decode_errors, 3u);
  EXPECT_EQ(reflector_->stats().watches, 1u);  // the watch never restarted
}

TEST_F(ReflectorTest, StreamingListWhenOffered) {
  server_.setStreamingLists(true);
  addPod("p0", "a");
  addPod("p1", "a");
  auto o = fastOptions();
  o.streaming = StreamingList::Auto;
  start(o);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_EQ(rec_.count(), 2u);
  EXPECT_TRUE(reflector_->stats().streaming);
  EXPECT_EQ(server_.countRequests("limit="), 0u);
  EXPECT_EQ(server_.countRequests("sendInitialEvents=true&resourceVersionMatch=NotOlderThan"), 1u);
  addPod("p2", "b");
  ASSERT_TRUE(eventually([&] { return rec_.count() == 3; }));
  // An in-stream 410 relists through a new streaming list, dropping the vanished.
  server_.removeSilently(kPods, "web", "p0");
  server_.compactAndExpire(kPods);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 2; }));
  EXPECT_TRUE(rec_.logged("REMOVED web/p0"));
  EXPECT_EQ(rec_.count(), 2u);
}

TEST_F(ReflectorTest, StreamingListFallsBackToListWatch) {
  addPod("p0", "a");
  auto o = fastOptions();
  o.streaming = StreamingList::Auto;
  start(o);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_FALSE(reflector_->stats().streaming);
  EXPECT_EQ(server_.countRequests("sendInitialEvents"), 1u);
  EXPECT_EQ(server_.countRequests("limit="), 1u);
}

TEST_F(ReflectorTest, UntrustedServerCertificateIsRefused) {
  addPod("p0", "a");
  auto c = config();
  c.ca_pem = TestPki::get().other_ca_pem;
  start(fastOptions(), c);
  ASSERT_TRUE(eventually([&] { return reflector_->stats().errors >= 2; }));
  EXPECT_EQ(rec_.syncs(), 0);
  EXPECT_EQ(server_.requests().size(), 0u);
}

TEST_F(ReflectorTest, HostNameMatchesCertificateSan) {
  auto c = config();
  c.host = "localhost";
  start(fastOptions(), c);  // localhost is in the SANs: works
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
}

TEST_F(ReflectorTest, ClientCertificateAuthenticates) {
  addPod("p0", "a");
  auto c = config();
  c.token.clear();
  c.client_cert_pem = TestPki::get().client_cert_pem;
  c.client_key_pem = TestPki::get().client_key_pem;
  start(fastOptions(), c);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_EQ(server_.requests()[0].authorization, "");
}

TEST_F(ReflectorTest, RelistOnRequest) {
  addPod("p0", "a");
  start();
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  reflector_->relist();
  ASSERT_TRUE(eventually([&] { return reflector_->stats().relists == 1; }));
  EXPECT_EQ(rec_.count(), 1u);
}

// SIGHUPs landing in backoffs (and between them) must never leave the
// reflector cancelled: relist() used to cancel after waking the reflector,
// which could reset the client first and then fail every request for good.
TEST_F(ReflectorTest, RelistDuringBackoffNeverLeavesTheReflectorCancelled) {
  addPod("p0", "a");
  server_.failNext(kPods, 503, "", 40);
  start();
  for (int i = 0; i < 200; ++i) {
    reflector_->relist();
    std::this_thread::sleep_for(std::chrono::microseconds(100 + 37 * (i % 50)));
  }
  ASSERT_TRUE(eventually([&] { return rec_.syncs() >= 1 && server_.activeWatches() == 1; }));
  addPod("p1", "b");
  ASSERT_TRUE(eventually([&] { return rec_.app("web/p1") == "b"; }));
}

// A watch event over the limit relists (after a backoff) instead of rewatching
// into the same event; a LIST page over the limit shrinks the page size.
TEST_F(ReflectorTest, OversizedEventsAndPagesAreRecoveredFrom) {
  for (int i = 0; i < 6; ++i) addPod("p" + std::to_string(i), "a");
  auto o = fastOptions();
  o.page_size = 6;
  o.max_page_bytes = 2500;  // about three pods
  o.max_event_bytes = 2000;
  start(o);
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_EQ(rec_.count(), 6u);
  EXPECT_GE(reflector_->stats().oversized, 1u);
  EXPECT_GE(server_.countRequests("limit=3"), 1u);
  ASSERT_TRUE(eventually([&] { return server_.activeWatches() == 1; }));
  server_.rawEvent(kPods,
                   "{\"type\":\"ADDED\",\"object\":{\"x\":\"" + std::string(3000, 'x') + "\"}}");
  ASSERT_TRUE(eventually([&] { return reflector_->stats().relists >= 1; }));
  addPod("p9", "b");
  ASSERT_TRUE(eventually([&] { return rec_.app("web/p9") == "b"; }));
}

// A CRD-served resource, as ApiSource makes it for ClusterNetworkPolicy.
const std::string kCnps = "/apis/policy.networking.k8s.io/v1alpha2/clusternetworkpolicies";
Resource cnpResource() {
  return {"clusternetworkpolicies", "ClusterNetworkPolicy", kCnps, "", /*custom=*/true};
}
std::string cnpJson(const std::string& name) {
  return "{\"apiVersion\":\"policy.networking.k8s.io/v1alpha2\",\"kind\":\"ClusterNetworkPolicy\","
         "\"metadata\":{\"name\":\"" +
         name + "\"},\"spec\":{}}";
}
ReflectorOptions absentOptions() {
  ReflectorOptions o;
  o.backoff_initial = 10ms;
  o.backoff_max = 100ms;
  o.jitter = 0;
  o.streaming = StreamingList::Off;
  o.absent_recheck = 40ms;
  return o;
}

// Not installed → synced with nothing, no errors, looked for again; installed
// → listed and watched; deleted (objects gone without events, watch ended,
// 404 again) → every object it had reported removed; installed again → back.
TEST_F(ReflectorTest, AbsentCustomResourceIsSyncedAndLookedForAgain) {
  server_.unserve(kCnps);
  start(absentOptions(), config(), cnpResource());
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  EXPECT_FALSE(reflector_->stats().served);
  EXPECT_TRUE(reflector_->stats().synced);
  // Counted as the reflector reads the answer (the server counts the request
  // before answering it).
  ASSERT_TRUE(eventually([&] { return reflector_->stats().not_served >= 4; }));
  EXPECT_GE(server_.countRequests(kCnps), 4u);
  EXPECT_EQ(reflector_->stats().errors, 0u);
  EXPECT_EQ(reflector_->stats().lists, 0u);
  EXPECT_EQ(rec_.syncs(), 1) << "every look must not re-announce the sync";
  // Looks are spaced by absent_recheck, not the (10 ms) backoff.
  auto reqs = server_.requests();
  ASSERT_GE(reqs.size(), 3u);
  EXPECT_GE(reqs[2].at - reqs[0].at, 80ms);

  server_.serve(kCnps);
  server_.upsert(kCnps, "", "one", cnpJson("one"));
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1 && server_.activeWatches() == 1; }));
  EXPECT_TRUE(reflector_->stats().served);
  EXPECT_EQ(reflector_->stats().lists, 1u);
  server_.upsert(kCnps, "", "two", cnpJson("two"));  // through the watch
  ASSERT_TRUE(eventually([&] { return rec_.count() == 2; }));
  EXPECT_TRUE(rec_.logged("ADDED /two"));

  server_.unserve(kCnps);
  ASSERT_TRUE(eventually([&] { return rec_.count() == 0; }));
  EXPECT_TRUE(rec_.logged("REMOVED /one"));
  EXPECT_TRUE(rec_.logged("REMOVED /two"));
  EXPECT_FALSE(reflector_->stats().served);
  EXPECT_TRUE(reflector_->stats().synced);
  EXPECT_EQ(reflector_->stats().errors, 0u);

  server_.serve(kCnps);
  server_.upsert(kCnps, "", "three", cnpJson("three"));
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1 && reflector_->stats().served; }));
  EXPECT_EQ(rec_.app("/three"), "");
  EXPECT_EQ(reflector_->stats().errors, 0u);
}

// The same with streaming lists on: the 404 then answers the watch that
// carries the list, and must not be taken for a server without streaming.
TEST_F(ReflectorTest, AbsentCustomResourceWithStreamingLists) {
  server_.setStreamingLists(true);
  server_.unserve(kCnps);
  auto o = absentOptions();
  o.streaming = StreamingList::On;
  start(o, config(), cnpResource());
  ASSERT_TRUE(eventually([&] { return rec_.syncs() == 1; }));
  ASSERT_TRUE(eventually([&] { return server_.countRequests("sendInitialEvents=true") >= 2; }));
  EXPECT_EQ(reflector_->stats().errors, 0u);
  server_.serve(kCnps);
  server_.upsert(kCnps, "", "one", cnpJson("one"));
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1; }));
  EXPECT_TRUE(reflector_->stats().streaming);
  EXPECT_EQ(server_.countRequests("limit="), 0u);
}

// A watch that reports 404 in-stream (an ERROR event) is the same absence.
TEST_F(ReflectorTest, NotFoundErrorEventOfACustomResourceRemovesItsObjects) {
  server_.upsert(kCnps, "", "one", cnpJson("one"));
  start(absentOptions(), config(), cnpResource());
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1 && server_.activeWatches() == 1; }));
  server_.rawEvent(kCnps,
                   "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                   "\"metadata\":{},\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404}}");
  ASSERT_TRUE(eventually([&] { return rec_.logged("REMOVED /one"); }));
  // Still served after all: the next look lists it again.
  ASSERT_TRUE(eventually([&] { return rec_.count() == 1 && reflector_->stats().lists == 2; }));
  EXPECT_EQ(reflector_->stats().errors, 0u);
}

// For a built-in resource a 404 is a broken server or URL, never absence.
TEST_F(ReflectorTest, NotFoundIsAnErrorForBuiltInResources) {
  addPod("p0", "a");
  server_.unserve(kPods);
  start(absentOptions());
  ASSERT_TRUE(eventually([&] { return reflector_->stats().errors >= 3; }));
  EXPECT_EQ(rec_.syncs(), 0);
  EXPECT_FALSE(reflector_->stats().synced);
  EXPECT_EQ(reflector_->stats().not_served, 0u);
  EXPECT_TRUE(reflector_->stats().served);
}

// 403 is RBAC refusing, for a custom resource too: an error, never synced.
TEST_F(ReflectorTest, ForbiddenCustomResourceIsAnError) {
  server_.failNext(kCnps, 403, "", 1000);
  start(absentOptions(), config(), cnpResource());
  ASSERT_TRUE(eventually([&] { return reflector_->stats().forbidden >= 3; }));
  EXPECT_EQ(rec_.syncs(), 0);
  EXPECT_FALSE(reflector_->stats().synced);
  EXPECT_GE(reflector_->stats().errors, reflector_->stats().forbidden.load());
  EXPECT_EQ(reflector_->stats().not_served, 0u);
}

TEST_F(ReflectorTest, StopsPromptlyDuringBackoff) {
  server_.failNext(kPods, 503, "", 100);
  auto o = fastOptions();
  o.backoff_initial = 30s;
  start(o);
  ASSERT_TRUE(eventually([&] { return reflector_->stats().errors >= 1; }));
  auto t0 = std::chrono::steady_clock::now();
  reflector_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

}  // namespace
}  // namespace palisade::agent::k8s
