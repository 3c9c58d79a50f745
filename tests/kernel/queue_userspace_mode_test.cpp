// User-space mode (--userspace-mode=all) on the real kernel: every new
// connection of local pods is decided by the agent's RulesetDecider through
// the queue. The probe matrix must be the one the static ruleset gives.
#include <gtest/gtest.h>

#include <map>

#include "agent/queue/queue_service.h"
#include "datapath/nft/programmer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"
#include "tests/kernel/queue_support.h"

namespace palisade::agent::queue {
namespace {

using palisade::datapath::testing::RulesetBuilder;
using palisade::testing::Conn;
using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::tcpConnect;
using palisade::testing::tcpListen;
using palisade::testing::Topology;
using palisade::testing::udpExchange;
namespace nft = palisade::datapath::nft;

/// a: egress only to c; b: ingress TCP 80 / UDP 53 from a; c: not isolated.
ir::Ruleset scenario(const Topology& t) {
  RulesetBuilder b;
  uint32_t from_a = b.peerSet({t.pod_ip[0]}, "pods {app=a}");
  uint32_t to_c = b.peerSet({t.pod_ip[2]}, "pods {app=c}");
  uint32_t ports = b.portSet({{ir::TCP, 80, 80}, {ir::UDP, 53, 53}});
  uint32_t b_in = b.program(ir::INGRESS, {{from_a, ports, "ns/allow-a", 0}}, {"ns/allow-a"});
  uint32_t a_eg = b.program(ir::EGRESS, {{to_c, 0, "ns/a-to-c", 0}}, {"ns/a-to-c"});
  b.endpoint("ns", "a", t.pod_ip[0], 0, a_eg);
  b.endpoint("ns", "b", t.pod_ip[1], b_in, 0);
  b.endpoint("ns", "c", t.pod_ip[2], 0, 0);
  for (const auto& ip : t.node_ip) b.nodeAddress(ip);
  b.rs.set_revision(1);
  return b.rs;
}

/// "a->b tcp/80" → reached (TCP handshake, or UDP request and reply).
std::map<std::string, bool> matrix(const Topology& t) {
  std::map<std::string, bool> m;
  const char* names[] = {"a", "b", "c"};
  std::vector<Fd> listeners;
  for (int j = 0; j < 3; ++j)
    for (uint16_t port : {80, 81}) listeners.push_back(tcpListen(t.pods[j], port));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      if (i == j) continue;
      std::string pair = std::string(names[i]) + "->" + names[j];
      for (uint16_t port : {80, 81})
        m[pair + " tcp/" + std::to_string(port)] =
            tcpConnect(t.pods[i], t.pod_ip[j], port, 400) == Conn::Ok;
      auto u = udpExchange(t.pods[i], t.pods[j], t.pod_ip[j], 53, 400);
      m[pair + " udp/53"] = u.request && u.reply;
    }
  return m;
}

TEST(QueueUserspaceMode, SameMatrixAsTheStaticRuleset) {
  bool native = false;
  SKIP_WITHOUT_QUEUE(native);
  Topology t(3);
  ir::Ruleset rs = scenario(t);

  auto transport = inNetns(t.node, [] { return nft::openMnlTransport(); });
  ASSERT_TRUE(transport.ok());
  nft::Programmer plain(std::move(*transport), {});
  ASSERT_TRUE(plain.sync(rs).ok());
  auto want = matrix(t);
  int allowed = 0;
  for (const auto& [k, v] : want) allowed += v;
  EXPECT_GT(allowed, 0);
  EXPECT_LT(allowed, int(want.size()));  // the scenario denies some and allows some

  QueueServiceOptions o;
  o.count = 2;  // two queues, the rule spreads packets by CPU (fanout)
  auto service = inNetns(t.node, [&] { return QueueService::start(o); });
  ASSERT_TRUE(service.ok()) << service.error().str();
  nft::ProgrammerOptions po;
  po.queue.all_local_pods = true;
  po.queue.pending_pods = true;
  po.queue.target = queueTarget(o, native);
  auto t2 = inNetns(t.node, [] { return nft::openMnlTransport(); });
  ASSERT_TRUE(t2.ok());
  nft::Programmer queued(std::move(*t2), po);
  ASSERT_TRUE(queued.replace(rs).ok());
  (*service)->programmed(rs);
  auto got = matrix(t);
  EXPECT_EQ(got, want);
  auto c = (*service)->counters();
  EXPECT_GE(c.received, want.size());  // every probe's first packet went through the queue
  EXPECT_GT(c.dropped, 0u);
  EXPECT_GT(c.accepted, 0u);
  EXPECT_EQ(c.held, 0u);
  EXPECT_EQ(po.queue.target.count, 2);
}

}  // namespace
}  // namespace palisade::agent::queue
