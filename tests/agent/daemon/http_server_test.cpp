// The agent's HTTP listeners on real sockets: the connection limit (503 beyond
// it, counted), accept failures backed off instead of spun on (EMFILE made
// real with a low RLIMIT_NOFILE), loopback detection, the metrics text.
#include "agent/daemon/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace palisade::agent {
namespace {

using namespace std::chrono_literals;

template <typename P>
bool eventually(P pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

/// A client socket; closed with its scope.
struct Client {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Client() = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() {
    if (fd >= 0) close(fd);
  }
  bool connectTo(uint16_t port) const {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  }
  /// Everything the server sends within `limit` or until it closes.
  std::string readAll(std::chrono::milliseconds limit = 2000ms) const {
    std::string out;
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[1024];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
  /// One GET with Connection: close; the response's status line onwards.
  std::string get(const std::string& path) const {
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (write(fd, req.data(), req.size()) != ssize_t(req.size())) return "write failed";
    return readAll();
  }
};

std::string statusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

TEST(HttpServerTest, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.255.0.9", "::1"}) EXPECT_TRUE(isLoopbackAddress(a)) << a;
  for (const char* a : {"0.0.0.0", "10.0.0.1", "::", "::ffff:127.0.0.1", "fe80::1", "localhost"})
    EXPECT_FALSE(isLoopbackAddress(a)) << a;
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(parseListenAddress("fd00::5:9640", host, port));  // downward API, no brackets
  EXPECT_EQ(host, "fd00::5");
  EXPECT_EQ(port, 9640);
}

TEST(HttpServerTest, ConnectionsBeyondTheLimitAreRefusedAndCounted) {
  HttpServerOptions o;
  o.name = "test";
  o.max_connections = 2;
  HttpServer http(o);
  http.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(http.start("127.0.0.1:0"));

  // Two idle connections take both slots (no request: the server waits).
  auto idle1 = std::make_unique<Client>();
  Client idle2;
  ASSERT_TRUE(idle1->connectTo(http.port()));
  ASSERT_TRUE(idle2.connectTo(http.port()));
  ASSERT_TRUE(eventually([&] { return http.stats().active == 2; }));

  Client third;
  ASSERT_TRUE(third.connectTo(http.port()));
  std::string refused = third.get("/healthz");
  EXPECT_EQ(statusLine(refused), "HTTP/1.1 503 Service Unavailable") << refused;
  EXPECT_EQ(http.stats().rejected, 1u);
  EXPECT_EQ(http.stats().accepted, 2u);

  // A slot frees up: served again.
  idle1.reset();
  ASSERT_TRUE(eventually([&] { return http.stats().active == 1; }));
  Client fourth;
  ASSERT_TRUE(fourth.connectTo(http.port()));
  std::string served = fourth.get("/healthz");
  EXPECT_EQ(statusLine(served), "HTTP/1.1 200 OK") << served;
  EXPECT_EQ(http.stats().rejected, 1u);

  std::string text;
  renderHttpServerMetrics({&http}, text);
  EXPECT_NE(
      text.find("palisade_http_connections_total{listener=\"test\",outcome=\"rejected\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find("palisade_http_connections_total{listener=\"test\",outcome=\"accepted\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("palisade_http_accept_errors_total{listener=\"test\"} 0\n"),
            std::string::npos)
      << text;
}

TEST(HttpServerTest, IdleConnectionsTimeOutAndFreeTheirSlot) {
  HttpServerOptions o;
  o.max_connections = 1;
  o.idle_timeout = 200ms;
  HttpServer http(o);
  http.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(http.start("127.0.0.1:0"));
  Client idle;
  ASSERT_TRUE(idle.connectTo(http.port()));
  ASSERT_TRUE(eventually([&] { return http.stats().active == 1; }));
  EXPECT_EQ(idle.readAll(3000ms), "");  // closed by the server, nothing sent
  EXPECT_TRUE(eventually([&] { return http.stats().active == 0; }));
}

/// Lowers RLIMIT_NOFILE so that the process cannot open one more fd (every
/// fd below the limit is in use); restores it on scope exit.
class NoFreeFds {
 public:
  NoFreeFds() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free descriptor
    if (lowest_free >= 0) close(lowest_free);
    rlimit low = saved_;
    low.rlim_cur = rlim_t(lowest_free);
    ok_ = lowest_free > 0 && setrlimit(RLIMIT_NOFILE, &low) == 0;
  }
  ~NoFreeFds() { setrlimit(RLIMIT_NOFILE, &saved_); }
  NoFreeFds(const NoFreeFds&) = delete;
  NoFreeFds& operator=(const NoFreeFds&) = delete;
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

TEST(HttpServerTest, AcceptErrorsBackOffInsteadOfSpinning) {
  HttpServerOptions o;
  o.name = "test";
  o.accept_backoff_initial = 20ms;
  o.accept_backoff_max = 100ms;
  HttpServer http(o);
  http.handle("/healthz", [] { return HttpReply{200, "text/plain", "ok\n"}; });
  ASSERT_TRUE(http.start("127.0.0.1:0"));
  Client client;  // its fd exists before the limit drops; connect() needs none
  ASSERT_GE(client.fd, 0);
  uint64_t errors_during = 0;
  {
    NoFreeFds no_fds;
    ASSERT_TRUE(no_fds.ok());
    ASSERT_EQ(open("/dev/null", O_RDONLY | O_CLOEXEC), -1);
    ASSERT_EQ(errno, EMFILE);
    ASSERT_TRUE(client.connectTo(http.port()));  // completes in the kernel's backlog
    ASSERT_TRUE(eventually([&] { return http.stats().accept_errors >= 1; }));
    std::this_thread::sleep_for(600ms);
    errors_during = http.stats().accept_errors;
    EXPECT_EQ(http.stats().accepted, 0u);
  }
  // 600 ms of backoff capped at 100 ms is at most ~10 tries (fewer on a loaded
  // machine); an accept loop without one fails thousands of times.
  EXPECT_GE(errors_during, 2u);
  EXPECT_LE(errors_during, 15u);
  // fds again: the waiting connection is accepted after the next backoff and served.
  std::string served = client.get("/healthz");
  EXPECT_EQ(statusLine(served), "HTTP/1.1 200 OK") << served;
  EXPECT_EQ(http.stats().accepted, 1u);
  EXPECT_LE(http.stats().accept_errors, errors_during + 1);
}

}  // namespace
}  // namespace palisade::agent
