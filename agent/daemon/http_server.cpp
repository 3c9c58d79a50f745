#include "agent/daemon/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "proto/base/log.h"

namespace palisade::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;  // NOLINT(readability-identifier-naming): Boost's own name

bool parseListenAddress(const std::string& addr, std::string& host, uint16_t& port) {
  auto colon = addr.rfind(':');
  if (colon == std::string::npos) return false;
  host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  try {
    int p = std::stoi(addr.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = uint16_t(p);
  } catch (...) {
    return false;
  }
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, const std::map<std::string, HttpHandler>& handlers)
      : stream_(std::move(s)), handlers_(handlers) {}
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    // A slow or idle client cannot hold the endpoint.
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buf_, req_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->respond();
                     });
  }
  void respond() {
    std::string target(req_.target());
    std::string path = target.substr(0, target.find('?'));
    res_ = {};
    res_.version(11);
    res_.keep_alive(req_.keep_alive());
    auto it = handlers_.find(path);
    if (req_.method() != http::verb::get && req_.method() != http::verb::head) {
      res_.result(http::status::method_not_allowed);
      res_.body() = "method not allowed\n";
    } else if (it == handlers_.end()) {
      res_.result(http::status::not_found);
      res_.body() = "not found\n";
    } else {
      HttpReply r;
      try {
        r = it->second();
      } catch (const std::exception& e) {
        r = {500, "text/plain", std::string("error: ") + e.what() + "\n"};
      }
      res_.result(static_cast<http::status>(r.status));
      res_.set(http::field::content_type, r.content_type);
      res_.body() = std::move(r.body);
    }
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (!ec && self->res_.keep_alive()) self->read();
    });
  }

  beast::tcp_stream stream_;
  const std::map<std::string, HttpHandler>& handlers_;
  beast::flat_buffer buf_;
  http::request<http::empty_body> req_;
  http::response<http::string_body> res_;
};

}  // namespace

struct HttpServer::Impl {
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  std::map<std::string, HttpHandler> handlers;
  std::thread thread;
  uint16_t port = 0;

  void accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(s), handlers)->start();
      accept();
    });
  }
};

HttpServer::HttpServer() : impl_(std::make_unique<Impl>()) {}
HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(const std::string& path, HttpHandler handler) {
  impl_->handlers[path] = std::move(handler);
}

Status HttpServer::start(const std::string& addr) {
  std::string host;
  uint16_t port = 0;
  if (!parseListenAddress(addr, host, port)) return Error(EINVAL, "invalid listen address " + addr);
  boost::system::error_code ec;
  tcp::endpoint ep(net::ip::make_address(host), port);
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error(ec.value(), "listening on " + addr + ": " + ec.message());
  impl_->port = impl_->acceptor->local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
  return okStatus();
}

void HttpServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->ioc.stop();
  impl_->thread.join();
}

uint16_t HttpServer::port() const { return impl_->port; }

}  // namespace palisade::agent
