// API faults in a row, each followed by a policy change that must reach the
// kernel within 3 s of the API answering again, however many faults came
// before: the sequence an end-to-end run found recovery degrading on (palisade
// issue 11): dropped watches, compacted history, a malformed event, a paused
// server, and finally a replacement server on the same port whose versions have
// moved on. Runs with LIST+WATCH and with streaming lists.
#include <gtest/gtest.h>

#include <iostream>

#include "agent/daemon/api_source.h"
#include "tests/agent/daemon/fake_kernel.h"
#include "tests/agent/k8s/fake_apiserver.h"
#include "tests/agent/k8s/k8s_objects.h"

namespace palisade::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeApiServer;
using testing::FakeKernel;
using testing::FakeKernelLog;
using SteadyClock = std::chrono::steady_clock;

const std::string kPods = "/api/v1/pods";
const std::string kPolicies = "/apis/networking.k8s.io/v1/networkpolicies";
constexpr auto kConvergence = 3000ms;  // the bound, from the API answering again
constexpr int kPodsInTest = 12;

template <typename P>
bool eventually(P pred, std::chrono::milliseconds limit) {
  auto end = SteadyClock::now() + limit;
  while (SteadyClock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

class ApiFaultSequenceTest : public ::testing::TestWithParam<k8s::StreamingList> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeApiServer>();
    server_->setToken("t");
    server_->setStreamingLists(GetParam() == k8s::StreamingList::On);
    // What a real API server does for watches with allowWatchBookmarks.
    server_->setBookmarkInterval(kBookmarkInterval);
    server_->start();
    port_ = server_->port();
    server_->upsert("/api/v1/nodes", "", "node-1",
                    testing::nodeJson("node-1", "10.1.0.0/24", "192.168.0.10"));
    server_->upsert("/api/v1/namespaces", "", "web", testing::namespaceJson("web"));
    // One pod per step; step i's policy isolates pod a<i> alone.
    for (int i = 0; i < kPodsInTest; ++i) {
      testing::PodSpec p;
      p.ns = "web";
      p.name = "a" + std::to_string(i);
      p.ip = "10.1.0." + std::to_string(10 + i);
      p.labels = {{"app", "s" + std::to_string(i)}};
      server_->upsert(kPods, "web", p.name, testing::podJson(p));
    }
    ReconcilerOptions o;
    o.node = "node-1";
    for (const auto& w : watchedResources("node-1")) o.required_resources.insert(w.resource.name);
    rec_ = std::make_unique<Reconciler>(o, std::make_unique<FakeKernel>(log_), metrics_);
    rec_->start();
    k8s::ClusterConfig c;
    c.host = "127.0.0.1";
    c.port = std::to_string(port_);
    c.ca_pem = testing::TestPki::get().ca_pem;
    c.token = "t";
    // Backoff short enough for a quick test, long enough that a backoff carried
    // over from earlier faults (it doubles per fault) breaks the 3 s bound.
    k8s::ReflectorOptions ro;
    ro.backoff_initial = 100ms;
    ro.backoff_max = 10s;
    ro.bookmark_interval = kBookmarkInterval;
    ro.streaming = GetParam();
    api_ = std::make_unique<ApiSource>(c, "node-1", *rec_, metrics_, ro);
    api_->start();
    ASSERT_TRUE(eventually([&] { return rec_->ready(); }, 5s));
    ASSERT_TRUE(settled());
  }
  void TearDown() override {
    api_->stop();
    rec_->stop();
    server_->stop();
  }

  bool isolated(int pod) {
    auto rs = log_->lastRuleset();
    auto* e = log_->endpoint(rs, "web", "a" + std::to_string(pod));
    return e != nullptr && e->ingress_program() != 0;
  }
  std::string policy(int step) {
    return testing::policyJson("web", "p" + std::to_string(step),
                               {{"app", "s" + std::to_string(step)}});
  }
  /// Every reflector watching again and past a bookmark on that watch, so the
  /// next fault hits a steady agent (faults closer together than that are one
  /// long outage, and backing off through it is right).
  bool settled() {
    std::vector<uint64_t> bookmarks;
    for (const auto& r : api_->reflectors()) bookmarks.push_back(r->stats().bookmarks);
    return eventually(
        [&] {
          for (size_t i = 0; i < bookmarks.size(); ++i)
            if (api_->reflectors()[i]->stats().bookmarks <= bookmarks[i]) return false;
          return server_->activeWatches() == int(api_->reflectors().size());
        },
        kConvergence);
  }
  /// Waits for step `step`'s policy in the kernel, timed from `answering`.
  void expectEnforced(int step, const std::string& fault, SteadyClock::time_point answering) {
    bool ok = eventually([&] { return isolated(step); }, kConvergence);
    auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - answering);
    std::cout << "[ fault " << step << " ] " << fault << ": enforced after " << took.count()
              << " ms\n";
    EXPECT_TRUE(ok) << "step " << step << " (" << fault << "): policy not enforced within "
                    << kConvergence.count() << " ms of the API answering";
    EXPECT_TRUE(settled()) << "step " << step << " (" << fault << "): not every reflector watches";
  }

  static constexpr auto kBookmarkInterval = 200ms;
  std::unique_ptr<FakeApiServer> server_;
  uint16_t port_ = 0;
  std::shared_ptr<FakeKernelLog> log_ = std::make_shared<FakeKernelLog>();
  Metrics metrics_;
  std::unique_ptr<Reconciler> rec_;
  std::unique_ptr<ApiSource> api_;
};

TEST_P(ApiFaultSequenceTest, ConvergesAfterEveryFaultHoweverManyCameBefore) {
  int step = 0;
  auto policyChange = [&] {
    server_->upsert(kPolicies, "web", "p" + std::to_string(step), policy(step));
  };

  for (int i = 0; i < 3; ++i, ++step) {
    server_->dropConnections();
    policyChange();
    expectEnforced(step, "all watches dropped", SteadyClock::now());
  }
  for (int i = 0; i < 4; ++i, ++step) {
    server_->compact();
    server_->dropConnections();
    policyChange();
    expectEnforced(step, "history compacted, watches dropped", SteadyClock::now());
  }
  {
    auto decode_errors = api_->reflectors()[0]->stats().decode_errors.load();
    for (const auto& r : api_->reflectors())
      if (r->resource().name == "pods") decode_errors = r->stats().decode_errors;
    server_->rawEvent(kPods, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":");
    policyChange();
    expectEnforced(step++, "malformed pod event", SteadyClock::now());
    bool counted = false;
    for (const auto& r : api_->reflectors())
      if (r->resource().name == "pods") counted = r->stats().decode_errors > decode_errors;
    EXPECT_TRUE(counted);
  }
  {
    // Longer than two bookmark intervals: every watch times out and retries
    // into the paused server.
    server_->pause();
    policyChange();
    std::this_thread::sleep_for(1s);
    server_->resume();
    expectEnforced(step++, "API paused 1 s", SteadyClock::now());
  }
  server_->dropConnections();
  policyChange();
  expectEnforced(step++, "all watches dropped", SteadyClock::now());
  {
    // The API server replaced: same objects plus one new policy, versions moved on.
    std::vector<uint64_t> lists;
    for (const auto& r : api_->reflectors()) lists.push_back(r->stats().lists);
    server_->stop();
    std::this_thread::sleep_for(300ms);
    auto fresh = std::make_unique<FakeApiServer>();
    fresh->takeOver(*server_, 1000);
    fresh->upsert(kPolicies, "web", "p" + std::to_string(step), policy(step));
    fresh->start(port_);
    auto answering = SteadyClock::now();
    server_ = std::move(fresh);
    expectEnforced(step++, "API server replaced", answering);
    for (size_t i = 0; i < lists.size(); ++i)
      EXPECT_GT(api_->reflectors()[i]->stats().lists, lists[i])
          << api_->reflectors()[i]->resource().name << " did not relist after the replacement";
  }
  // And the agent is still fully live on the new server.
  policyChange();
  expectEnforced(step++, "policy change after all faults", SteadyClock::now());
  ASSERT_LE(step, kPodsInTest);
}

INSTANTIATE_TEST_SUITE_P(, ApiFaultSequenceTest,
                         ::testing::Values(k8s::StreamingList::Off, k8s::StreamingList::On),
                         [](const auto& info) {
                           return info.param == k8s::StreamingList::On ? "StreamingList"
                                                                       : "ListWatch";
                         });

}  // namespace
}  // namespace palisade::agent
