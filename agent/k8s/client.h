#pragma once
// A blocking HTTPS/1.1 client for the Kubernetes API, one per reflector.
//
// Each call runs Asio async operations on the client's own io_context until
// they complete, so the caller reads like sequential code while every read
// still has a deadline (beast::tcp_stream expiry) and cancel() from another
// thread can abort it. The server certificate must chain to the cluster CA
// and match the host name or address. The connection is kept alive between
// requests (LIST pages) and reopened when the server or a timeout closed it.
// TCP keepalive notices a peer that vanished without a FIN or RST (a lost
// node, an expired NAT or conntrack entry) even while the watch deadline runs.
#include <atomic>
#include <chrono>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/k8s/config.h"

namespace palisade::agent::k8s {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};  // per read; watches pass their own
  /// Keepalive probes start after this much silence, repeat every interval,
  /// and the connection is dropped after `keepalive_probes` unanswered ones:
  /// 30 + 3 x 10 = 60 s, within two bookmark intervals (ReflectorOptions). The
  /// same total bounds unacknowledged data (TCP_USER_TIMEOUT), so a request
  /// written into a dead connection fails as fast.
  std::chrono::seconds keepalive_idle{30};
  std::chrono::seconds keepalive_interval{10};
  int keepalive_probes = 3;
  std::string user_agent = "palisade-agent";
};

struct ResponseHead {
  int status = 0;
  std::string retry_after;  // the Retry-After header, verbatim
  std::string content_type;
};

/// Receives the body as it arrives; return false to stop reading (the
/// connection is then closed).
using BodySink = std::function<bool(std::string_view)>;

class ApiClient {
 public:
  ApiClient(ClusterConfig config, std::shared_ptr<TokenSource> tokens, ClientOptions options = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  /// GET `target` (path and query). Calls `sink` with each piece of the body
  /// (chunked or not). A non-2xx body is also delivered, so callers can read
  /// the Status object. `read_timeout` bounds each read (0 = the option's).
  /// `head_out`, when given, is filled before the first body piece.
  Result<ResponseHead> get(const std::string& target, const BodySink& sink,
                           std::chrono::milliseconds read_timeout = {},
                           ResponseHead* head_out = nullptr);
  /// GET with the whole body collected into `body`; a body over `max_body`
  /// bytes is an EMSGSIZE error (the connection is closed, `body` partial).
  Result<ResponseHead> get(const std::string& target, std::string& body,
                           size_t max_body = std::numeric_limits<size_t>::max());

  /// Aborts the operation in progress (from any thread) and makes every later
  /// call fail until reset().
  void cancel();
  /// Undoes cancel(); the next request opens a fresh connection. Call it on
  /// the thread that makes the requests, ordered after the cancel() it
  /// answers (the reflector orders both under its mutex).
  void reset();
  /// Closes the connection (the next request reconnects).
  void close();

  const ClusterConfig& config() const { return config_; }
  TokenSource& tokens() { return *tokens_; }

 private:
  struct Impl;
  ClusterConfig config_;
  std::shared_ptr<TokenSource> tokens_;
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::agent::k8s
