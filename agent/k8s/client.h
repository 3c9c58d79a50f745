#pragma once
// A blocking HTTPS/1.1 client for the Kubernetes API, one per reflector.
//
// Each call runs Asio async operations on the client's own io_context until
// they complete, so the caller reads like sequential code while every read
// still has a deadline (beast::tcp_stream expiry) and cancel() from another
// thread can abort it. The server certificate must chain to the cluster CA
// and match the host name or address. The connection is kept alive between
// requests (LIST pages) and reopened when the server or a timeout closed it.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "agent/k8s/config.h"

namespace palisade::agent::k8s {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds read_timeout{30000};  // per read; watches pass their own
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
  /// GET with the whole body collected into `body`.
  Result<ResponseHead> get(const std::string& target, std::string& body);

  /// Aborts the operation in progress (from any thread) and makes every later
  /// call fail until reset().
  void cancel();
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
