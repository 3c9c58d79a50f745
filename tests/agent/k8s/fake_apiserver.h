#pragma once
// A fake Kubernetes API server for tests: HTTPS (Beast, synchronous, one
// thread per connection), real JSON shapes. It keeps objects per resource
// path, one global resourceVersion and an event log, and serves:
//   GET <path>?limit=&continue=          paginated LIST
//   GET <path>?watch=1&resourceVersion=  chunked watch stream (events split at
//                                        random byte boundaries when asked)
//   ...&sendInitialEvents=true           streaming list (or 422 when disabled)
// Knobs: bookmarks (one-off or periodic, as the watch cache sends them),
// in-stream and HTTP 410, compaction, dropped connections, clean stream ends,
// scripted failures (429 + Retry-After, 5xx), token rotation, a paused server
// (accepts connections, answers nothing), a fresh server taking over the
// objects of an old one with resourceVersions moved on (an API server
// replaced: every old version gets 410), and resources it does not serve (a
// CRD not installed, or deleted: 404 NotFound, as the real server answers).
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/agent/k8s/test_pki.h"

namespace palisade::agent::testing {

class FakeApiServer {
 public:
  struct Request {
    std::string target;
    std::string authorization;
    std::chrono::steady_clock::time_point at;
  };

  FakeApiServer() : ctx_(boost::asio::ssl::context::tls_server) {
    const auto& pki = TestPki::get();
    ctx_.use_certificate_chain(boost::asio::buffer(pki.server_cert_pem));
    ctx_.use_private_key(boost::asio::buffer(pki.server_key_pem), boost::asio::ssl::context::pem);
    ctx_.add_certificate_authority(boost::asio::buffer(pki.ca_pem));
    // Client certificates are optional; a verified one authenticates.
    ctx_.set_verify_mode(boost::asio::ssl::verify_peer);
    ctx_.set_verify_callback([](bool, boost::asio::ssl::verify_context&) { return true; });
  }
  ~FakeApiServer() { stop(); }

  // ---- lifecycle ----
  void start(uint16_t port = 0) {
    using boost::asio::ip::tcp;
    acceptor_.emplace(ioc_);
    tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), port);
    acceptor_->open(ep.protocol());
    acceptor_->set_option(tcp::acceptor::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen();
    port_ = acceptor_->local_endpoint().port();
    stopping_ = false;
    accept_thread_ = std::thread([this] { acceptLoop(); });
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_ && !accept_thread_.joinable()) return;
      stopping_ = true;
      for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    if (acceptor_) ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(conn_threads_);
    }
    for (auto& t : threads) t.join();
    if (acceptor_) {
      boost::system::error_code ec;
      acceptor_->close(ec);
      acceptor_.reset();
    }
  }
  uint16_t port() const { return port_; }

  // ---- objects ----
  /// Adds or replaces an object (JSON with "metadata":{...}); the server sets
  /// metadata.resourceVersion. Returns the new resourceVersion.
  uint64_t upsert(const std::string& path, const std::string& ns, const std::string& name,
                  const std::string& json) {
    std::lock_guard lock(mu_);
    uint64_t rv = ++rv_;
    std::string obj = withRv(json, rv);
    auto& objs = objects_[path];
    std::string key = ns + "/" + name;
    bool existed = objs.count(key) > 0;
    objs[key] = obj;
    log_[path].push_back({rv, existed ? "MODIFIED" : "ADDED", obj});
    cv_.notify_all();
    return rv;
  }
  uint64_t remove(const std::string& path, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    auto& objs = objects_[path];
    auto it = objs.find(ns + "/" + name);
    if (it == objs.end()) return rv_;
    uint64_t rv = ++rv_;
    log_[path].push_back({rv, "DELETED", withRv(it->second, rv)});
    objs.erase(it);
    cv_.notify_all();
    return rv;
  }
  /// Removes without an event (as if it happened in a compacted window).
  void removeSilently(const std::string& path, const std::string& ns, const std::string& name) {
    std::lock_guard lock(mu_);
    objects_[path].erase(ns + "/" + name);
    ++rv_;
  }
  /// Sends a raw line to the watchers of `path` (malformed-event tests).
  void rawEvent(const std::string& path, const std::string& line) {
    std::lock_guard lock(mu_);
    log_[path].push_back({++rv_, "RAW", line});
    cv_.notify_all();
  }
  uint64_t resourceVersion() const {
    std::lock_guard lock(mu_);
    return rv_;
  }

  // ---- knobs ----
  void bookmark(const std::string& path) {
    std::lock_guard lock(mu_);
    std::string b =
        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Bookmark\",\"apiVersion\":\"v1\","
        "\"metadata\":{\"resourceVersion\":\"" +
        std::to_string(++rv_) + "\"}}}";
    log_[path].push_back({rv_, "RAW", b});
    cv_.notify_all();
  }
  /// Every watch from a version below the current one gets 410 in-stream;
  /// current watchers of `path` get an ERROR 410 event now.
  void compactAndExpire(const std::string& path) {
    std::lock_guard lock(mu_);
    compacted_ = rv_;
    log_[path].push_back({++rv_, "RAW", gone()});
    compacted_ = rv_;
    cv_.notify_all();
  }
  /// History compacted for every path: a watch from any version up to now gets
  /// an in-stream 410 when it (re)connects; watches already open go on.
  void compact() {
    std::lock_guard lock(mu_);
    compacted_ = ++rv_;
  }
  /// A wedged server: connections are accepted, but no request is answered and
  /// open watches send nothing until resume().
  void pause() {
    std::lock_guard lock(mu_);
    paused_ = true;
  }
  void resume() {
    {
      std::lock_guard lock(mu_);
      paused_ = false;
    }
    cv_.notify_all();
  }
  /// Each open watch gets a BOOKMARK at the current version after this much
  /// silence (0: only the bookmarks bookmark() sends).
  void setBookmarkInterval(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    bookmark_interval_ = d;
  }
  /// Takes over `old`'s objects and settings (call before start(), with `old`
  /// stopped), as a replacement API server restored from the same etcd whose
  /// versions have moved on by `rv_jump`: the event history is gone, so every
  /// watch from an old version gets 410.
  void takeOver(const FakeApiServer& old, uint64_t rv_jump) {
    std::scoped_lock lock(mu_, old.mu_);
    objects_ = old.objects_;
    token_ = old.token_;
    streaming_lists_ = old.streaming_lists_.load();
    unserved_ = old.unserved_;
    bookmark_interval_ = old.bookmark_interval_;
    rv_ = old.rv_ + rv_jump;
    compacted_ = rv_;
    log_.clear();
  }
  /// `path` stops being served, as when its CRD is deleted: its objects are
  /// gone without DELETED events, open watches on it end, and every request
  /// for it gets 404 NotFound until serve(path).
  void unserve(const std::string& path) {
    std::lock_guard lock(mu_);
    unserved_.insert(path);
    objects_.erase(path);
    ++rv_;
    cv_.notify_all();
  }
  /// `path` is served again (its CRD installed), with no objects.
  void serve(const std::string& path) {
    std::lock_guard lock(mu_);
    unserved_.erase(path);
    cv_.notify_all();
  }
  /// The next `n` watch requests for `path` get HTTP 410.
  void expireHttpNext(const std::string& path, int n) {
    std::lock_guard lock(mu_);
    http_gone_[path] += n;
  }
  /// The next `n` requests whose target contains `match` get `status`.
  void failNext(const std::string& match, int status, std::string retry_after, int n = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < n; ++i) failures_.push_back({match, status, retry_after});
  }
  /// Closes every connection abruptly (no final chunk).
  void dropConnections() {
    std::lock_guard lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    ++drop_gen_;
    cv_.notify_all();
  }
  /// Ends every watch stream cleanly (as timeoutSeconds would).
  void endWatches() {
    std::lock_guard lock(mu_);
    ++end_gen_;
    cv_.notify_all();
  }
  void setToken(std::string token) {
    std::lock_guard lock(mu_);
    token_ = std::move(token);
  }
  void setStreamingLists(bool on) { streaming_lists_ = on; }
  void setMaxSplit(size_t n) { max_split_ = n; }
  void setExpireContinue(bool on) { expire_continue_ = on; }

  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t countRequests(const std::string& match) const {
    std::lock_guard lock(mu_);
    return std::count_if(requests_.begin(), requests_.end(), [&](const Request& r) {
      return r.target.find(match) != std::string::npos;
    });
  }
  int activeWatches() const { return active_watches_; }

 private:
  struct Event {
    uint64_t rv;
    std::string type;  // ADDED/MODIFIED/DELETED, or RAW (line sent as is)
    std::string json;
  };
  struct Failure {
    std::string match;
    int status;
    std::string retry_after;
  };
  using Stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  static std::string gone() {
    return "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":"
           "{},"
           "\"status\":\"Failure\",\"message\":\"too old resource version\",\"reason\":\"Expired\","
           "\"code\":410}}";
  }
  static std::string status(int code, const std::string& reason) {
    return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"" +
           reason + "\",\"reason\":\"" + reason + "\",\"code\":" + std::to_string(code) + "}";
  }
  static std::string withRv(const std::string& json, uint64_t rv) {
    std::string out = json;
    auto m = out.find("\"metadata\"");
    if (m == std::string::npos) return out;
    auto brace = out.find('{', m);
    // Drop an existing resourceVersion first (re-stamping a stored object).
    auto old = out.find("\"resourceVersion\":\"", brace);
    if (old != std::string::npos && old < out.find('}', brace)) {
      auto end = out.find('"', old + 19);
      out.erase(old, end + 1 - old + (out[end + 1] == ',' ? 1 : 0));
    }
    bool empty = out[brace + 1] == '}';
    out.insert(brace + 1,
               "\"resourceVersion\":\"" + std::to_string(rv) + "\"" + (empty ? "" : ","));
    return out;
  }
  /// The client closed the connection (a reflector relisting cancels its
  /// watch). Without this a quiet watch would count as active until its next
  /// write, and activeWatches() would count watches nobody reads.
  static bool peerClosed(Stream& stream) {
    pollfd p{stream.next_layer().native_handle(), POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
  static std::string param(const std::string& target, const std::string& key) {
    auto q = target.find('?');
    if (q == std::string::npos) return {};
    std::string qs = "&" + target.substr(q + 1);
    auto p = qs.find("&" + key + "=");
    if (p == std::string::npos) return {};
    auto start = p + key.size() + 2;
    auto end = qs.find('&', start);
    std::string raw = qs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size()) {
        out.push_back(char(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
        i += 2;
      } else {
        out.push_back(raw[i]);
      }
    }
    return out;
  }

  void acceptLoop() {
    while (true) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket sock(ioc_);
      acceptor_->accept(sock, ec);
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      int fd = sock.native_handle();
      conn_fds_.insert(fd);
      conn_threads_.emplace_back([this, s = std::move(sock), fd]() mutable {
        serve(std::move(s));
        std::lock_guard l(mu_);
        conn_fds_.erase(fd);
      });
    }
  }

  void serve(boost::asio::ip::tcp::socket sock) {
    namespace http = boost::beast::http;
    Stream stream(std::move(sock), ctx_);
    boost::system::error_code ec;
    stream.handshake(boost::asio::ssl::stream_base::server, ec);
    if (ec) return;
    // get0: a borrowed pointer (SSL_get_peer_certificate returns a reference
    // the caller must free, and leaked one per connection).
    bool client_cert = SSL_get0_peer_certificate(stream.native_handle()) != nullptr &&
                       SSL_get_verify_result(stream.native_handle()) == X509_V_OK;
    boost::beast::flat_buffer buf;
    while (true) {
      http::request<http::empty_body> req;
      http::read(stream, buf, req, ec);
      if (ec) break;
      if (!handle(stream, req, client_cert)) break;
    }
    stream.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  }

  // Returns false when the connection must close.
  template <typename Req>
  bool handle(Stream& stream, const Req& req, bool client_cert) {
    namespace http = boost::beast::http;
    std::string target(req.target());
    std::string auth(req[http::field::authorization]);
    std::string path = target.substr(0, target.find('?'));
    bool watch = param(target, "watch") == "1";
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !paused_ || stopping_; });
    if (stopping_) return false;
    requests_.push_back({target, auth, std::chrono::steady_clock::now()});
    auto reply = [&](int code, const std::string& body, const std::string& retry_after = "") {
      Response res{static_cast<http::status>(code), 11};
      res.set(http::field::content_type, "application/json");
      if (!retry_after.empty()) res.set(http::field::retry_after, retry_after);
      res.body() = body;
      res.prepare_payload();
      res.keep_alive(req.keep_alive());
      lock.unlock();
      boost::system::error_code ec;
      http::write(stream, res, ec);
      return !ec && req.keep_alive();
    };
    for (auto it = failures_.begin(); it != failures_.end(); ++it) {
      if (target.find(it->match) == std::string::npos) continue;
      Failure f = *it;
      failures_.erase(it);
      return reply(f.status, status(f.status, "Scripted"), f.retry_after);
    }
    if (!token_.empty() && auth != "Bearer " + token_ && !client_cert)
      return reply(401, status(401, "Unauthorized"));
    // What kube-apiserver answers for a group/version or resource it does not serve.
    if (unserved_.count(path))
      return reply(404,
                   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                   "\"Failure\",\"message\":\"the server could not find the requested "
                   "resource\",\"reason\":\"NotFound\",\"details\":{},\"code\":404}");
    if (!watch) {
      std::string cont = param(target, "continue");
      if (!cont.empty() && expire_continue_) return reply(410, status(410, "Expired"));
      size_t limit = param(target, "limit").empty() ? 0 : std::stoul(param(target, "limit"));
      size_t offset = 0;
      uint64_t list_rv = rv_;
      if (!cont.empty()) {
        auto colon = cont.find(':');
        list_rv = std::stoull(cont.substr(0, colon));
        offset = std::stoul(cont.substr(colon + 1));
      }
      auto& objs = objects_[path];
      std::string body =
          "{\"kind\":\"List\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" +
          std::to_string(list_rv) + "\"";
      std::string items;
      size_t i = 0, n = 0;
      for (auto& [key, obj] : objs) {
        if (i++ < offset) continue;
        if (limit && n == limit) break;
        if (n++) items += ",";
        items += obj;
      }
      if (limit && offset + n < objs.size())
        body +=
            ",\"continue\":\"" + std::to_string(list_rv) + ":" + std::to_string(offset + n) + "\"";
      body += "},\"items\":[" + items + "]}";
      return reply(200, body);
    }
    if (http_gone_[path] > 0) {
      --http_gone_[path];
      return reply(410, status(410, "Expired"));
    }
    bool streaming = param(target, "sendInitialEvents") == "true";
    if (streaming && !streaming_lists_) return reply(422, status(422, "Invalid"));
    uint64_t from = streaming ? rv_ : std::stoull("0" + param(target, "resourceVersion"));
    std::deque<std::string> initial;
    if (streaming) {
      for (auto& [key, obj] : objects_[path])
        initial.push_back("{\"type\":\"ADDED\",\"object\":" + obj + "}");
      initial.push_back(
          "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Bookmark\",\"apiVersion\":\"v1\","
          "\"metadata\":{\"resourceVersion\":\"" +
          std::to_string(rv_) + "\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}");
    }
    bool expired = !streaming && from < compacted_;
    uint64_t end_gen = end_gen_;
    uint64_t drop_gen = drop_gen_;
    ++active_watches_;
    lock.unlock();

    // Chunked 200 OK; then events as they come.
    boost::system::error_code ec;
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    http::write_header(stream, sr, ec);
    auto send = [&](std::string data) {
      thread_local std::mt19937 rng(42);
      std::uniform_int_distribution<size_t> u(1, std::max<size_t>(1, max_split_));
      size_t pos = 0;
      while (!ec && pos < data.size()) {
        size_t n = max_split_ ? std::min(u(rng), data.size() - pos) : data.size() - pos;
        boost::asio::write(stream, http::make_chunk(boost::asio::buffer(data.data() + pos, n)), ec);
        pos += n;
      }
    };
    std::string pending;
    for (auto& line : initial) pending += line + "\n";
    if (expired) pending += gone() + "\n";
    if (!pending.empty()) send(pending);
    bool clean_end = expired;
    auto last_sent = std::chrono::steady_clock::now();
    lock.lock();
    while (!ec && !expired) {
      if (paused_ && !stopping_ && drop_gen_ == drop_gen) {
        cv_.wait_for(lock, std::chrono::milliseconds(50));
        last_sent = std::chrono::steady_clock::now();
        continue;
      }
      std::string out;
      for (auto& e : log_[path]) {
        if (e.rv <= from) continue;
        from = e.rv;
        if (e.type == "RAW")
          out += e.json + "\n";
        else
          out += "{\"type\":\"" + e.type + "\",\"object\":" + e.json + "}\n";
        if (e.json == gone()) expired = true;
      }
      auto now = std::chrono::steady_clock::now();
      if (out.empty() && bookmark_interval_.count() > 0 && now - last_sent >= bookmark_interval_) {
        // Every event of this path up to rv_ has been sent: rv_ is safe to resume from.
        from = std::max(from, rv_);
        out =
            "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Bookmark\",\"apiVersion\":\"v1\","
            "\"metadata\":{\"resourceVersion\":\"" +
            std::to_string(from) + "\"}}}\n";
      }
      if (!out.empty()) {
        last_sent = now;
        lock.unlock();
        send(out);
        lock.lock();
        continue;
      }
      if (stopping_ || drop_gen_ != drop_gen || peerClosed(stream)) break;
      // Its CRD deleted: the server ends the watch; the rewatch gets 404.
      if (end_gen_ != end_gen || unserved_.count(path)) {
        clean_end = true;
        break;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    }
    --active_watches_;
    lock.unlock();
    if (!ec && (clean_end || expired)) {
      // A complete chunked response: the connection stays open for the next
      // request, as a real API server keeps it (closing it here, without TLS
      // close_notify, made the client's next request on it fail).
      boost::asio::write(stream, http::make_chunk_last(), ec);
      return !ec && req.keep_alive();
    }
    return false;
  }

  boost::asio::io_context ioc_;
  boost::asio::ssl::context ctx_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread accept_thread_;
  uint16_t port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool paused_ = false;
  std::chrono::milliseconds bookmark_interval_{0};
  std::set<int> conn_fds_;
  std::list<std::thread> conn_threads_;
  std::vector<Request> requests_;
  uint64_t rv_ = 100;
  uint64_t compacted_ = 0;
  std::map<std::string, std::map<std::string, std::string>> objects_;
  std::map<std::string, std::vector<Event>> log_;
  std::map<std::string, int> http_gone_;
  std::set<std::string> unserved_;
  std::deque<Failure> failures_;
  std::string token_;
  uint64_t end_gen_ = 0;
  uint64_t drop_gen_ = 0;
  std::atomic<bool> streaming_lists_{false};
  std::atomic<size_t> max_split_{0};
  std::atomic<bool> expire_continue_{false};
  std::atomic<int> active_watches_{0};
};

}  // namespace palisade::agent::testing
