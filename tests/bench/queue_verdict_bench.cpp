// The packet queue's two figures (issue 6), on the real kernel (root):
//
// 1. Verdict throughput of one consumer on one thread: pod 1 sends 20,000 UDP
//    datagrams to pod 2 through the node namespace, whose table queues every
//    new connection of local pods (user-space mode, compat NFQUEUE). UDP
//    without replies stays `ct state new`, so every datagram is queued once
//    (forwarded: postrouting only). The queue is bound but not read while
//    they are sent; then the consumer drains it, and the figure is packets
//    verdicted per second of draining. The consumer's thread also pays for
//    re-injecting each accepted packet (nf_reinject forwards it to pod 2 inside
//    the verdict's sendmsg). Batched: datapath::queue::Consumer as the agent
//    runs it (one sendmsg of batch verdicts per recvmmsg burst). Unbatched:
//    the baseline batching is measured against, a naive consumer kept here in
//    the benchmark (the agent has no switch for it): the same bursts, parser
//    and Decider, one verdict message and one sendmsg per packet.
// 2. Added latency of a queued first packet: UDP request/echo round trips from
//    pod 1, each from a fresh socket and source port (a new flow), alternately
//    to pod 2 (the only endpoint: the request is queued; the echo is a reply
//    and is not) and to pod 3 (pods 1 and 3 are not endpoints: never queued),
//    so both paths see the same machine load; the added latency is the
//    difference of the percentiles.
//
// Throughput with two Deciders: one that accepts everything (the queue's own
// costs) and the agent's RulesetDecider over the ruleset the node enforces,
// pod 2 isolated for ingress with the allowing rule last (what a queued
// packet costs in production, policy evaluation included).
#include <benchmark/benchmark.h>
#include <linux/netlink.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include "agent/queue/ruleset_decider.h"
#include "datapath/nft/programmer.h"
#include "datapath/queue/consumer.h"
#include "datapath/queue/mnl_socket.h"
#include "datapath/queue/nfq_messages.h"
#include "datapath/queue/packet.h"
#include "tests/datapath/ruleset_builder.h"
#include "tests/kernel/io_loop.h"
#include "tests/kernel/netns_fixture.h"

namespace palisade::datapath::queue {
namespace {

using palisade::testing::Fd;
using palisade::testing::inNetns;
using palisade::testing::Topology;
namespace nft = palisade::datapath::nft;
using Clock = std::chrono::steady_clock;

class AcceptAll : public Decider {
 public:
  Decision decide(const QueuedPacket&, Explain) override { return {Verdict::Accept, ""}; }
};

using palisade::testing::IoLoop;

/// Two pods behind a node whose table queues (or not) every new connection.
struct Bench {
  Topology topo{3};  // pod 3 is not an endpoint: its traffic is never queued
  std::unique_ptr<nft::Programmer> prog;
  std::string error;

  ir::Ruleset ruleset;

  /// `pod_a_known`: pod 1 is an endpoint too (else only pod 2 is). Pod 2 is
  /// isolated for ingress: two rules that do not match pod 1's UDP :9999,
  /// then the one that does (the kernel never judges it: every new connection
  /// is queued, and the queue's accept ends the base chain).
  explicit Bench(bool queue_rules, bool pod_a_known = true) {
    palisade::datapath::testing::RulesetBuilder b;
    uint32_t web = b.portSet({{ir::TCP, 80, 80}, {ir::TCP, 443, 443}});
    uint32_t udp = b.portSet({{ir::UDP, 9999, 9999}});
    uint32_t far = b.peerSet({"10.99.0.0/16", "192.168.0.0/24"}, "ipBlock");
    uint32_t pod_a = b.peerSet({topo.pod_ip[0]}, "pods {app=a}");
    uint32_t in = b.program(
        ir::INGRESS,
        {{far, web, "ns/web", 0}, {pod_a, web, "ns/web", 1}, {pod_a, udp, "ns/udp-from-a", 0}},
        {"ns/web", "ns/udp-from-a"});
    if (pod_a_known) b.endpoint("ns", "a", topo.pod_ip[0], 0, 0);
    b.endpoint("ns", "b", topo.pod_ip[1], in, 0);
    for (const auto& ip : topo.node_ip) b.nodeAddress(ip);
    auto* cidr = b.rs.mutable_node()->add_pod_cidrs_v4();
    cidr->set_address(palisade::datapath::testing::ip4("10.77.0.0"));
    cidr->set_prefix_len(16);
    ruleset = b.rs;
    nft::ProgrammerOptions o;
    o.queue.all_local_pods = queue_rules;
    auto t = inNetns(topo.node, [] { return nft::openMnlTransport(); });
    if (!t.ok()) {
      error = t.error().str();
      return;
    }
    prog = std::make_unique<nft::Programmer>(std::move(*t), o);
    if (auto r = prog->replace(b.rs); !r.ok()) error = r.error().str();
  }
};

std::string unavailable() {
  if (geteuid() != 0) return "needs root (network namespaces, nftables, NFQUEUE)";
  return palisade::testing::kernelTestsUnavailable();
}

/// What the throughput benchmark drains the queue with, a slice at a time.
class Drain {
 public:
  virtual ~Drain() = default;
  virtual void run(std::chrono::milliseconds slice) = 0;
  virtual CounterSnapshot counters() const = 0;
};

/// The agent's consumer: batched verdicts.
class ConsumerDrain : public Drain {
 public:
  static Result<std::unique_ptr<Drain>> start(Decider& d, const ConsumerOptions& o) {
    auto drain = std::make_unique<ConsumerDrain>();
    auto c = Consumer::start(drain->io_, d, o);
    if (!c.ok()) return c.error();
    drain->consumer_ = std::move(*c);
    return std::unique_ptr<Drain>(std::move(drain));
  }
  void run(std::chrono::milliseconds slice) override { io_.run_for(slice); }
  CounterSnapshot counters() const override { return consumer_->counters(); }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<Consumer> consumer_;
};

/// The naive consumer: the Consumer's recvmmsg bursts, parser and Decider,
/// but every packet answered alone, one sendmsg each. Fewer checks than the
/// Consumer (no hold table, no kernel drop counter): it can only look cheaper.
class UnbatchedDrain : public Drain {
 public:
  static Result<std::unique_ptr<Drain>> start(Decider& d, const ConsumerOptions& o) {
    auto drain = std::make_unique<UnbatchedDrain>(d, o.queue);
    if (!drain->nl_) return Error::fromErrno(errno, "opening netlink socket");
    int fd = mnl_socket_get_fd(drain->nl_.get());
    int size = static_cast<int>(o.socket_buffer);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    if (mnl_socket_bind(drain->nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      return Error::fromErrno(errno, "binding netlink socket");
    auto bind = buildBind(o.queue, 1);
    if (mnl_socket_sendto(drain->nl_.get(), bind.data(), bind.size()) < 0)
      return Error::fromErrno(errno, "sending bind request");
    for (int acks = 0; acks < 2;) {  // nothing is queued yet: only the two acks come
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return Error(ETIMEDOUT, "waiting for the bind ack");
      ssize_t n = recv(fd, drain->rx_.data(), drain->rx_.size(), 0);
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(drain->rx_.data());
      if (n < ssize_t(NLMSG_HDRLEN) || nlh->nlmsg_type != NLMSG_ERROR) continue;
      if (int e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error; e != 0)
        return Error::fromErrno(-e, "binding the queue");
      ++acks;
    }
    return std::unique_ptr<Drain>(std::move(drain));
  }
  UnbatchedDrain(Decider& d, const QueueConfig& q)
      : decider_(d),
        queue_(q),
        nl_(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK)),
        slot_(q.copy_range + 4096),
        rx_(slot_ * kBurst),
        iov_(kBurst),
        msgs_(kBurst) {}

  void run(std::chrono::milliseconds slice) override {
    const int fd = mnl_socket_get_fd(nl_.get());
    for (auto end = Clock::now() + slice; Clock::now() < end;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 5) <= 0) continue;
      for (int i = 0; i < kBurst; ++i) {
        iov_[i] = {rx_.data() + size_t(i) * slot_, slot_};
        msgs_[i] = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
      }
      int got = recvmmsg(fd, msgs_.data(), kBurst, MSG_DONTWAIT, nullptr);
      for (int i = 0; i < got; ++i) {
        int len = static_cast<int>(msgs_[i].msg_len);
        for (auto* nlh = reinterpret_cast<const nlmsghdr*>(iov_[i].iov_base);
             mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
          if (auto raw = parsePacketMessage(nlh)) answer(*raw);
      }
    }
  }
  CounterSnapshot counters() const override { return counts_; }

 private:
  static constexpr int kBurst = 64;  // as the Consumer reads
  void answer(const RawPacket& raw) {
    ++counts_.received;
    QueuedPacket q;
    bool accept = parsePacket(raw.payload, q.packet) == ParseError::None &&
                  decider_.decide(q, Explain::No).verdict == Verdict::Accept;
    ++(accept ? counts_.accepted : counts_.dropped);
    VerdictMessage m{raw.id, accept, false};
    tx_.clear();
    appendVerdicts(tx_, queue_.queue, std::span(&m, 1));
    if (mnl_socket_sendto(nl_.get(), tx_.data(), tx_.size()) < 0) ++counts_.send_errors;
  }
  Decider& decider_;
  QueueConfig queue_;
  MnlSocket nl_;
  size_t slot_;
  std::vector<uint8_t> rx_, tx_;
  std::vector<iovec> iov_;
  std::vector<mmsghdr> msgs_;
  CounterSnapshot counts_;
};

/// Packets sent into a bound queue that nobody reads yet, then drained: the
/// time from the first wake-up to the last verdict is the consumer's alone
/// (the sender's cost is not on that thread's clock).
void BM_QueueVerdictThroughput(benchmark::State& state) {
  if (auto why = unavailable(); !why.empty()) return state.SkipWithError(why.c_str());
  const bool batching = state.range(0) != 0;
  const bool real_decider = state.range(1) != 0;
  constexpr uint64_t kPackets = 20000;
  Bench bench(true);
  if (!bench.error.empty()) return state.SkipWithError(bench.error.c_str());
  AcceptAll accept_all;
  agent::queue::RulesetDecider ruleset_decider;
  if (Status s = ruleset_decider.update(bench.ruleset); !s)
    return state.SkipWithError(s.error().str().c_str());
  Decider& decider = real_decider ? static_cast<Decider&>(ruleset_decider) : accept_all;
  Fd sink = palisade::testing::socketIn(bench.topo.pods[1], SOCK_DGRAM);
  sockaddr_in any = palisade::testing::addr4("0.0.0.0", 9999);
  bind(sink.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
  int big = 64 << 20;
  setsockopt(sink.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  double seconds = 0, cpu = 0;
  uint64_t verdicts = 0, lost = 0, dropped = 0;
  for (auto _ : state) {
    ConsumerOptions o;
    o.queue.max_len = 2 * kPackets;
    o.socket_buffer = 256u << 20;
    auto d = inNetns(bench.topo.node, [&] {
      return batching ? ConsumerDrain::start(decider, o) : UnbatchedDrain::start(decider, o);
    });
    if (!d.ok()) return state.SkipWithError(d.error().str().c_str());
    Drain& drain = **d;
    // UDP without replies stays `ct state new`: every datagram is queued.
    inNetns(bench.topo.pods[0], [&] {
      Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_in dst = palisade::testing::addr4(bench.topo.pod_ip[1], 9999);
      char payload[64] = {};
      for (uint64_t i = 0; i < kPackets; ++i)
        sendto(s.get(), payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
      return 0;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last ones queued
    timespec cpu0{}, cpu1{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
    auto t0 = Clock::now();
    while (drain.counters().received + drain.counters().overflowed < kPackets &&
           Clock::now() - t0 < std::chrono::seconds(10))
      drain.run(std::chrono::milliseconds(20));  // counters() reads proc: not per wake-up
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
    cpu += double(cpu1.tv_sec - cpu0.tv_sec) + double(cpu1.tv_nsec - cpu0.tv_nsec) * 1e-9;
    auto n = drain.counters();
    verdicts += n.accepted + n.dropped;
    dropped += n.dropped;
    lost += kPackets - n.received;
    seconds += dt;
    state.SetIterationTime(dt);
    d->reset();
  }
  state.counters["verdicts_per_s"] = benchmark::Counter(double(verdicts) / seconds);
  // Per second of the consumer thread's own CPU time: what one core does
  // when the machine is not shared (the wall-clock rate includes waiting for
  // a CPU on a loaded machine).
  state.counters["verdicts_per_cpu_s"] = benchmark::Counter(double(verdicts) / cpu);
  state.counters["verdicts"] = double(verdicts);
  state.counters["not_queued"] = double(lost);  // dropped by the kernel before reaching us
  // Decided drops: the real decider must accept pod 1 -> pod 2 UDP :9999.
  state.counters["dropped"] = double(dropped);
}
BENCHMARK(BM_QueueVerdictThroughput)
    ->ArgNames({"batching", "ruleset_decider"})
    ->Args({1, 0})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({0, 1})
    ->Iterations(5)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

/// Round trips from fresh sockets (new flows) to pod 2 (queued) and pod 3
/// (not queued), interleaved so both see the same machine load; microseconds.
struct Rtts {
  std::vector<double> queued, plain;
};
Rtts roundTrips(const Bench& b, int n) {
  std::vector<Fd> servers;
  for (int p : {1, 2}) {
    servers.push_back(palisade::testing::socketIn(b.topo.pods[p], SOCK_DGRAM));
    sockaddr_in any = palisade::testing::addr4("0.0.0.0", 7777);
    bind(servers.back().get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> echo;
  for (const Fd& srv : servers)
    echo.emplace_back([&stop, fd = srv.get()] {
      char buf[64];
      while (!stop) {
        if (!palisade::testing::readable(fd, 50)) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t r = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (r > 0) sendto(fd, buf, r, 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  Rtts out = inNetns(b.topo.pods[0], [&] {
    Rtts r;
    for (int i = 0; i < 2 * n; ++i) {
      bool queued = i % 2 == 0;
      sockaddr_in dst = palisade::testing::addr4(b.topo.pod_ip[queued ? 1 : 2], 7777);
      // A source port of its own: a reused one could still match an
      // established conntrack entry and skip the queue.
      Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      sockaddr_in src = palisade::testing::addr4("0.0.0.0", uint16_t(20000 + i));
      bind(s.get(), reinterpret_cast<sockaddr*>(&src), sizeof src);
      char buf[8] = "ping";
      auto t0 = Clock::now();
      sendto(s.get(), buf, 4, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
      if (!palisade::testing::readable(s.get(), 1000)) continue;  // lost: not a sample
      recv(s.get(), buf, sizeof buf, 0);
      (queued ? r.queued : r.plain)
          .push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    return r;
  });
  stop = true;
  for (auto& t : echo) t.join();
  std::sort(out.queued.begin(), out.queued.end());
  std::sort(out.plain.begin(), out.plain.end());
  return out;
}

double pct(const std::vector<double>& v, double p) {
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

void BM_QueueFirstPacketLatency(benchmark::State& state) {
  if (auto why = unavailable(); !why.empty()) return state.SkipWithError(why.c_str());
  constexpr int kSamples = 10000;
  Rtts r;
  for (auto _ : state) {
    Bench b(true, /*pod_a_known=*/false);  // only pod 2's connections are queued
    if (!b.error.empty()) return state.SkipWithError(b.error.c_str());
    AcceptAll decider;
    IoLoop loop;
    auto c = inNetns(b.topo.node, [&] { return Consumer::start(loop.io, decider, {}); });
    if (!c.ok()) return state.SkipWithError(c.error().str().c_str());
    r = roundTrips(b, kSamples);
    state.counters["queued_verdicts"] = double((*c)->counters().accepted);
  }
  state.counters["rtt_plain_p50_us"] = pct(r.plain, 0.50);
  state.counters["rtt_plain_p99_us"] = pct(r.plain, 0.99);
  state.counters["rtt_queued_p50_us"] = pct(r.queued, 0.50);
  state.counters["rtt_queued_p99_us"] = pct(r.queued, 0.99);
  state.counters["added_p50_us"] = pct(r.queued, 0.50) - pct(r.plain, 0.50);
  state.counters["added_p99_us"] = pct(r.queued, 0.99) - pct(r.plain, 0.99);
  state.counters["samples"] = double(r.queued.size());
}
BENCHMARK(BM_QueueFirstPacketLatency)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace palisade::datapath::queue

BENCHMARK_MAIN();
