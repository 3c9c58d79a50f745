#include "agent/lab/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

struct Pending {
  int fd = -1;
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
    out.errors.push_back("SCTP: this kernel has no SCTP sockets");
    return out;
  }
  const bool tcp = protocol == Protocol::TCP;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Pending> pending;
  static const char kPayload[] = "hostname\n";
  for (size_t i = 0; i < targets.size(); ++i) {
    // Sockets keep the namespace they were made in: enter once per source row.
    NetnsGuard guard(sources[i]);
    if (!guard.ok()) {
      out.errors.push_back(guard.error());
      continue;
    }
    for (size_t j = 0; j < targets[i].size(); ++j) {
      if (!targets[i][j]) continue;
      sockaddr_storage addr;
      socklen_t len = toSockaddr(*targets[i][j], &addr);
      int fd = socket(addr.ss_family,
                      (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        out.errors.push_back(std::string("socket: ") + std::strerror(errno));
        continue;
      }
      int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), len);
      if (rc != 0 && errno != EINPROGRESS) {
        close(fd);  // no route (the pod has no address of this family): not allowed
        continue;
      }
      if (!tcp) send(fd, kPayload, sizeof kPayload - 1, 0);
      epoll_event ev{};
      ev.events = tcp ? EPOLLOUT : EPOLLIN;
      ev.data.u64 = pending.size();
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      pending.push_back({fd, i, j});
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
    int n = epoll_wait(ep, events, 128, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    for (int k = 0; k < n; ++k) {
      Pending& p = pending[events[k].data.u64];
      if (p.fd < 0) continue;
      bool ok = false;
      if (tcp) {
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        ok = err == 0;
      } else {
        ok = recv(p.fd, buf, sizeof buf, 0) >= 0;
      }
      out.allowed[p.i][p.j] = ok;
      epoll_ctl(ep, EPOLL_CTL_DEL, p.fd, nullptr);
      close(p.fd);
      p.fd = -1;
      --open;
    }
  }
  for (Pending& p : pending) {
    if (p.fd >= 0) close(p.fd);
  }
  close(ep);
  return out;
}

}  // namespace palisade::agent::lab
