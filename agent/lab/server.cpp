#include "agent/lab/server.h"

#include <netinet/in.h>
#include <sys/epoll.h>
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

}  // namespace

Status Server::open(const LabState& lab) {
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) return Error(errno, "epoll_create1");
  for (const LabPod& pod : lab.pods) {
    auto guard = NetnsGuard::enter(pod.netns);
    if (!guard) return guard.error();
    for (const LabPort& port : pod.ports) {
      if (port.protocol == Protocol::SCTP) continue;
      bool tcp = port.protocol == Protocol::TCP;
      // One dual-stack socket per port serves the pod's v4 and v6 addresses.
      Fd fd(socket(AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd) return Error(errno, "socket in " + pod.netns);
      int zero = 0;
      int one = 1;
      setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in6 addr{};
      addr.sin6_family = AF_INET6;
      addr.sin6_port = htons(static_cast<uint16_t>(port.port));
      addr.sin6_addr = in6addr_any;
      if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
          (tcp && listen(fd.get(), 256) != 0)) {
        return Error(errno, "binding " + std::string(tcp ? "TCP" : "UDP") + " port " +
                                std::to_string(port.port) + " in " + pod.netns);
      }
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = sockets_.size();
      if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
        return Error(errno, "epoll_ctl in " + pod.netns);
      }
      sockets_.push_back({std::move(fd), tcp});
    }
  }
  return okStatus();
}

void Server::run(const std::atomic<bool>& stop) {
  epoll_event events[64];
  char buf[2048];
  while (!stop) {
    int n = epoll_wait(epoll_.get(), events, 64, 200);
    for (int i = 0; i < n; ++i) {
      const Socket& s = sockets_[events[i].data.u64];
      if (s.tcp) {
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
