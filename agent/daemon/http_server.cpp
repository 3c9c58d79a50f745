#include "agent/daemon/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <thread>

#include "agent/daemon/metrics.h"
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

bool isLoopbackAddress(const std::string& host) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

namespace {

/// What the sessions and the acceptor count; outlives both (see Impl).
struct Counters {
  std::atomic<uint64_t> accepted{0}, rejected{0}, accept_errors{0}, active{0};
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket s, const std::map<std::string, HttpHandler>& handlers, Counters& counters,
          std::chrono::milliseconds idle_timeout)
      : stream_(std::move(s)),
        handlers_(handlers),
        counters_(counters),
        idle_timeout_(idle_timeout) {
    ++counters_.active;
  }
  ~Session() { --counters_.active; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    // A slow or idle client cannot hold a connection slot.
    stream_.expires_after(idle_timeout_);
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
  Counters& counters_;
  std::chrono::milliseconds idle_timeout_;
  beast::flat_buffer buf_;
  http::request<http::empty_body> req_;
  http::response<http::string_body> res_;
};

/// A connection over the limit: one short answer, written without waiting
/// (a new socket's send buffer is empty), then closed.
void refuse(tcp::socket s) {
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 29\r\n"
      "Connection: close\r\n\r\ntoo many connections, retry\r\n";
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  if (!ec) s.write_some(net::buffer(kBusy.data(), kBusy.size()), ec);
  s.shutdown(tcp::socket::shutdown_both, ec);
  s.close(ec);
}

}  // namespace

struct HttpServer::Impl {
  // Declared before the io_context: handlers and sessions still queued in it
  // are destroyed with it, and a session's destructor counts itself out.
  HttpServerOptions options;
  Counters counters;
  std::map<std::string, HttpHandler> handlers;
  net::io_context ioc;
  std::optional<tcp::acceptor> acceptor;
  net::steady_timer backoff_timer{ioc};
  std::chrono::milliseconds backoff{0};
  uint64_t burst_errors = 0;  // accept errors since the last accepted connection
  std::thread thread;
  uint16_t port = 0;

  void accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted) return;
      if (ec) return acceptFailed(ec);
      if (burst_errors > 0) {
        logInfo("accepting connections again",
                {{"listener", options.name}, {"failed_accepts", burst_errors}});
        burst_errors = 0;
      }
      backoff = std::chrono::milliseconds(0);
      if (counters.active.load() >= options.max_connections) {
        ++counters.rejected;
        refuse(std::move(s));
      } else {
        ++counters.accepted;
        std::make_shared<Session>(std::move(s), handlers, counters, options.idle_timeout)->start();
      }
      accept();
    });
  }

  // The connection that failed is still in the backlog, so the listener stays
  // readable: accepting again at once would spin until an fd frees up.
  void acceptFailed(const beast::error_code& ec) {
    ++counters.accept_errors;
    backoff = backoff.count() == 0 ? options.accept_backoff_initial
                                   : std::min(backoff * 2, options.accept_backoff_max);
    if (burst_errors++ == 0)
      logWarn("cannot accept a connection; backing off (logged once until one is accepted)",
              {{"listener", options.name},
               {"error", ec.message()},
               {"max_backoff_ms", options.accept_backoff_max.count()}});
    backoff_timer.expires_after(backoff);
    backoff_timer.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) accept();
    });
  }
};

HttpServer::HttpServer(HttpServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
HttpServer::~HttpServer() { stop(); }

void HttpServer::handle(const std::string& path, HttpHandler handler) {
  impl_->handlers[path] = std::move(handler);
}

Status HttpServer::start(const std::string& addr) {
  std::string host;
  uint16_t port = 0;
  const std::string what = impl_->options.name + " listener " + addr;
  if (!parseListenAddress(addr, host, port)) return Error(EINVAL, what + ": not HOST:PORT");
  boost::system::error_code ec;
  tcp::endpoint ep(net::ip::make_address(host), port);
  impl_->acceptor.emplace(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Error(ec.value(), what + ": " + ec.message());
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
const std::string& HttpServer::name() const { return impl_->options.name; }

HttpServerStats HttpServer::stats() const {
  const Counters& c = impl_->counters;
  return {c.accepted.load(), c.rejected.load(), c.accept_errors.load(), c.active.load()};
}

void renderHttpServerMetrics(const std::vector<const HttpServer*>& servers, std::string& out) {
  std::vector<std::pair<std::string, HttpServerStats>> all;
  all.reserve(servers.size());
  for (const HttpServer* s : servers) all.emplace_back(s->name(), s->stats());
  auto label = [](const std::string& name) { return "{listener=\"" + name + "\""; };
  metricHeader(out, "palisade_http_connections_total", "counter",
               "Connections to the agent's HTTP listeners: accepted, or rejected (503) because "
               "the listener's connection limit was reached.");
  for (const auto& [name, st] : all) {
    out += "palisade_http_connections_total" + label(name) + ",outcome=\"accepted\"} " +
           std::to_string(st.accepted) + "\n";
    out += "palisade_http_connections_total" + label(name) + ",outcome=\"rejected\"} " +
           std::to_string(st.rejected) + "\n";
  }
  metricHeader(out, "palisade_http_accept_errors_total", "counter",
               "Failed accept() calls (EMFILE, ENFILE, ENOBUFS...), each followed by a backoff.");
  for (const auto& [name, st] : all)
    out += "palisade_http_accept_errors_total" + label(name) + "} " +
           std::to_string(st.accept_errors) + "\n";
  metricHeader(out, "palisade_http_connections_active", "gauge",
               "Connections open now on each HTTP listener.");
  for (const auto& [name, st] : all)
    out +=
        "palisade_http_connections_active" + label(name) + "} " + std::to_string(st.active) + "\n";
}

}  // namespace palisade::agent
