#include "agent/lab/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

struct Pending {
  Fd fd;  // empty once answered
  size_t i = 0;
  size_t j = 0;
};

socklen_t toSockaddr(const ProbeTarget& t, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (t.ip.isV4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(t.port));
    a->sin_addr.s_addr = htonl(t.ip.v4Value());
    return sizeof(sockaddr_in);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(t.port));
  for (int k = 0; k < 8; ++k) {
    a->sin6_addr.s6_addr[k] = static_cast<uint8_t>(t.ip.high() >> (56 - 8 * k));
    a->sin6_addr.s6_addr[8 + k] = static_cast<uint8_t>(t.ip.low() >> (56 - 8 * k));
  }
  return sizeof(sockaddr_in6);
}

}  // namespace

ProbeCells probeCells(const std::vector<std::string>& sources,
                      const std::vector<std::vector<std::optional<ProbeTarget>>>& targets,
                      Protocol protocol, int timeout_ms) {
  ProbeCells out;
  out.allowed.assign(targets.size(), std::vector<bool>(targets.empty() ? 0 : targets[0].size()));
  if (protocol == Protocol::SCTP) {
    out.errors.emplace_back("SCTP: this kernel has no SCTP sockets");
    return out;
  }
  const bool tcp = protocol == Protocol::TCP;
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    out.errors.push_back(Error(errno, "epoll_create1").str());
    return out;
  }
  std::vector<Pending> pending;
  static const char kPayload[] = "hostname\n";
  for (size_t i = 0; i < targets.size(); ++i) {
    bool any = std::any_of(targets[i].begin(), targets[i].end(),
                           [](const std::optional<ProbeTarget>& t) { return t.has_value(); });
    if (!any) continue;  // e.g. a pod outside the lab: no namespace to enter
    // Sockets keep the namespace they were made in: enter once per source row.
    auto guard = NetnsGuard::enter(sources[i]);
    if (!guard) {
      out.errors.push_back(guard.error().str());
      continue;
    }
    for (size_t j = 0; j < targets[i].size(); ++j) {
      if (!targets[i][j]) continue;
      sockaddr_storage addr;
      socklen_t len = toSockaddr(*targets[i][j], &addr);
      Fd fd(socket(addr.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0));
      if (!fd) {
        out.errors.push_back(Error(errno, "socket in " + sources[i]).str());
        continue;
      }
      int rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
      // No route (the pod has no address of this family): not allowed.
      if (rc != 0 && errno != EINPROGRESS) continue;
      if (!tcp) send(fd.get(), kPayload, sizeof kPayload - 1, 0);
      epoll_event ev{};
      ev.events = tcp ? EPOLLOUT : EPOLLIN;
      ev.data.u64 = pending.size();
      if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
        out.errors.push_back(Error(errno, "epoll_ctl").str());
        continue;
      }
      pending.push_back({std::move(fd), i, j});
    }
  }
  size_t open = pending.size();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  epoll_event events[128];
  char buf[256];
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) break;
    int n = epoll_wait(ep.get(), events, 128, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int k = 0; k < n; ++k) {
      Pending& p = pending[events[k].data.u64];
      if (!p.fd) continue;
      bool ok = false;
      if (tcp) {
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
        ok = err == 0;
      } else {
        ok = recv(p.fd.get(), buf, sizeof buf, 0) >= 0;
      }
      out.allowed[p.i][p.j] = ok;
      epoll_ctl(ep.get(), EPOLL_CTL_DEL, p.fd.get(), nullptr);
      p.fd.reset();
      --open;
    }
  }
  return out;  // the unanswered sockets close with `pending`
}

}  // namespace palisade::agent::lab
