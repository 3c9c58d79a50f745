#include "agent/lab/flow_probe.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

socklen_t toSockaddr(const IpAddress& ip, int32_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (ip.isV4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    a->sin_addr.s_addr = htonl(ip.v4Value());
    return sizeof(sockaddr_in);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(port));
  for (int k = 0; k < 8; ++k) {
    a->sin6_addr.s6_addr[k] = static_cast<uint8_t>(ip.high() >> (56 - 8 * k));
    a->sin6_addr.s6_addr[8 + k] = static_cast<uint8_t>(ip.low() >> (56 - 8 * k));
  }
  return sizeof(sockaddr_in6);
}

/// What an error on a probe socket says. Refusals and unreachables are
/// answers, and a policy drop must not give one (upstream expects TIMEOUT).
std::string describeError(int err, Protocol protocol) {
  switch (err) {
    case ECONNREFUSED:
      if (protocol == Protocol::TCP) return "got RST: a drop must be silent";
      if (protocol == Protocol::SCTP) return "got ABORT: a drop must be silent";
      return "got ICMP port unreachable: a drop must be silent";
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EACCES:
    case ENOPROTOOPT:
      return std::string("got ICMP unreachable (") + std::strerror(err) +
             "): a drop must be silent";
    default:
      return std::string("probe failed: ") + std::strerror(err);
  }
}

struct Pending {
  Fd fd;  // empty once answered
  size_t index = 0;
};

}  // namespace

bool sctpSocketsAvailable() {
  static const bool kAvailable = [] {
    Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
    return fd.valid();
  }();
  return kAvailable;
}

std::vector<FlowAttemptResult> probeFlows(const std::vector<FlowAttempt>& attempts,
                                          int timeout_ms) {
  std::vector<FlowAttemptResult> out(attempts.size());
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    for (FlowAttemptResult& r : out) r.error = Error(errno, "epoll_create1").str();
    return out;
  }
  std::map<std::string, std::vector<size_t>> by_netns;
  for (size_t i = 0; i < attempts.size(); ++i) by_netns[attempts[i].netns].push_back(i);

  static const char kPayload[] = "hostname\n";
  std::vector<Pending> pending;
  pending.reserve(attempts.size());
  for (const auto& [netns, indices] : by_netns) {
    // Sockets keep the namespace they were made in: enter once per source.
    auto guard = NetnsGuard::enter(netns);
    if (!guard) {
      for (size_t i : indices) out[i].error = guard.error().str();
      continue;
    }
    for (size_t i : indices) {
      const FlowAttempt& a = attempts[i];
      const bool udp = a.protocol == Protocol::UDP;
      sockaddr_storage addr;
      const socklen_t len = toSockaddr(a.dst, a.port, &addr);
      const int proto = a.protocol == Protocol::SCTP ? IPPROTO_SCTP : 0;
      Fd fd(socket(addr.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   proto));
      if (!fd) {
        out[i].error = Error(errno, "socket in " + netns).str();
        continue;
      }
      if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
        // Decided before a packet left: no route in the pod, a local refusal.
        out[i].error = describeError(errno, a.protocol);
        continue;
      }
      if (udp && send(fd.get(), kPayload, sizeof kPayload - 1, 0) < 0) {
        out[i].error = describeError(errno, a.protocol);
        continue;
      }
      epoll_event ev{};
      ev.events = udp ? EPOLLIN : EPOLLOUT;  // errors and hang-ups are always reported
      ev.data.u64 = pending.size();
      if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
        out[i].error = Error(errno, "epoll_ctl").str();
        continue;
      }
      pending.push_back({std::move(fd), i});
    }
  }

  // One deadline for all, counted from the last attempt sent.
  size_t open = pending.size();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  epoll_event events[128];
  char buf[256];
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) break;
    const int n = epoll_wait(ep.get(), events, 128, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int k = 0; k < n; ++k) {
      Pending& p = pending[events[k].data.u64];
      if (!p.fd) continue;
      const FlowAttempt& a = attempts[p.index];
      int err = 0;
      if (a.protocol == Protocol::UDP) {
        if (recv(p.fd.get(), buf, sizeof buf, 0) < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;  // spurious wake-up: keep waiting
          err = errno;
        }
      } else {
        socklen_t elen = sizeof err;
        if (getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0) err = errno;
      }
      if (err == 0) {
        out[p.index].allowed = true;
      } else {
        out[p.index].error = describeError(err, a.protocol);
      }
      epoll_ctl(ep.get(), EPOLL_CTL_DEL, p.fd.get(), nullptr);
      p.fd.reset();
      --open;
    }
  }
  return out;  // whatever is still pending timed out: denied; the sockets close with `pending`
}

}  // namespace palisade::agent::lab
