#include "agent/lab/server.h"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>

#include "agent/lab/netns.h"

namespace palisade::agent::lab {
namespace {

std::atomic<bool> g_stop{false};

void onSignal(int) { g_stop = true; }

constexpr uint64_t kWakeKey = ~uint64_t{0};

socklen_t socketAddress(const std::optional<IpAddress>& address, int32_t port,
                        sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (address && address->isV4()) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    a->sin_addr.s_addr = htonl(address->v4Value());
    return sizeof(sockaddr_in);
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(static_cast<uint16_t>(port));
  a->sin6_addr = in6addr_any;
  if (address) {
    for (int k = 0; k < 8; ++k) {
      a->sin6_addr.s6_addr[k] = static_cast<uint8_t>(address->high() >> (56 - 8 * k));
      a->sin6_addr.s6_addr[8 + k] = static_cast<uint8_t>(address->low() >> (56 - 8 * k));
    }
  }
  return sizeof(sockaddr_in6);
}

}  // namespace

Status Server::ensureEpoll() {
  if (epoll_) return okStatus();
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return Error(errno, "epoll_create1");
  wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_) return Error(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
    return Error(errno, "epoll_ctl");
  return okStatus();
}

Status Server::open(const LabState& lab) {
  for (const LabPod& pod : lab.pods) {
    std::vector<LabPort> ports;
    for (const LabPort& port : pod.ports) {
      if (port.protocol != Protocol::SCTP) ports.push_back(port);
    }
    if (auto s = listen(pod.netns, std::nullopt, ports); !s) return s;
  }
  return okStatus();
}

Status Server::listen(const std::string& netns, const std::optional<IpAddress>& address,
                      const std::vector<LabPort>& ports) {
  if (auto s = ensureEpoll(); !s) return s;
  if (ports.empty()) return okStatus();
  auto guard = NetnsGuard::enter(netns);
  if (!guard) return guard.error();
  const std::string where =
      (address ? address->toString() + " in " : std::string("every address of ")) + netns;
  for (const LabPort& port : ports) {
    const bool stream = port.protocol != Protocol::UDP;
    sockaddr_storage addr;
    const socklen_t len = socketAddress(address, port.port, &addr);
    const int proto = port.protocol == Protocol::SCTP ? IPPROTO_SCTP : 0;
    Fd fd(socket(addr.ss_family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 proto));
    if (!fd) {
      return Error(
          errno, std::string("socket (") + policy::protocolName(port.protocol) + ") for " + where);
    }
    int zero = 0;
    int one = 1;
    // Without an address: one dual-stack socket serves the v4 and v6 addresses.
    if (!address) setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        (stream && ::listen(fd.get(), 256) != 0)) {
      return Error(errno, std::string("binding ") + policy::protocolName(port.protocol) + " port " +
                              std::to_string(port.port) + " on " + where);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = sockets_.size();
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
      return Error(errno, "epoll_ctl for " + where);
    }
    sockets_.push_back({std::move(fd), stream});
  }
  return okStatus();
}

void Server::wake() {
  const uint64_t one = 1;
  if (wake_) (void)!write(wake_.get(), &one, sizeof one);
}

void Server::run(const std::atomic<bool>& stop) {
  if (!ensureEpoll()) return;  // nothing to wait on: no spinning on a bad descriptor
  epoll_event events[64];
  char buf[2048];
  while (!stop) {
    int n = epoll_wait(epoll_.get(), events, 64, 200);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeKey) {
        uint64_t count = 0;
        (void)!read(wake_.get(), &count, sizeof count);
        continue;
      }
      const Socket& s = sockets_[events[i].data.u64];
      if (s.stream) {
        // Accepted and closed at once: the handshake was the probe.
        while (Fd(accept4(s.fd.get(), nullptr, nullptr, SOCK_CLOEXEC))) {
        }
        continue;
      }
      for (;;) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t got =
            recvfrom(s.fd.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (got < 0) break;
        sendto(s.fd.get(), buf, static_cast<size_t>(got), 0, reinterpret_cast<sockaddr*>(&from),
               len);
      }
    }
  }
}

int serveMain(const std::string& lab_name) {
  Result<LabState> lab = loadState(lab_name);
  if (!lab) {
    std::cerr << "palisade lab serve: " << lab.error().str() << "\n";
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  Server server;
  if (auto s = server.open(*lab); !s) {
    std::cerr << "palisade lab serve: " << s.error().str() << "\n";
    return 1;
  }
  {
    std::ofstream ready(stateDir(lab_name) + "/ready");
    ready << getpid() << " " << server.socketCount() << "\n";
  }
  server.run(g_stop);
  return 0;
}

}  // namespace palisade::agent::lab
