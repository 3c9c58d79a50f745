#include "agent/k8s/client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <optional>

namespace palisade::agent::k8s {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;  // NOLINT(readability-identifier-naming): Boost's own name
using boost::system::error_code;

struct ApiClient::Impl {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  std::atomic<bool> cancelled{false};
  std::string ctx_error;

  // Runs the io_context until the started operation has completed.
  void drive() {
    ioc.restart();
    ioc.run();
  }
};

namespace {

Error netError(const error_code& ec, std::string_view what) {
  return Error(0, std::string(what) + ": " + ec.message());
}

// Returns 0 or the errno of the option that failed.
int setKeepalive(int fd, const ClientOptions& o) {
  auto set = [fd](int level, int name, int value) {
    return ::setsockopt(fd, level, name, &value, sizeof value) == 0 ? 0 : errno;
  };
  const auto user_timeout =
      std::chrono::milliseconds(o.keepalive_idle + o.keepalive_interval * o.keepalive_probes);
  for (int err : {set(SOL_SOCKET, SO_KEEPALIVE, 1),
                  set(IPPROTO_TCP, TCP_KEEPIDLE, int(o.keepalive_idle.count())),
                  set(IPPROTO_TCP, TCP_KEEPINTVL, int(o.keepalive_interval.count())),
                  set(IPPROTO_TCP, TCP_KEEPCNT, o.keepalive_probes),
                  set(IPPROTO_TCP, TCP_USER_TIMEOUT, int(user_timeout.count()))})
    if (err != 0) return err;
  return 0;
}

bool isAddress(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

ApiClient::ApiClient(ClusterConfig config, std::shared_ptr<TokenSource> tokens,
                     ClientOptions options)
    : config_(std::move(config)),
      tokens_(std::move(tokens)),
      options_(std::move(options)),
      impl_(std::make_unique<Impl>()) {
  if (!tokens_) tokens_ = std::make_shared<TokenSource>(config_);
  auto& ctx = impl_->ctx;
  error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(ssl::verify_peer, ec);
  if (!config_.ca_pem.empty()) {
    ctx.add_certificate_authority(net::buffer(config_.ca_pem), ec);
    if (ec) impl_->ctx_error = "loading cluster CA: " + ec.message();
  } else {
    impl_->ctx_error = "no cluster CA configured";
  }
  if (!config_.client_cert_pem.empty()) {
    ctx.use_certificate_chain(net::buffer(config_.client_cert_pem), ec);
    if (!ec) ctx.use_private_key(net::buffer(config_.client_key_pem), ssl::context::pem, ec);
    if (ec) impl_->ctx_error = "loading client certificate: " + ec.message();
  }
  ctx.set_verify_callback(ssl::host_name_verification(config_.host), ec);
}

ApiClient::~ApiClient() = default;

void ApiClient::cancel() {
  impl_->cancelled = true;
  // Runs on the next (or current) drive(): closing the socket completes any
  // pending operation with operation_aborted.
  net::post(impl_->ioc, [impl = impl_.get()] {
    if (impl->stream) beast::get_lowest_layer(*impl->stream).close();
  });
}

void ApiClient::reset() {
  // A cancel()'s close may still be queued: run it now, so it cannot close
  // the next request's connection, and start that request afresh.
  impl_->ioc.restart();
  impl_->ioc.poll();
  close();
  impl_->cancelled = false;
}

void ApiClient::close() {
  if (impl_->stream) {
    error_code ec;
    beast::get_lowest_layer(*impl_->stream).socket().close(ec);
  }
  impl_->stream.reset();
  impl_->buffer.clear();
}

Result<ResponseHead> ApiClient::get(const std::string& target, std::string& body, size_t max_body) {
  body.clear();
  bool over = false;
  auto head = get(target, [&](std::string_view piece) {
    if (body.size() + piece.size() > max_body) {
      over = true;
      return false;
    }
    body.append(piece);
    return true;
  });
  if (head && over)
    return Error(EMSGSIZE, "GET " + target + ": response body over the limit of " +
                               std::to_string(max_body) + " bytes");
  return head;
}

Result<ResponseHead> ApiClient::get(const std::string& target, const BodySink& sink,
                                    std::chrono::milliseconds read_timeout,
                                    ResponseHead* head_out) {
  auto& s = *impl_;
  if (!s.ctx_error.empty()) return Error(0, s.ctx_error);
  if (s.cancelled) return Error(ECANCELED, "cancelled");
  if (read_timeout.count() == 0) read_timeout = options_.read_timeout;
  const std::string where = "GET https://" + config_.host + ":" + config_.port + target;
  error_code ec;
  // Runs the started operation; a cancel() that came before or during it
  // fails the step even when the operation itself succeeded (its close found
  // no socket to close yet, e.g. while resolving).
  auto step = [&] {
    s.drive();
    if (!ec && s.cancelled) ec = net::error::operation_aborted;
  };

  bool fresh = false;
  if (!s.stream) {
    fresh = true;
    tcp::resolver resolver(s.ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(config_.host, config_.port,
                           [&](error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    step();
    if (ec) return netError(ec, where + ": resolving");
    s.stream.emplace(s.ioc, s.ctx);
    auto& layer = beast::get_lowest_layer(*s.stream);
    layer.expires_after(options_.connect_timeout);
    layer.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    step();
    if (ec) {
      close();
      return netError(ec, where + ": connecting");
    }
    if (int err = setKeepalive(layer.socket().native_handle(), options_); err != 0) {
      close();
      return Error(err, where + ": setting TCP keepalive");
    }
    if (!isAddress(config_.host))
      SSL_set_tlsext_host_name(s.stream->native_handle(), config_.host.c_str());
    layer.expires_after(options_.connect_timeout);
    s.stream->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
    step();
    if (ec) {
      close();
      return netError(ec, where + ": TLS handshake");
    }
  }

  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, config_.host);
  req.set(http::field::user_agent, options_.user_agent);
  req.set(http::field::accept, "application/json");
  if (config_.client_cert_pem.empty() || !config_.token.empty() || !config_.token_file.empty()) {
    std::string token = tokens_->token();
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  }
  req.keep_alive(true);
  beast::get_lowest_layer(*s.stream).expires_after(options_.read_timeout);
  http::async_write(*s.stream, req, [&](error_code e, size_t) { ec = e; });
  step();
  if (ec) {
    close();
    // A kept-alive connection the server closed meanwhile: retry once fresh.
    if (!fresh && !s.cancelled) return get(target, sink, read_timeout, head_out);
    return netError(ec, where + ": sending request");
  }

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  beast::get_lowest_layer(*s.stream).expires_after(read_timeout);
  http::async_read_header(*s.stream, s.buffer, parser, [&](error_code e, size_t) { ec = e; });
  step();
  if (ec) {
    close();
    if (!fresh && !s.cancelled && ec == http::error::end_of_stream)
      return get(target, sink, read_timeout, head_out);
    return netError(ec, where + ": reading response header");
  }
  ResponseHead head;
  const auto& msg = parser.get();
  head.status = static_cast<int>(msg.result_int());
  if (auto it = msg.find(http::field::retry_after); it != msg.end())
    head.retry_after = std::string(it->value());
  if (auto it = msg.find(http::field::content_type); it != msg.end())
    head.content_type = std::string(it->value());
  if (head_out) *head_out = head;

  char chunk[64 * 1024];
  bool keep_reading = true;
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    beast::get_lowest_layer(*s.stream).expires_after(read_timeout);
    http::async_read_some(*s.stream, s.buffer, parser, [&](error_code e, size_t) { ec = e; });
    s.drive();
    if (ec == http::error::need_buffer) ec = {};
    size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0 && !sink(std::string_view(chunk, n))) {
      keep_reading = false;
      break;
    }
    if (ec) {
      close();
      return netError(ec, where + ": reading body");
    }
    if (s.cancelled) {
      close();
      return Error(ECANCELED, where + ": cancelled");
    }
  }
  if (!keep_reading || !parser.keep_alive()) close();
  return head;
}

}  // namespace palisade::agent::k8s
