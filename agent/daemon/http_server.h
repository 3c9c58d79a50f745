#pragma once
// The operability endpoint on --metrics-addr: plain HTTP/1.1 (Beast, async on
// its own thread), GET only. Handlers return (status, content type, body).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "proto/base/result.h"

namespace palisade::agent {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};
using HttpHandler = std::function<HttpReply()>;

/// ":9640" → 0.0.0.0:9640, "127.0.0.1:9640", "[::1]:9640".
bool parseListenAddress(const std::string& addr, std::string& host, uint16_t& port);

class HttpServer {
 public:
  HttpServer();
  ~HttpServer();
  void handle(const std::string& path, HttpHandler handler);
  Status start(const std::string& addr);
  void stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace palisade::agent
