// The agent's Decider on crafted packets: the evaluator's verdicts with
// reasons, pending pods held until the ruleset knows them, and the swap.
#include "agent/queue/ruleset_decider.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "agent/queue/queue_kernel.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"
#include "tests/agent/daemon/fake_kernel.h"
#include "tests/datapath/ruleset_builder.h"

namespace palisade::agent::queue {
namespace {

using datapath::queue::Explain;
using datapath::queue::QueuedPacket;
using datapath::queue::Verdict;
using palisade::datapath::testing::ip4;
using palisade::datapath::testing::RulesetBuilder;

QueuedPacket packet(const std::string& src, const std::string& dst, uint8_t proto, uint16_t dport) {
  QueuedPacket q;
  auto& p = q.packet;
  bool v6 = src.find(':') != std::string::npos;
  p.src.family = p.dst.family = v6 ? 6 : 4;
  inet_pton(v6 ? AF_INET6 : AF_INET, src.c_str(), p.src.bytes);
  inet_pton(v6 ? AF_INET6 : AF_INET, dst.c_str(), p.dst.bytes);
  p.protocol = proto;
  p.has_ports = proto != IPPROTO_ICMP;
  p.src_port = 40000;
  p.dst_port = dport;
  return q;
}

/// a (10.8.0.2) not isolated; b (10.8.0.3) isolated for ingress: TCP 80 from a only.
/// Node 10.8.0.1, pod CIDR 10.8.0.0/24.
ir::Ruleset ruleset(bool with_c = false) {
  RulesetBuilder b;
  uint32_t peers = b.peerSet({"10.8.0.2"}, "pods {app=a}");
  uint32_t ports = b.portSet({{ir::TCP, 80, 80}});
  uint32_t in = b.program(ir::INGRESS, {{peers, ports, "ns/allow-a", 0}}, {"ns/allow-a"});
  b.endpoint("ns", "a", "10.8.0.2", 0, 0);
  b.endpoint("ns", "b", "10.8.0.3", in, 0);
  if (with_c) b.endpoint("ns", "c", "10.8.0.9", 0, 0);
  b.nodeAddress("10.8.0.1");
  auto* c = b.rs.mutable_node()->add_pod_cidrs_v4();
  c->set_address(ip4("10.8.0.0"));
  c->set_prefix_len(24);
  b.rs.set_revision(with_c ? 2 : 1);
  return b.rs;
}

TEST(QueueRulesetDecider, VerdictsAndReasonsFromTheRuleset) {
  RulesetDecider d;
  ASSERT_TRUE(d.update(ruleset()));
  auto ok = d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_TCP, 80), Explain::Yes);
  EXPECT_EQ(ok.verdict, Verdict::Accept) << ok.reason;
  EXPECT_NE(ok.reason.find("ns/allow-a"), std::string::npos) << ok.reason;
  auto port = d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_TCP, 81), Explain::Yes);
  EXPECT_EQ(port.verdict, Verdict::Drop) << port.reason;
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_UDP, 80), Explain::No).verdict,
            Verdict::Drop);
  EXPECT_EQ(d.decide(packet("192.0.2.7", "10.8.0.3", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Drop);
  // Node traffic is always allowed; a's traffic to the outside is not isolated.
  EXPECT_EQ(d.decide(packet("10.8.0.1", "10.8.0.3", IPPROTO_TCP, 22), Explain::No).verdict,
            Verdict::Accept);
  EXPECT_EQ(d.decide(packet("10.8.0.2", "192.0.2.7", IPPROTO_UDP, 53), Explain::No).verdict,
            Verdict::Accept);
  // ICMP matches only rules without ports, as in the kernel: b's rule has ports.
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_ICMP, 0), Explain::No).verdict,
            Verdict::Drop);
}

TEST(QueueRulesetDecider, PendingPodHeldUntilKnown) {
  RulesetDecider d;
  ASSERT_TRUE(d.update(ruleset()));
  auto to = d.decide(packet("10.8.0.2", "10.8.0.9", IPPROTO_TCP, 80), Explain::Yes);
  EXPECT_EQ(to.verdict, Verdict::Hold);
  EXPECT_NE(to.reason.find("pending pod 10.8.0.9"), std::string::npos) << to.reason;
  EXPECT_EQ(d.decide(packet("10.8.0.9", "10.8.0.3", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Hold);
  // Outside the pod CIDR an unknown address is just an external peer.
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.9.0.9", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Accept);
  ASSERT_TRUE(d.update(ruleset(true)));
  EXPECT_EQ(d.revision(), 2u);
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.8.0.9", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Accept);
  // Known now, and judged by b's policy: c is not among b's allowed peers.
  EXPECT_EQ(d.decide(packet("10.8.0.9", "10.8.0.3", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Drop);
}

TEST(QueueRulesetDecider, InvalidRulesetRefusedThePreviousKeepsDeciding) {
  RulesetDecider d;
  ASSERT_TRUE(d.update(ruleset()));
  // Revision 2 with a peer prefix past 32 bits (a corrupt checkpoint): refused.
  ir::Ruleset bad = ruleset(true);
  bad.mutable_peer_sets(0)->mutable_v4(0)->set_prefix_len(33);
  Status s = d.update(bad);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("ruleset revision 2"), std::string::npos)
      << s.error().message();
  EXPECT_NE(s.error().message().find("10.8.0.2/33"), std::string::npos) << s.error().message();
  EXPECT_EQ(d.revision(), 1u);
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Accept);
  // So is a node pod CIDR past 32 bits.
  ir::Ruleset bad_cidr = ruleset(true);
  bad_cidr.mutable_node()->mutable_pod_cidrs_v4(0)->set_prefix_len(40);
  s = d.update(bad_cidr);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("pod_cidrs_v4[0]: invalid CIDR 10.8.0.0/40"),
            std::string::npos)
      << s.error().message();
  EXPECT_EQ(d.revision(), 1u);
}

TEST(QueueRulesetDecider, EmptyBeforeTheFirstRevisionAndIpv6) {
  RulesetDecider d;
  EXPECT_EQ(d.revision(), 0u);
  // No pod CIDRs known yet: nothing is pending, nothing is isolated.
  EXPECT_EQ(d.decide(packet("10.8.0.2", "10.8.0.3", IPPROTO_TCP, 80), Explain::No).verdict,
            Verdict::Accept);
  datapath::queue::Address a;
  a.family = 6;
  inet_pton(AF_INET6, "fd00::1:2", a.bytes);
  EXPECT_EQ(toIpAddress(a).toString(), "fd00::1:2");
}

TEST(QueueRulesetDecider, QueueKernelSwapsOnlyAcceptedRevisions) {
  auto log = std::make_shared<testing::FakeKernelLog>();
  RulesetDecider d;
  QueueKernel k(std::make_unique<testing::FakeKernel>(log),
                [&](const ir::Ruleset& rs, const std::shared_ptr<const ServiceTable>&) {
                  EXPECT_TRUE(d.update(rs));
                });
  ASSERT_TRUE(k.sync(ruleset()).ok());
  EXPECT_EQ(d.revision(), 1u);
  log->fail_next = 1;
  EXPECT_FALSE(k.sync(ruleset(true)).ok());
  EXPECT_EQ(d.revision(), 1u);  // the kernel refused revision 2: the queue keeps 1
  ASSERT_TRUE(k.adopt(ruleset(true)).ok());
  EXPECT_EQ(d.revision(), 2u);
}

TEST(QueueRulesetDecider, QueueKernelProgramsStagedServicesBeforeTheDeciderSeesThem) {
  auto log = std::make_shared<testing::FakeKernelLog>();
  std::vector<std::shared_ptr<const ServiceTable>> seen;
  datapath::nft::QueueRules rules;
  rules.untranslated_services = true;
  QueueKernel k(
      std::make_unique<testing::FakeKernel>(log),
      [&](const ir::Ruleset&, std::shared_ptr<const ServiceTable> t) {
        if (t) seen.push_back(std::move(t));
      },
      rules);
  auto empty = std::make_shared<const ServiceTable>();
  k.stageServices(empty);
  ASSERT_TRUE(k.sync(ruleset()).ok());
  EXPECT_TRUE(log->queue_rules.empty());  // no Service address: the rules stay as opened
  ASSERT_EQ(seen.size(), 1u);

  // A table with one ClusterIP: the kernel's rules get it with the batch, and
  // a refused batch keeps the decider on the previous table.
  auto set = policy::readManifestText(R"(
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns}
spec: {clusterIP: 10.96.0.20, selector: {app: web}, ports: [{port: 80}]}
)",
                                      "svc.yaml", policy::ManifestFormat::Auto);
  ASSERT_TRUE(set.errors.empty());
  auto state = policy::ClusterState::fromManifests(set);
  auto web = std::make_shared<const ServiceTable>(ServiceTable::build(state, "node-a"));
  k.stageServices(web);
  log->fail_next = 1;
  EXPECT_FALSE(k.sync(ruleset(true)).ok());
  ASSERT_EQ(log->queue_rules.size(), 1u);
  EXPECT_EQ(log->queue_rules[0].services.vips_v4, (std::vector<uint32_t>{ip4("10.96.0.20")}));
  EXPECT_EQ(seen.size(), 1u);
  ASSERT_TRUE(k.sync(ruleset(true)).ok());
  EXPECT_EQ(log->queue_rules.size(), 1u);  // unchanged addresses are not set again
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], web);
}

}  // namespace
}  // namespace palisade::agent::queue
