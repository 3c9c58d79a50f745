#pragma once
// The agent's HTTP listeners (/metrics on --metrics-addr; /healthz, /readyz,
// /status on --health-addr): plain HTTP/1.1 (Beast, async on its own thread),
// GET and HEAD only. Handlers return (status, content type, body).
//
// Bounded, so that whoever reaches the port cannot take the agent's fds or a
// core: at most `max_connections` at once (one more is answered 503 and
// closed, counted as rejected); a request or an idle keep-alive connection
// gets `idle_timeout`; a failing accept (EMFILE, ENFILE, ENOBUFS...) waits a
// doubling backoff before the next one instead of spinning on the readable
// listener, counted, and logged once per burst.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/base/result.h"

namespace palisade::agent {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using HttpHandler = std::function<HttpReply()>;

/// ":9640" → 0.0.0.0:9640, "127.0.0.1:9640", "[::1]:9640", "fd00::5:9640"
/// (the last colon separates the port, so an address from the downward API
/// needs no brackets).
bool parseListenAddress(const std::string& addr, std::string& host, uint16_t& port);
/// 127.0.0.0/8 or ::1 (an IPv4-mapped ::ffff:127.x is not: it is an IPv6
/// socket, reachable as whatever the mapping routes).
bool isLoopbackAddress(const std::string& host);

struct HttpServerOptions {
  std::string name = "http";  // the listener's label in metrics and logs
  size_t max_connections = 16;
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds accept_backoff_initial{50};
  std::chrono::milliseconds accept_backoff_max{1000};
};

struct HttpServerStats {
  uint64_t accepted = 0;       // connections served
  uint64_t rejected = 0;       // answered 503: max_connections were open
  uint64_t accept_errors = 0;  // accept() failures (each one followed by a backoff)
  uint64_t active = 0;         // open now
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void handle(const std::string& path, HttpHandler handler);
  Status start(const std::string& addr);
  void stop();
  uint16_t port() const;
  const std::string& name() const;
  HttpServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// palisade_http_connections_total{listener,outcome}, palisade_http_accept_errors_total
/// and palisade_http_connections_active of each server, for a Metrics collector.
void renderHttpServerMetrics(const std::vector<const HttpServer*>& servers, std::string& out);

}  // namespace palisade::agent
