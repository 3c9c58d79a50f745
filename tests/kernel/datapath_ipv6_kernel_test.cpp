// The datapath with IPv6-only pods, inside namespaces the test creates, wired
// the way the lab and common CNIs wire them: each pod has one global /128 and a
// default route via the node's link-local fe80::1, so every pod ↔ node
// neighbour discovery exchange crosses the node's base chains. Real TCP and
// crafted ICMPv6 between pods.
#include <gtest/gtest.h>
#include <netinet/icmp6.h>
#include <netinet/ip6.h>

#include <cstring>
#include <regex>

#include "datapath/nft/programmer.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"

namespace palisade::datapath::nft {
namespace {

using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::shell;
using testing::RulesetBuilder;

enum class Conn6 { Ok, Timeout, Refused, Other };

sockaddr_in6 addr6(const std::string& ip, uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  inet_pton(AF_INET6, ip.c_str(), &a.sin6_addr);
  return a;
}

Fd socket6(const std::string& ns, int type, int proto = 0) {
  return inNetns(ns, [&] { return Fd(socket(AF_INET6, type | SOCK_CLOEXEC, proto)); });
}

Fd tcpListen6(const std::string& ns, uint16_t port) {
  Fd s = socket6(ns, SOCK_STREAM);
  int one = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 a = addr6("::", port);
  bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(s.get(), 64);
  return s;
}

Conn6 tcpConnect6(const std::string& ns, const std::string& dst, uint16_t port, int timeout_ms) {
  Fd s = socket6(ns, SOCK_STREAM | SOCK_NONBLOCK);
  sockaddr_in6 a = addr6(dst, port);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    return Conn6::Other;
  pollfd p{s.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return Conn6::Timeout;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == ECONNREFUSED) return Conn6::Refused;
  return err == 0 ? Conn6::Ok : Conn6::Other;
}

/// Pod i (1-based) is fd00:<i>::2/128 behind veth vp<i>; the node answers as
/// fe80::1 on every veth and owns fd00:ff::1 on lo.
struct Topology6 {
  palisade::testing::NetnsGuard guard;
  std::string node;
  std::vector<std::string> pods;
  std::vector<std::string> pod_ip;
  static constexpr const char* kNodeAddress = "fd00:ff::1";

  explicit Topology6(int n_pods) {
    node = guard.add("v6node");
    // No duplicate-address detection: addresses are usable at once, and the
    // only neighbour discovery left is the resolution the test is about.
    const std::string nodad =
        " sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0";
    shell("ip netns exec " + node + nodad + " net.ipv6.conf.all.forwarding=1");
    shell("ip -n " + node + " addr add " + kNodeAddress + "/128 dev lo");
    for (int i = 1; i <= n_pods; ++i) {
      std::string ns = guard.add("v6pod" + std::to_string(i));
      shell("ip netns exec " + ns + nodad);
      std::string ip = "fd00:" + std::to_string(i) + "::2";
      std::string veth = "vp" + std::to_string(i);
      shell("ip link add " + veth + " netns " + node + " type veth peer name eth0 netns " + ns);
      shell("ip -n " + node + " addr add fe80::1/64 dev " + veth + " nodad");
      shell("ip -n " + node + " link set " + veth + " up");
      shell("ip -n " + node + " route add " + ip + "/128 dev " + veth + " src " + kNodeAddress);
      shell("ip -n " + ns + " addr add " + ip + "/128 dev eth0 nodad");
      shell("ip -n " + ns + " link set eth0 up");
      shell("ip -n " + ns + " route add default via fe80::1 dev eth0");
      pods.push_back(ns);
      pod_ip.push_back(ip);
    }
  }

  /// Forgets every resolved neighbour, so the next packet needs discovery again.
  void flushNeighbours() const {
    shell("ip -n " + node + " -6 neigh flush all");
    for (const auto& p : pods) shell("ip -n " + p + " -6 neigh flush all");
  }
};

/// pods: 1 = a (client), 2 = b (isolated both ways: ingress from a on TCP/80,
/// egress nothing), 3 = c (not isolated).
RulesetBuilder scenario(const Topology6& t) {
  RulesetBuilder b;
  uint32_t peers_a = b.peerSet({t.pod_ip[0]}, "pods {app=a}");
  uint32_t http = b.portSet({{ir::TCP, 80, 80}});
  uint32_t b_in = b.program(ir::INGRESS, {{peers_a, http, "ns/allow-a", 0}}, {"ns/allow-a"});
  uint32_t b_eg = b.program(ir::EGRESS, {}, {"ns/deny-egress"});
  b.endpoint("ns", "a", t.pod_ip[0], 0, 0);
  b.endpoint("ns", "b", t.pod_ip[1], b_in, b_eg);
  b.endpoint("ns", "c", t.pod_ip[2], 0, 0);
  b.nodeAddress(Topology6::kNodeAddress);
  return b;
}

class DatapathIpv6 : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = palisade::testing::kernelTestsUnavailable();
    if (!why.empty()) GTEST_SKIP() << why;
    topo_ = std::make_unique<Topology6>(3);
    auto transport = inNetns(topo_->node, [] { return openMnlTransport(); });
    ASSERT_TRUE(transport.ok()) << transport.error().str();
    prog_ = std::make_unique<Programmer>(std::move(*transport), ProgrammerOptions{});
    auto r = prog_->sync(scenario(*topo_).rs);
    ASSERT_TRUE(r.ok()) << r.error().str();
    topo_->flushNeighbours();
  }

  uint64_t dropsIn(const std::string& prefix) {
    auto counters = prog_->counters();
    EXPECT_TRUE(counters.ok()) << counters.error().str();
    uint64_t n = 0;
    if (counters.ok())
      for (const auto& [chain, c] : *counters)
        if (chain.rfind(prefix, 0) == 0) n += c.packets;
    return n;
  }

  std::unique_ptr<Topology6> topo_;
  std::unique_ptr<Programmer> prog_;
};

TEST_F(DatapathIpv6, IsolatedPodsResolveNeighboursAndPolicyHolds) {
  Topology6& t = *topo_;
  Fd l80 = tcpListen6(t.pods[1], 80), l81 = tcpListen6(t.pods[1], 81);
  Fd lc = tcpListen6(t.pods[2], 80);
  // From cold neighbour caches: the node must resolve b and b the node,
  // although b is isolated in both directions.
  EXPECT_EQ(tcpConnect6(t.pods[0], t.pod_ip[1], 80, 2000), Conn6::Ok);
  EXPECT_EQ(tcpConnect6(t.pods[0], t.pod_ip[1], 81, 300), Conn6::Timeout);  // port
  EXPECT_EQ(tcpConnect6(t.pods[2], t.pod_ip[1], 80, 300), Conn6::Timeout);  // peer
  EXPECT_EQ(tcpConnect6(t.pods[1], t.pod_ip[2], 80, 300), Conn6::Timeout);  // b's egress
  EXPECT_EQ(tcpConnect6(t.pods[0], t.pod_ip[2], 80, 2000), Conn6::Ok);      // c not isolated
  EXPECT_GE(dropsIn("ingress_"), 2u);
  EXPECT_GE(dropsIn("egress_"), 1u);
  // Discovery completed on both sides of b's link.
  EXPECT_NE(shell("ip -n " + t.node + " -6 neigh show dev vp2").find("lladdr"), std::string::npos);
  EXPECT_NE(shell("ip -n " + t.pods[1] + " -6 neigh show").find("fe80::1 dev eth0 lladdr"),
            std::string::npos);
}

// Documents the cause the neighbour discovery rule fixes: without it, the
// node's solicitations and advertisements (sent from fe80::1, which is no node
// address the ruleset knows) hit b's ingress program, and b's own
// solicitations its egress program, so b is cut off although a is allowed.
TEST_F(DatapathIpv6, WithoutTheNeighbourDiscoveryRuleAnIsolatedPodIsCutOff) {
  Topology6& t = *topo_;
  for (const char* chain : {"postrouting", "input"}) {
    std::string list =
        shell("ip netns exec " + t.node + " nft -a list chain inet palisade " + chain);
    std::smatch m;
    ASSERT_TRUE(
        std::regex_search(list, m, std::regex("icmpv6 type 133-137 accept # handle (\\d+)")))
        << list;
    shell("ip netns exec " + t.node + " nft delete rule inet palisade " + chain + " handle " +
          m[1].str());
  }
  Fd l80 = tcpListen6(t.pods[1], 80);
  EXPECT_EQ(tcpConnect6(t.pods[0], t.pod_ip[1], 80, 1500), Conn6::Timeout);
}

/// A neighbour solicitation from `from_ns` sent as an ordinary unicast packet to
/// `to_ip` with hop limit 255, carrying `marker` as its target; true when a raw
/// socket in `to_ns` sees it arrive.
bool forwardedSolicitationArrives(const std::string& from_ns, const std::string& to_ns,
                                  const std::string& to_ip, const std::string& marker) {
  Fd rx = socket6(to_ns, SOCK_RAW, IPPROTO_ICMPV6);
  Fd tx = socket6(from_ns, SOCK_RAW, IPPROTO_ICMPV6);
  int hops = 255;
  setsockopt(tx.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops);
  nd_neighbor_solicit ns{};
  ns.nd_ns_type = ND_NEIGHBOR_SOLICIT;
  inet_pton(AF_INET6, marker.c_str(), &ns.nd_ns_target);
  sockaddr_in6 dst = addr6(to_ip, 0);
  sendto(tx.get(), &ns, sizeof ns, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  in6_addr want{};
  inet_pton(AF_INET6, marker.c_str(), &want);
  // The receiver also sees the node's own discovery traffic: match the marker.
  while (palisade::testing::readable(rx.get(), 500)) {
    nd_neighbor_solicit got{};
    if (recv(rx.get(), &got, sizeof got, 0) == static_cast<ssize_t>(sizeof got) &&
        got.nd_ns_type == ND_NEIGHBOR_SOLICIT &&
        std::memcmp(&got.nd_ns_target, &want, sizeof want) == 0)
      return true;
  }
  return false;
}

// The rule accepts discovery only with hop limit 255, i.e. from the link
// itself: a pod cannot use discovery messages to reach another pod past policy.
TEST_F(DatapathIpv6, ForwardedDiscoveryMessagesAreJudgedByPolicy) {
  Topology6& t = *topo_;
  // Control: to c (not isolated) the forwarded message arrives.
  EXPECT_TRUE(forwardedSolicitationArrives(t.pods[0], t.pods[2], t.pod_ip[2], "fd00:dead::1"));
  // To b: a is an allowed peer on TCP/80 only, c not at all.
  EXPECT_FALSE(forwardedSolicitationArrives(t.pods[0], t.pods[1], t.pod_ip[1], "fd00:dead::2"));
  EXPECT_FALSE(forwardedSolicitationArrives(t.pods[2], t.pods[1], t.pod_ip[1], "fd00:dead::3"));
}

}  // namespace
}  // namespace palisade::datapath::nft
