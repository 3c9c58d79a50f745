// The datapath against the real kernel, inside namespaces the test creates:
// a node namespace routing between pod namespaces, the ruleset programmed in
// the node namespace, real TCP and UDP between pods.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "datapath/nft/probe.h"
#include "datapath/nft/programmer.h"
#include "datapath/nft/readback.h"
#include "datapath/nft/text.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/programmer_support.h"

namespace palisade::datapath::nft {
namespace {

using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::programmerIn;
using palisade::testing::shell;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
using palisade::testing::udpExchange;
using testing::RulesetBuilder;

#define SKIP_WITHOUT_KERNEL()                                      \
  do {                                                             \
    std::string why = palisade::testing::kernelTestsUnavailable(); \
    if (!why.empty()) GTEST_SKIP() << why;                         \
  } while (0)

/// `nft list table inet palisade` with counters and table flags normalized.
std::string listTable(const std::string& ns) {
  std::string out = shell("ip netns exec " + ns + " nft list table inet palisade");
  out = std::regex_replace(out, std::regex("counter packets \\d+ bytes \\d+"), "counter");
  out = std::regex_replace(out, std::regex("\n\tflags [a-z,]+\n"), "\n");
  return out;
}

/// pods: 1 = a (client), 2 = b (server, isolated), 3 = c (not isolated).
struct Scenario {
  RulesetBuilder b;
  uint32_t peers_a;
  uint32_t b_in;
  uint32_t b_eg;
  explicit Scenario(const Topology& t) {
    peers_a = b.peerSet({t.pod_ip[0]}, "pods {app=a}");
    uint32_t ports = b.portSet({{ir::TCP, 80, 80}, {ir::UDP, 53, 53}});
    b_in = b.program(ir::INGRESS, {{peers_a, ports, "ns/allow-a", 0}}, {"ns/allow-a"});
    b_eg = b.program(ir::EGRESS, {}, {"ns/deny-egress"});
    b.endpoint("ns", "a", t.pod_ip[0], 0, 0);
    b.endpoint("ns", "b", t.pod_ip[1], b_in, b_eg);
    b.endpoint("ns", "c", t.pod_ip[2], 0, 0);
    for (const auto& ip : t.node_ip) b.nodeAddress(ip);
  }
};

class DatapathKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = palisade::testing::kernelTestsUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    topo_ = std::make_unique<Topology>(3);
  }
  std::unique_ptr<Topology> topo_;
};

TEST_F(DatapathKernel, AllowedPassDeniedDropRepliesPassCountersCount) {
  Topology& t = *topo_;
  Scenario s(t);
  auto prog = programmerIn(t.node);
  ASSERT_TRUE(prog);
  auto r = prog->sync(s.b.rs);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->kind, SyncReport::Kind::Replace);

  Fd l80 = tcpListen(t.pods[1], 80), l81 = tcpListen(t.pods[1], 81), lc = tcpListen(t.pods[2], 80);
  // a → b:80 allowed; the SYN-ACK passes although b's egress denies everything.
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80), Conn::Ok);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81), Conn::Timeout);  // port not allowed
  EXPECT_EQ(tcpConnect(t.pods[2], t.pod_ip[1], 80), Conn::Timeout);  // peer not allowed
  EXPECT_EQ(tcpConnect(t.pods[1], t.pod_ip[2], 80), Conn::Timeout);  // b's egress denied
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[2], 80), Conn::Ok);       // c not isolated
  // The node itself may always reach its pods.
  EXPECT_EQ(tcpConnect(t.node, t.pod_ip[1], 81), Conn::Ok);
  auto u1 = udpExchange(t.pods[0], t.pods[1], t.pod_ip[1], 53);
  EXPECT_TRUE(u1.request);
  EXPECT_TRUE(u1.reply);
  auto u2 = udpExchange(t.pods[2], t.pods[1], t.pod_ip[1], 53);
  EXPECT_FALSE(u2.request);

  auto counters = prog->counters();
  ASSERT_TRUE(counters.ok()) << counters.error().str();
  uint64_t ingress_drops = 0, egress_drops = 0;
  for (const auto& [chain, c] : *counters) {
    if (chain.rfind("ingress_", 0) == 0) ingress_drops += c.packets;
    if (chain.rfind("egress_", 0) == 0) egress_drops += c.packets;
  }
  EXPECT_GE(ingress_drops, 3u);  // at least one SYN each for :81, c→b, and the UDP datagram
  EXPECT_GE(egress_drops, 1u);
}

TEST_F(DatapathKernel, PolicyChangeAffectsNewConnectionsOnly) {
  Topology& t = *topo_;
  Scenario s(t);
  auto prog = programmerIn(t.node);
  ASSERT_TRUE(prog);
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  Fd l = tcpListen(t.pods[1], 80);
  Fd conn;
  ASSERT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80, 300, &conn), Conn::Ok);
  ASSERT_TRUE(palisade::testing::readable(l.get(), 300));
  Fd accepted(accept(l.get(), nullptr, nullptr));

  // a leaves the allowed peers (a relabel): elements only.
  ir::Ruleset next = s.b.rs;
  next.mutable_peer_sets(s.peers_a - 1)->clear_v4();
  auto r = prog->sync(next);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->elements_only) << r->summary;
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80), Conn::Timeout);
  // The established connection keeps working.
  ASSERT_EQ(write(conn.get(), "hello", 5), 5);
  ASSERT_TRUE(palisade::testing::readable(accepted.get(), 300));
  char buf[8];
  EXPECT_EQ(read(accepted.get(), buf, sizeof buf), 5);

  // And back.
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80), Conn::Ok);
}

TEST_F(DatapathKernel, RandomPodChurnEqualsFreshSync) {
  Topology& t = *topo_;
  Scenario s(t);
  auto prog = programmerIn(t.node);
  ASSERT_TRUE(prog);
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  std::mt19937 rng(7);
  ir::Ruleset rs = s.b.rs;
  for (int step = 0; step < 60; ++step) {
    ir::Ruleset next = rs;
    uint32_t addr = testing::ip4("10.88.0.0") + rng() % 1024;
    switch (rng() % 4) {
      case 0: {  // new pod
        auto* e = next.add_endpoints();
        e->set_namespace_("ns");
        e->set_name("p" + std::to_string(step));
        e->add_ipv4(addr);
        e->set_ingress_program(rng() % 2 ? s.b_in : 0);
        e->set_egress_program(rng() % 2 ? s.b_eg : 0);
        e->set_state(ir::Endpoint::READY);
        break;
      }
      case 1:
        if (next.endpoints_size() > 3) next.mutable_endpoints()->DeleteSubrange(3, 1);
        break;
      case 2: {  // peer joins
        auto* c = next.mutable_peer_sets(0)->add_v4();
        c->set_address(addr & ~1u);
        c->set_prefix_len(31);
        break;
      }
      default:  // peer leaves
        if (next.peer_sets(0).v4_size() > 1)
          next.mutable_peer_sets(0)->mutable_v4()->DeleteSubrange(
              1 + rng() % (next.peer_sets(0).v4_size() - 1), 1);
    }
    auto r = prog->sync(next);
    ASSERT_TRUE(r.ok()) << "step " << step << ": " << r.error().str();
    EXPECT_TRUE(r->elements_only);
    rs = next;
  }
  // The kernel, read back, equals a fresh render...
  uint32_t seq = 1;
  auto back = inNetns(t.node, [&] {
    auto tr = openMnlTransport();
    return readTable(**tr, "palisade", seq);
  });
  ASSERT_TRUE(back.ok()) << back.error().str();
  auto fresh = render(rs);
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(back->table);
  Delta d = diff(*back->table, *fresh);
  EXPECT_TRUE(d.empty()) << d.summary();
  // ...and lists exactly like a fresh full sync in another namespace.
  std::string other = t.guard.add("fresh");
  auto prog2 = programmerIn(other);
  ASSERT_TRUE(prog2->sync(rs).ok());
  EXPECT_EQ(listTable(t.node), listTable(other));
}

TEST_F(DatapathKernel, AdoptAfterRestartConvergesWithOneBatchWithoutFlush) {
  Topology& t = *topo_;
  Scenario s(t);
  auto features = probeFeatures();
  ASSERT_TRUE(features.ok());
  ProgrammerOptions o;
  o.table_flags = features->tableFlags();
  {
    auto first = programmerIn(t.node, o);
    ASSERT_TRUE(first->sync(s.b.rs).ok());
  }  // "restart": the first process's socket is gone
  Fd l = tcpListen(t.pods[1], 81);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81), Conn::Timeout);  // still enforced
  auto counter_before = programmerIn(t.node)->counters();
  ASSERT_TRUE(counter_before.ok());

  {
    auto second = programmerIn(t.node, o);
    // Unchanged ruleset: nothing but (maybe) reclaiming the table's ownership.
    auto same = second->adopt(s.b.rs);
    ASSERT_TRUE(same.ok()) << same.error().str();
    EXPECT_LE(same->messages, 1u) << same->summary;
  }  // restart again
  // A pod change after restart: one delta batch, elements only.
  ir::Ruleset next = s.b.rs;
  next.mutable_endpoints()->DeleteSubrange(2, 1);
  auto third = programmerIn(t.node, o);
  auto r = third->adopt(next);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->kind, SyncReport::Kind::Delta);
  EXPECT_EQ(r->readback_attempts, 1);
  // Not a flush: the deny counters survived.
  auto counter_after = third->counters();
  ASSERT_TRUE(counter_after.ok());
  EXPECT_EQ(*counter_before, *counter_after);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 81), Conn::Timeout);
  Fd l80 = tcpListen(t.pods[1], 80);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80), Conn::Ok);
  ASSERT_TRUE(third->deleteTable().ok());
  int rc = 0;
  shell("ip netns exec " + t.node + " nft list table inet palisade", &rc);
  EXPECT_NE(rc, 0);  // gone
}

TEST_F(DatapathKernel, NftListMatchesTextRendering) {
  Topology& t = *topo_;
  Scenario s(t);
  auto prog = programmerIn(t.node);
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  auto model = render(s.b.rs);
  ASSERT_TRUE(model.ok());
  std::string path = "/tmp/" + palisade::testing::prefix() + "ruleset.nft";
  std::ofstream(path) << renderText(*model);
  std::string other = t.guard.add("text");
  int rc = 0;
  std::string out = shell("ip netns exec " + other + " nft -f " + path, &rc);
  std::remove(path.c_str());
  ASSERT_EQ(rc, 0) << out;
  std::string a = listTable(t.node), b = listTable(other);
  EXPECT_NE(a.find("chain postrouting"), std::string::npos) << a;
  EXPECT_EQ(a, b);
}

TEST_F(DatapathKernel, RejectSendsResets) {
  Topology& t = *topo_;
  Scenario s(t);
  ProgrammerOptions o;
  o.deny = DenyAction::Reject;
  auto prog = programmerIn(t.node, o);
  auto r = prog->sync(s.b.rs);
  ASSERT_TRUE(r.ok()) << r.error().str();
  Fd l = tcpListen(t.pods[1], 80);
  EXPECT_EQ(tcpConnect(t.pods[0], t.pod_ip[1], 80), Conn::Ok);
  EXPECT_EQ(tcpConnect(t.pods[2], t.pod_ip[1], 80, 1000), Conn::Refused);  // RST, no timeout
}

TEST_F(DatapathKernel, KernelErrorNamesTheIrObject) {
  Topology& t = *topo_;
  Scenario s(t);
  auto prog = programmerIn(t.node);
  ASSERT_TRUE(prog->sync(s.b.rs).ok());
  // Two different peer sets claiming the same name cannot happen through
  // render; a program jumping to a chain that does not exist can be forced by
  // editing the programmer's view of the kernel: the map update then names the pod.
  TableModel stale = *prog->current();
  ir::Ruleset next = s.b.rs;
  next.mutable_endpoints(2)->set_ingress_program(s.b_in);  // c becomes isolated
  auto model = render(next);
  ASSERT_TRUE(model.ok());
  Delta d = diff(stale, *model);
  ASSERT_EQ(d.elements.size(), 1u);
  d.elements[0].add_jumps[0].second.chain = "ingress_missing";
  Batch b = buildDelta(d, {500});
  auto acks = prog->transport().sendBatch({b.data(), b.size()});
  ASSERT_TRUE(acks.ok());
  bool named = false;
  for (const auto& a : *acks)
    if (a.error != 0) named |= b.describe(a.seq).find("pod ns/c") != std::string::npos;
  EXPECT_TRUE(named);
  // The failed batch left everything in force.
  Fd l = tcpListen(t.pods[2], 80);
  EXPECT_EQ(tcpConnect(t.pods[1], t.pod_ip[2], 80), Conn::Timeout);
}

TEST(DatapathProbes, WithoutCapNetAdminTheErrorSaysSo) {
  SKIP_WITHOUT_KERNEL();
  // Capabilities are per thread: this one drops CAP_NET_ADMIN (the probe's own
  // thread inherits that), the rest of the test binary keeps it.
  std::string message;
  int code = 0;
  std::thread([&] {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    ASSERT_EQ(syscall(SYS_capget, &hdr, data), 0);
    const uint32_t bit = 1u << (CAP_NET_ADMIN % 32);
    data[CAP_NET_ADMIN / 32].effective &= ~bit;
    data[CAP_NET_ADMIN / 32].permitted &= ~bit;
    ASSERT_EQ(syscall(SYS_capset, &hdr, data), 0);
    auto f = probeFeatures();
    if (f) return;
    code = f.error().code();
    message = f.error().str();
  }).join();
  EXPECT_EQ(code, EPERM) << message;
  EXPECT_NE(message.find("CAP_NET_ADMIN"), std::string::npos) << message;
}

TEST(DatapathProbes, ProbesRunInAThrowawayNamespace) {
  SKIP_WITHOUT_KERNEL();
  auto f = probeFeatures();
  ASSERT_TRUE(f.ok()) << f.error().str();
  std::cout << "probes: " << f->summary() << "\n";
  EXPECT_EQ(f->where, "a throwaway netns");
  EXPECT_TRUE(f->concat_intervals);
  EXPECT_TRUE(f->native_queue || f->compat_nfqueue);
}

}  // namespace
}  // namespace palisade::datapath::nft
