#include "agent/k8s/reflector.h"

#include <charconv>

#include "agent/k8s/line_assembler.h"
#include "proto/base/log.h"

namespace palisade::agent::k8s {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* eventTypeName(EventType t) {
  switch (t) {
    case EventType::Added:
      return "ADDED";
    case EventType::Modified:
      return "MODIFIED";
    case EventType::Deleted:
      return "DELETED";
  }
  return "?";
}

namespace {

std::string urlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(char(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string_view stringField(simdjson::dom::element obj, std::string_view key) {
  std::string_view v;
  if (obj[key].get_string().get(v)) return {};
  return v;
}

std::string objectKey(std::string_view ns, std::string_view name) {
  std::string key;
  key.reserve(ns.size() + name.size() + 1);
  key.append(ns).push_back('/');
  key.append(name);
  return key;
}

}  // namespace

Reflector::Reflector(Resource resource, ClusterConfig config, std::shared_ptr<TokenSource> tokens,
                     ReflectorCallbacks callbacks, ReflectorOptions options,
                     ClientOptions client_options)
    : resource_(std::move(resource)),
      callbacks_(std::move(callbacks)),
      options_(options),
      client_(std::make_unique<ApiClient>(std::move(config), std::move(tokens),
                                          std::move(client_options))) {
  if (options_.idle_timeout.count() == 0) options_.idle_timeout = options_.watch_timeout * 2 + 30s;
}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  client_->cancel();
  if (thread_.joinable()) thread_.join();
}

void Reflector::relist() {
  {
    std::lock_guard lock(mu_);
    relist_requested_ = true;
  }
  cv_.notify_all();
  client_->cancel();
}

std::string Reflector::resourceVersion() const {
  std::lock_guard lock(mu_);
  return rv_;
}

bool Reflector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stopping_ || relist_requested_; });
  return !stopping_;
}

std::chrono::milliseconds Reflector::nextBackoff() {
  backoff_ = backoff_.count() == 0 ? options_.backoff_initial
                                   : std::min(backoff_ * 2, options_.backoff_max);
  std::uniform_real_distribution<double> u(0.0, options_.jitter);
  // Jitter spreads the reconnects of thousands of agents after an API outage.
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(backoff_.count()) * (1.0 + u(rng_))));
}

std::string Reflector::query(bool watch, bool streaming_list, const std::string& cont) const {
  std::string q = resource_.path + "?";
  if (!resource_.field_selector.empty())
    q += "fieldSelector=" + urlEncode(resource_.field_selector) + "&";
  if (!watch) {
    q += "limit=" + std::to_string(options_.page_size);
    if (!cont.empty()) q += "&continue=" + urlEncode(cont);
    return q;
  }
  // Ends watches on our side of the server's own timeout, spread over time.
  std::uniform_int_distribution<int64_t> u(
      options_.watch_timeout.count(),
      std::max<int64_t>(options_.watch_timeout.count() * 2 - 1, options_.watch_timeout.count()));
  auto& self = const_cast<Reflector&>(*this);
  q += "watch=1&allowWatchBookmarks=true&timeoutSeconds=" + std::to_string(u(self.rng_));
  if (streaming_list) {
    q += "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan";
  } else {
    std::lock_guard lock(mu_);
    q += "&resourceVersion=" + urlEncode(rv_);
  }
  return q;
}

void Reflector::run() {
  bool need_list = true;
  int consecutive_expired = 0;
  int consecutive_unauthorized = 0;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (relist_requested_) {
        relist_requested_ = false;
        need_list = true;
        client_->reset();
      }
    }
    bool streaming = options_.streaming != StreamingList::Off && !streaming_disabled_;
    Attempt a;
    auto started = Clock::now();
    uint64_t events_before = stats_.added + stats_.modified + stats_.deleted + stats_.bookmarks;
    if (need_list && !streaming) {
      a = list();
      if (a.outcome == Outcome::Ok) {
        need_list = false;
        backoff_ = 0ms;
        continue;
      }
    } else {
      bool streaming_list = need_list;
      initial_done_ = false;
      a = watch(streaming_list);
      if (streaming_list && initial_done_) need_list = false;
    }
    bool progressed =
        stats_.added + stats_.modified + stats_.deleted + stats_.bookmarks > events_before;
    switch (a.outcome) {
      case Outcome::Ok:
      case Outcome::Ended:
        consecutive_expired = 0;
        consecutive_unauthorized = 0;
        // A watch the server closes at once, with nothing sent, must not spin.
        if (!progressed && Clock::now() - started < 1s) {
          if (!sleepFor(nextBackoff())) return;
        } else {
          backoff_ = 0ms;
        }
        break;
      case Outcome::Expired:
        need_list = true;
        if (++consecutive_expired > 1 && !sleepFor(nextBackoff())) return;
        break;
      case Outcome::Unauthorized:
        client_->tokens().invalidate();
        // A rotated token is picked up at once; a revoked one backs off.
        if (++consecutive_unauthorized > 1 && !sleepFor(nextBackoff())) return;
        break;
      case Outcome::Unsupported:
        streaming_disabled_ = true;
        need_list = true;
        logInfo("streaming list not offered, falling back to LIST+WATCH",
                {{"resource", resource_.name}});
        break;
      case Outcome::Retry: {
        auto wait = std::max(a.wait, nextBackoff());
        if (a.wait.count() > 0) wait = a.wait;
        if (!sleepFor(wait)) return;
        break;
      }
      case Outcome::Stopped:
        break;
    }
  }
}

Reflector::Attempt Reflector::classify(const Result<ResponseHead>& head, const std::string& body,
                                       bool streaming) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || relist_requested_) return {Outcome::Stopped};
  }
  if (!head) {
    ++stats_.errors;
    logWarn("API request failed", {{"resource", resource_.name}, {"error", head.error().str()}});
    return {Outcome::Retry};
  }
  int status = head->status;
  if (status == 401) {
    ++stats_.unauthorized;
    logWarn("API server rejected the token, re-reading it", {{"resource", resource_.name}});
    return {Outcome::Unauthorized};
  }
  if (status == 410) {
    ++stats_.expired;
    logInfo("resource version expired, relisting", {{"resource", resource_.name}});
    return {Outcome::Expired};
  }
  if (streaming && (status == 400 || status == 422)) return {Outcome::Unsupported};
  ++stats_.errors;
  Attempt a{Outcome::Retry};
  if (status == 429) ++stats_.throttled;
  if ((status == 429 || status >= 500) && !head->retry_after.empty()) {
    int64_t seconds = 0;
    auto [p, ec] = std::from_chars(head->retry_after.data(),
                                   head->retry_after.data() + head->retry_after.size(), seconds);
    if (ec == std::errc() && seconds >= 0)
      a.wait = std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds),
                                                   options_.retry_after_max);
  }
  logWarn("API request refused", {{"resource", resource_.name},
                                  {"status", status},
                                  {"retry_after", head->retry_after},
                                  {"body", body.substr(0, 300)}});
  return a;
}

Reflector::Attempt Reflector::list() {
  seen_.clear();
  std::string cont;
  std::string body;
  std::string rv;
  do {
    auto head = client_->get(query(false, false, cont), body);
    if (!head || head->status != 200) return classify(head, body, false);
    simdjson::dom::element doc;
    if (auto err = parser_.parse(body).get(doc)) {
      ++stats_.errors;
      logWarn("malformed LIST response",
              {{"resource", resource_.name}, {"error", simdjson::error_message(err)}});
      return {Outcome::Retry};
    }
    simdjson::dom::array items;
    if (!doc["items"].get_array().get(items)) {
      for (simdjson::dom::element item : items) {
        simdjson::dom::element meta;
        std::string_view ns, name;
        if (item["metadata"].get(meta) || meta["name"].get_string().get(name)) {
          ++stats_.decode_errors;
          logWarn("skipping object without metadata.name", {{"kind", resource_.kind}});
          continue;
        }
        ns = stringField(meta, "namespace");
        seen_.insert(objectKey(ns, name));
        ++stats_.added;
        try {
          if (callbacks_.on_object) callbacks_.on_object(EventType::Added, item);
        } catch (const std::exception& e) {
          ++stats_.decode_errors;
          logWarn("object handler failed",
                  {{"kind", resource_.kind}, {"object", objectKey(ns, name)}, {"error", e.what()}});
        }
      }
    }
    simdjson::dom::element meta;
    if (!doc["metadata"].get(meta)) {
      rv = std::string(stringField(meta, "resourceVersion"));
      cont = std::string(stringField(meta, "continue"));
    } else {
      cont.clear();
    }
    std::lock_guard lock(mu_);
    if (stopping_) return {Outcome::Stopped};
  } while (!cont.empty());
  {
    std::lock_guard lock(mu_);
    rv_ = rv;
  }
  stats_.streaming = false;
  finishList();
  return {Outcome::Ok};
}

void Reflector::finishList() {
  for (const auto& key : known_) {
    if (seen_.count(key)) continue;
    auto slash = key.find('/');
    std::string_view k(key);
    try {
      if (callbacks_.on_removed) callbacks_.on_removed(k.substr(0, slash), k.substr(slash + 1));
    } catch (const std::exception& e) {
      logWarn("remove handler failed", {{"kind", resource_.kind}, {"error", e.what()}});
    }
    ++stats_.deleted;
  }
  known_ = std::move(seen_);
  seen_.clear();
  if (stats_.lists++ > 0) ++stats_.relists;
  stats_.synced = true;
  logInfo("list complete", {{"resource", resource_.name},
                            {"objects", known_.size()},
                            {"resource_version", resourceVersion()}});
  if (callbacks_.on_synced) callbacks_.on_synced();
}

Reflector::Attempt Reflector::watch(bool streaming_list) {
  ++stats_.watches;
  bool initial = streaming_list;
  if (streaming_list) seen_.clear();
  LineAssembler lines;
  std::optional<Attempt> result;
  ResponseHead head_seen;
  std::string error_body;
  auto started = Clock::now();
  auto head = client_->get(
      query(true, streaming_list, ""),
      [&](std::string_view piece) {
        if (head_seen.status != 200) {
          error_body.append(piece);
          return error_body.size() < (1u << 20);
        }
        bool ok = lines.feed(piece, [&](const char* data, size_t len) {
          if (!result) result = onEvent(data, len, initial);
        });
        if (!ok) {
          ++stats_.decode_errors;
          logWarn("watch event too large, restarting watch", {{"resource", resource_.name}});
          result = Attempt{Outcome::Retry};
        }
        if (initial && Clock::now() - started > options_.streaming_sync_timeout)
          result = Attempt{Outcome::Unsupported};
        return !result.has_value();
      },
      options_.idle_timeout, &head_seen);
  if (result) {
    client_->close();
    if (result->outcome == Outcome::Expired) ++stats_.expired;
    return *result;
  }
  if (!head || head->status != 200) return classify(head, error_body, streaming_list);
  // The server ended the stream cleanly (timeoutSeconds). A streaming list
  // that ended before its initial-events-end bookmark was not understood.
  if (initial) return {Outcome::Unsupported};
  return {Outcome::Ended};
}

std::optional<Reflector::Attempt> Reflector::onEvent(const char* data, size_t len, bool& initial) {
  simdjson::dom::element doc;
  if (auto err = parser_.parse(data, len, false).get(doc)) {
    ++stats_.decode_errors;
    logWarn("skipping malformed watch event",
            {{"resource", resource_.name}, {"error", simdjson::error_message(err)}});
    return std::nullopt;
  }
  std::string_view type = stringField(doc, "type");
  simdjson::dom::element object;
  if (doc["object"].get(object)) {
    ++stats_.decode_errors;
    logWarn("skipping watch event without object", {{"resource", resource_.name}});
    return std::nullopt;
  }
  if (type == "ERROR") {
    int64_t code = 0;
    if (object["code"].get_int64().get(code)) code = 0;
    if (code == 410) {
      logInfo("watch expired, relisting",
              {{"resource", resource_.name}, {"reason", stringField(object, "reason")}});
      return Attempt{Outcome::Expired};
    }
    ++stats_.errors;
    logWarn("watch error event", {{"resource", resource_.name},
                                  {"code", code},
                                  {"message", stringField(object, "message")}});
    return Attempt{Outcome::Retry};
  }
  simdjson::dom::element meta;
  if (object["metadata"].get(meta)) {
    ++stats_.decode_errors;
    logWarn("skipping watch event without metadata", {{"resource", resource_.name}});
    return std::nullopt;
  }
  std::string_view rv = stringField(meta, "resourceVersion");
  if (type == "BOOKMARK") {
    ++stats_.bookmarks;
    {
      std::lock_guard lock(mu_);
      if (!rv.empty()) rv_ = std::string(rv);
    }
    std::string_view end;
    if (initial && !meta["annotations"]["k8s.io/initial-events-end"].get_string().get(end) &&
        end == "true") {
      initial_done_ = true;
      initial = false;
      stats_.streaming = true;
      finishList();
    }
    return std::nullopt;
  }
  EventType et;
  if (type == "ADDED")
    et = EventType::Added;
  else if (type == "MODIFIED")
    et = EventType::Modified;
  else if (type == "DELETED")
    et = EventType::Deleted;
  else {
    ++stats_.decode_errors;
    logWarn("skipping watch event of unknown type", {{"resource", resource_.name}, {"type", type}});
    return std::nullopt;
  }
  std::string_view name = stringField(meta, "name");
  std::string_view ns = stringField(meta, "namespace");
  {
    // The version advances even past an object we skip: it was seen.
    std::lock_guard lock(mu_);
    if (!rv.empty()) rv_ = std::string(rv);
  }
  if (name.empty()) {
    ++stats_.decode_errors;
    logWarn("skipping object without metadata.name", {{"kind", resource_.kind}, {"type", type}});
    return std::nullopt;
  }
  std::string key = objectKey(ns, name);
  auto& set = initial ? seen_ : known_;
  switch (et) {
    case EventType::Added:
      ++stats_.added;
      set.insert(std::move(key));
      break;
    case EventType::Modified:
      ++stats_.modified;
      set.insert(std::move(key));
      break;
    case EventType::Deleted:
      ++stats_.deleted;
      set.erase(key);
      break;
  }
  try {
    if (callbacks_.on_object) callbacks_.on_object(et, object);
  } catch (const std::exception& e) {
    ++stats_.decode_errors;
    logWarn("object handler failed",
            {{"kind", resource_.kind}, {"object", objectKey(ns, name)}, {"error", e.what()}});
  }
  return std::nullopt;
}

}  // namespace palisade::agent::k8s
