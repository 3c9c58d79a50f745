// Per-packet cost of the ruleset (issue 3): new TCP connections per second
// between two pod namespaces routed through a node namespace, with the node's
// table holding a 10k-policy ruleset against the same node with no table at
// all, and, to separate conntrack's own cost, with the base chains of an empty
// ruleset (conntrack on, no policy). A Kubernetes node always runs conntrack
// (kube-proxy's NAT chains), so the pair that shows what the ruleset costs on
// a real node is "kube-proxy-like NAT chains" against "the same plus the
// 10k-policy ruleset".
//
//   pod1 (client) ── veth ── node (ip_forward, table inet palisade) ── veth ── pod2 (server)
//
// Root only. The namespaces are pal-t-<pid>-*, created here and removed on exit
// (tests/kernel/netns_fixture.h); nothing outside them is touched.
//
// The ruleset: the synthetic cluster with 10,000 policies and 200 cluster
// policies compiled for every node at once (every policy relevant, as in
// datapath_full_program_bench), plus the two bench pods as endpoints. Each is
// a subject of a copy of the largest Admin program of its direction, less the
// rules that would decide the bench pair (so none does, and every rule is
// walked before the tier passes the packet on), and runs a copy of the
// largest NetworkPolicy program of its direction with one more rule, last,
// allowing the other pod: every new connection walks the base chain, the
// dispatch maps, the longest Admin programs and the longest NetworkPolicy
// programs before it is allowed. Only the SYN is judged; the rest of each
// connection is `ct state established`.
//
// Each connection: connect (blocking), accept, close with SO_LINGER 0 on the
// client (a reset: no TIME_WAIT, so ports never run out however long it runs).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "datapath/nft/programmer.h"
#include "policy/compile/compile.h"
#include "tests/bench/synthetic_cluster.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/netns_fixture.h"

namespace nft = palisade::datapath::nft;
namespace ir = palisade::ir;
using palisade::testing::Fd;

namespace {

constexpr uint16_t kPort = 8080;
// The benchmark's argument: what the node's tables hold (bits).
constexpr int kNoTable = 0;     // nothing: not even conntrack runs in the node
constexpr int kEmptyTable = 1;  // table inet palisade: base chains of an empty ruleset
constexpr int kPolicies = 2;    // table inet palisade: the 10k-policy ruleset
constexpr int kKubeProxy = 4;   // NAT chains as kube-proxy has them (conntrack on, no policy)

/// A stand-in for kube-proxy's nftables NAT chains: hooks at dstnat and
/// srcnat, a jump to an empty services chain and the masquerade-mark check.
constexpr const char* kKubeProxyTable = R"(table ip pal_bench_kube_proxy {
  chain services { }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
  chain output { type nat hook output priority -100; policy accept; jump services; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    meta mark & 0x4000 == 0x4000 masquerade; }
}
)";

const ir::Program* longestOf(const ir::Ruleset& rs, ir::Direction dir, ir::Tier tier) {
  const ir::Program* longest = nullptr;
  for (const auto& p : rs.programs())
    if (p.direction() == dir && p.tier() == tier &&
        (!longest || p.rules_size() > longest->rules_size()))
      longest = &p;
  return longest;
}

/// Does the rule match traffic with `peer` (by address; any port)?
bool mayMatch(const ir::Ruleset& rs, const ir::Rule& rule, uint32_t peer) {
  if (rule.peer_set() == 0) return true;
  for (const auto& c : rs.peer_sets(int(rule.peer_set()) - 1).v4()) {
    const uint32_t mask = c.prefix_len() == 0 ? 0 : ~uint32_t(0) << (32 - c.prefix_len());
    if ((peer & mask) == (c.address() & mask)) return true;
  }
  return false;
}

/// The largest Admin program of `dir` copied without the rules that could
/// decide traffic with `peer`: the packet walks all of it and passes on.
uint32_t longestAdminWithout(ir::Ruleset& rs, ir::Direction dir, const std::string& peer) {
  const ir::Program* longest = longestOf(rs, dir, ir::TIER_ADMIN);
  if (longest == nullptr) return 0;
  ir::Program copy = *longest;
  copy.clear_rules();
  for (const auto& r : longest->rules())
    if (!mayMatch(rs, r, palisade::datapath::testing::ip4(peer))) *copy.add_rules() = r;
  copy.set_id(rs.programs_size() + 1);
  *rs.add_programs() = copy;
  return copy.id();
}

/// The largest NetworkPolicy program of `dir` copied, plus one last rule
/// allowing `peer` on TCP kPort.
uint32_t longestProgramPlus(ir::Ruleset& rs, ir::Direction dir, const std::string& peer) {
  const ir::Program* longest = longestOf(rs, dir, ir::TIER_NETWORK_POLICY);
  ir::Program copy = longest ? *longest : ir::Program{};
  copy.set_direction(dir);
  auto* ps = rs.add_peer_sets();
  ps->set_id(rs.peer_sets_size());
  auto* cidr = ps->add_v4();
  cidr->set_address(palisade::datapath::testing::ip4(peer));
  cidr->set_prefix_len(32);
  auto* ports = rs.add_port_sets();
  ports->set_id(rs.port_sets_size());
  auto* range = ports->add_ranges();
  range->set_protocol(ir::TCP);
  range->set_first(kPort);
  range->set_last(kPort);
  auto* rule = copy.add_rules();
  rule->set_peer_set(ps->id());
  rule->set_port_set(ports->id());
  rule->mutable_provenance()->set_policy_namespace("bench");
  rule->mutable_provenance()->set_policy_name(dir == ir::INGRESS ? "allow-client" : "to-server");
  rule->mutable_provenance()->set_direction(dir);
  copy.set_id(rs.programs_size() + 1);
  *rs.add_programs() = copy;
  return copy.id();
}

struct Lab {
  palisade::testing::Topology topo{2};
  std::unique_ptr<nft::Programmer> programmer;
  ir::Ruleset ruleset;
  ir::Ruleset empty;  // base chains only: conntrack and dispatch, no policy
  int loaded = kNoTable;
  size_t rules = 0;
  int longest_ingress = 0, longest_egress = 0;  // rules in the bench pods' programs
  int admin_ingress = 0, admin_egress = 0;      // ... and in their Admin programs
  size_t cluster_policies = 0;

  Lab() {
    palisade::bench::ClusterShape shape;  // 10k namespaces and policies ...
    shape.pods = 60'000;                  // ... with fewer pods: a shorter setup
    auto cluster = palisade::bench::generateCluster(shape);
    palisade::policy::ClusterState state;
    palisade::bench::loadInto(cluster, state);
    ruleset = palisade::policy::compile(state, "");
    const std::string client = topo.pod_ip[0], server = topo.pod_ip[1];
    uint32_t eg = longestProgramPlus(ruleset, ir::EGRESS, server);
    uint32_t in = longestProgramPlus(ruleset, ir::INGRESS, client);
    uint32_t admin_eg = longestAdminWithout(ruleset, ir::EGRESS, server);
    uint32_t admin_in = longestAdminWithout(ruleset, ir::INGRESS, client);
    for (auto [name, ip, ingress, egress, admin_ingress, admin_egress] :
         {std::tuple{"client", client, 0u, eg, 0u, admin_eg},
          std::tuple{"server", server, in, 0u, admin_in, 0u}}) {
      auto* e = ruleset.add_endpoints();
      e->set_namespace_("bench");
      e->set_name(name);
      e->add_ipv4(palisade::datapath::testing::ip4(ip));
      e->set_ingress_program(ingress);
      e->set_egress_program(egress);
      e->set_admin_ingress_program(admin_ingress);
      e->set_admin_egress_program(admin_egress);
      e->set_state(ir::Endpoint::READY);
    }
    for (const auto& ip : topo.node_ip)
      ruleset.mutable_node()->add_addresses_v4(palisade::datapath::testing::ip4(ip));
    for (const auto& p : ruleset.programs()) rules += p.rules_size();
    longest_ingress = ruleset.programs(int(in) - 1).rules_size();
    longest_egress = ruleset.programs(int(eg) - 1).rules_size();
    if (admin_in) admin_ingress = ruleset.programs(int(admin_in) - 1).rules_size();
    if (admin_eg) admin_egress = ruleset.programs(int(admin_eg) - 1).rules_size();
    cluster_policies = cluster.cluster_policies.size();
    *empty.mutable_node() = ruleset.node();
    auto t = palisade::testing::inNetns(topo.node, [] { return nft::openMnlTransport(); });
    if (t.ok())
      programmer = std::make_unique<nft::Programmer>(std::move(*t), nft::ProgrammerOptions{});
  }

  /// Loads the tables `want` names, removes the others; false on a kernel error.
  bool setLoaded(int want) {
    if (!programmer) return false;
    if (want == loaded) return true;
    const int palisade_was = loaded & (kEmptyTable | kPolicies),
              palisade_want = want & (kEmptyTable | kPolicies);
    if (palisade_want != palisade_was) {
      bool ok = palisade_want == 0
                    ? programmer->deleteTable().ok()
                    : programmer->replace(palisade_want == kEmptyTable ? empty : ruleset).ok();
      if (!ok) return false;
    }
    if ((want & kKubeProxy) != (loaded & kKubeProxy)) {
      int rc = 0;
      const std::string in = "ip netns exec " + topo.node + " ";
      if (want & kKubeProxy) {
        const std::string file = "/tmp/" + palisade::testing::prefix() + "kube-proxy.nft";
        std::ofstream(file) << kKubeProxyTable;
        palisade::testing::shell(in + "nft -f " + file, &rc);
        std::remove(file.c_str());
      } else {
        palisade::testing::shell(in + "nft delete table ip pal_bench_kube_proxy", &rc);
      }
      if (rc != 0) return false;
    }
    loaded = want;
    return true;
  }
};

Lab& lab() {
  static Lab l;
  return l;
}

/// Runs `f` with the calling thread inside namespace `ns`, then moves it back.
template <class F>
void inside(const std::string& ns, F f) {
  Fd self(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Fd there(open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC));
  if (!self || !there || setns(there.get(), CLONE_NEWNET) != 0) std::abort();
  f();
  if (setns(self.get(), CLONE_NEWNET) != 0) std::abort();
}

void BM_NewTcpConnections(benchmark::State& st) {
  Lab& l = lab();
  if (!l.setLoaded(static_cast<int>(st.range(0)))) {
    st.SkipWithError("programming the node's table failed");
    return;
  }
  // The server: accepts and closes, on its own thread inside pod2.
  Fd listener;
  inside(l.topo.pods[1], [&] { listener = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); });
  int one = 1;
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in any = palisade::testing::addr4("0.0.0.0", kPort);
  bind(listener.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
  listen(listener.get(), 1024);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (!palisade::testing::readable(listener.get(), 50)) continue;
      int c = accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) close(c);
    }
  });

  sockaddr_in dst = palisade::testing::addr4(l.topo.pod_ip[1], kPort);
  const linger reset{1, 0};
  size_t failed = 0;
  inside(l.topo.pods[0], [&] {
    for (auto _ : st) {
      int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      failed += connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0;
      close(s);
    }
  });
  stop = true;
  server.join();
  if (failed) st.SkipWithError("some connections failed: the ruleset does not allow the pair");
  st.counters["conn_per_s"] =
      benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
  st.counters["programs"] = l.ruleset.programs_size();
  st.counters["program_rules"] = double(l.rules);
  st.counters["endpoints"] = l.ruleset.endpoints_size();
  st.counters["walked_rules"] =
      l.longest_ingress + l.longest_egress + l.admin_ingress + l.admin_egress;
  st.counters["walked_admin_rules"] = l.admin_ingress + l.admin_egress;
  st.counters["cluster_policies"] = double(l.cluster_policies);
  st.counters["policies_loaded"] = (st.range(0) & kPolicies) != 0;
  st.counters["kube_proxy_nat"] = (st.range(0) & kKubeProxy) != 0;
}

}  // namespace

// Each side twice, interleaved, so that drift of the shared machine shows up
// as a difference between the two runs of one side.
BENCHMARK(BM_NewTcpConnections)
    ->ArgName("table")
    ->Arg(kNoTable)
    ->Arg(kEmptyTable)
    ->Arg(kPolicies)
    ->Arg(kKubeProxy)
    ->Arg(kKubeProxy | kPolicies)
    ->Arg(kNoTable)
    ->Arg(kEmptyTable)
    ->Arg(kPolicies)
    ->Arg(kKubeProxy)
    ->Arg(kKubeProxy | kPolicies)
    ->MinTime(5)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  std::string why = palisade::testing::kernelTestsUnavailable();
  if (!why.empty()) {
    std::fprintf(stderr, "datapath_packet_bench: %s\n", why.c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  lab().setLoaded(kNoTable);
  return 0;
}
