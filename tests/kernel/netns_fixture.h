#pragma once
// Network namespaces for kernel tests: every namespace this process creates is
// named pal-t-<pid>-<name>, removed by the guard's destructor even when a test
// fails, and stale ones of dead test processes are removed at start. Traffic
// only flows between namespaces created here; the root namespace's ruleset is
// never read or written.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "proto/base/fd.h"

namespace palisade::testing {

inline std::string shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

/// Why kernel tests cannot run here, or "" when they can.
inline std::string kernelTestsUnavailable() {
  if (geteuid() != 0) return "kernel tests need root (network namespaces, nftables)";
  int rc = 0;
  shell("ip netns help >/dev/null", &rc);
  if (rc != 0 && rc != 255) return "iproute2 `ip netns` unavailable";
  return "";
}

inline std::string prefix() { return "pal-t-" + std::to_string(getpid()) + "-"; }

/// Removes pal-t-<pid>-* namespaces whose process is gone.
inline void removeStaleNamespaces() {
  DIR* d = opendir("/run/netns");
  if (!d) return;
  std::vector<std::string> stale;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.rfind("pal-t-", 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + 6));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) stale.push_back(n);
  }
  closedir(d);
  for (const auto& n : stale) shell("ip netns del " + n);
}

/// Owns a set of namespaces; deletes them all on destruction.
class NetnsGuard {
 public:
  NetnsGuard() { removeStaleNamespaces(); }
  ~NetnsGuard() {
    for (auto it = names_.rbegin(); it != names_.rend(); ++it) shell("ip netns del " + *it);
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

  /// Creates pal-t-<pid>-<name> with loopback up; returns the full name.
  std::string add(const std::string& name) {
    std::string full = prefix() + name;
    shell("ip netns del " + full + " >/dev/null");
    shell("ip netns add " + full);
    names_.push_back(full);
    shell("ip -n " + full + " link set lo up");
    return full;
  }

 private:
  std::vector<std::string> names_;
};

/// Runs `f` in a thread that has joined namespace `ns` and returns its result.
/// Sockets created there stay in that namespace whichever thread uses them.
template <class F>
auto inNetns(const std::string& ns, F f) -> std::invoke_result_t<F> {
  using R = std::invoke_result_t<F>;
  std::optional<R> result;
  std::thread t([&] {
    int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0) {
      close(fd);
      result.emplace(f());
    } else if (fd >= 0) {
      close(fd);
    }
  });
  t.join();
  if (!result) std::abort();  // cannot enter a namespace we created: broken test setup
  return std::move(*result);
}

/// The production descriptor owner (proto/base/fd.h); `.get()` for the number.
using Fd = palisade::Fd;

inline sockaddr_in addr4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

inline Fd socketIn(const std::string& ns, int type) {
  return inNetns(ns, [&] { return Fd(socket(AF_INET, type | SOCK_CLOEXEC, 0)); });
}

inline Fd tcpListen(const std::string& ns, uint16_t port) {
  Fd s = socketIn(ns, SOCK_STREAM);
  int one = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = addr4("0.0.0.0", port);
  bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(s.get(), 64);
  return s;
}

enum class Conn { Ok, Timeout, Refused, Other };

/// A TCP handshake from namespace `ns` to dst:port (the SYN-ACK is a reply).
/// On success the connected socket is left in `out` when given.
inline Conn tcpConnect(const std::string& ns, const std::string& dst, uint16_t port,
                       int timeout_ms = 300, Fd* out = nullptr) {
  Fd s = socketIn(ns, SOCK_STREAM | SOCK_NONBLOCK);
  sockaddr_in a = addr4(dst, port);
  if (connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    return Conn::Other;
  pollfd p{s.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return Conn::Timeout;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == ECONNREFUSED) return Conn::Refused;
  if (err != 0) return Conn::Other;
  if (out) *out = std::move(s);
  return Conn::Ok;
}

inline bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) > 0;
}

struct UdpResult {
  bool request = false;  // reached the server
  bool reply = false;    // the server's answer reached the client
};

/// One datagram client → server and one back.
inline UdpResult udpExchange(const std::string& client_ns, const std::string& server_ns,
                             const std::string& dst, uint16_t port, int timeout_ms = 300) {
  UdpResult r;
  Fd srv = socketIn(server_ns, SOCK_DGRAM);
  sockaddr_in any = addr4("0.0.0.0", port);
  bind(srv.get(), reinterpret_cast<sockaddr*>(&any), sizeof any);
  Fd cli = socketIn(client_ns, SOCK_DGRAM);
  sockaddr_in a = addr4(dst, port);
  sendto(cli.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (!readable(srv.get(), timeout_ms)) return r;
  char buf[16];
  sockaddr_in from{};
  socklen_t flen = sizeof from;
  recvfrom(srv.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &flen);
  r.request = true;
  sendto(srv.get(), "pong", 4, 0, reinterpret_cast<sockaddr*>(&from), flen);
  r.reply = readable(cli.get(), timeout_ms);
  return r;
}

/// A node namespace routing between pod namespaces, pod i at 10.77.<i>.2/24
/// behind node address 10.77.<i>.1 on veth "vp<i>".
struct Topology {
  NetnsGuard guard;
  std::string node;
  std::vector<std::string> pods;  // namespace names
  std::vector<std::string> pod_ip;
  std::vector<std::string> node_ip;

  explicit Topology(int n_pods) {
    node = guard.add("node");
    shell("ip netns exec " + node + " sysctl -qw net.ipv4.ip_forward=1");
    for (int i = 1; i <= n_pods; ++i) {
      std::string ns = guard.add("pod" + std::to_string(i));
      std::string pip = "10.77." + std::to_string(i) + ".2";
      std::string nip = "10.77." + std::to_string(i) + ".1";
      std::string veth = "vp" + std::to_string(i);
      shell("ip link add " + veth + " netns " + node + " type veth peer name eth0 netns " + ns);
      shell("ip -n " + node + " addr add " + nip + "/24 dev " + veth);
      shell("ip -n " + node + " link set " + veth + " up");
      shell("ip -n " + ns + " addr add " + pip + "/24 dev eth0");
      shell("ip -n " + ns + " link set eth0 up");
      shell("ip -n " + ns + " route add default via " + nip);
      pods.push_back(ns);
      pod_ip.push_back(pip);
      node_ip.push_back(nip);
    }
  }
};

}  // namespace palisade::testing
