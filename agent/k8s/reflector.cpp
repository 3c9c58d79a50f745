#include "agent/k8s/reflector.h"

#include <cerrno>
#include <charconv>

#include "agent/k8s/line_assembler.h"
#include "proto/base/log.h"

namespace palisade::agent::k8s {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A watch the server accepted and kept open this long, even with nothing to
// say, shows the server and our resourceVersion were good: what follows is a
// new fault, recovered from with a fresh backoff. Shorter-lived watches (the
// server closing or failing them at once) keep backing off, so a broken
// server is not hammered.
constexpr auto kHealthyWatch = 1s;
// A non-200 watch answer is a Status object; more than this is not one.
constexpr size_t kMaxErrorBodyBytes = 64u << 10;

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

// "60s", or "250ms" below a second (tests use short rechecks).
std::string humanDuration(std::chrono::milliseconds d) {
  if (d.count() >= 1000 && d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
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
                                          std::move(client_options))),
      // The parser keeps the capacity of the largest document it has seen:
      // bounding it bounds the reflector's memory (see kMaxListPageBytes).
      parser_(std::max(options.max_page_bytes, options.max_event_bytes)),
      backoff_(options.backoff_initial, options.backoff_max, options.jitter, rng_()),
      page_size_(std::max<size_t>(1, options.page_size)) {
  // Two bookmark intervals of silence: one missed bookmark is tolerated.
  if (options_.idle_timeout.count() == 0) options_.idle_timeout = options_.bookmark_interval * 2;
}

Reflector::~Reflector() { stop(); }

void Reflector::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    client_->reset();  // a stop() before left it cancelled
  }
  thread_ = std::thread([this] { run(); });
}

void Reflector::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    client_->cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Reflector::relist() {
  // The flag and the cancel are set under mu_, and run() takes the flag and
  // resets the client under mu_, so a reset always follows the cancel it
  // answers. They used to be set apart (flag, notify, then cancel outside the
  // lock): a SIGHUP during a backoff woke run(), which reset the client before
  // the cancel landed, and every later request failed "cancelled" for good.
  {
    std::lock_guard lock(mu_);
    relist_requested_ = true;
    client_->cancel();
  }
  cv_.notify_all();
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

std::string Reflector::query(bool watch, bool streaming_list, const std::string& cont) const {
  std::string q = resource_.path + "?";
  if (!resource_.field_selector.empty())
    q += "fieldSelector=" + urlEncode(resource_.field_selector) + "&";
  if (!watch) {
    q += "limit=" + std::to_string(page_size_);
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

// Recovery must not degrade across faults. The backoff used to be reset only
// by a completed paginated LIST or by a watch ending cleanly at timeoutSeconds
// (5-10 min), and the 410 count only by the latter. A watch that had run for
// minutes and was then dropped therefore doubled the backoff left by the
// previous fault, and with streaming lists (where a relist is a watch, so no
// LIST ever reset it) each fault waited twice as long as the one before:
// 0.8 s, 1.6 s, 3.2 s, 6.4 s... until, after an API server replacement, every
// reflector slept 30-45 s before relisting. Now a healthy watch (see
// kHealthyWatch) resets both, so every fault starts from backoff_initial.
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
    if (need_list && !streaming) {
      a = list();
      if (a.outcome == Outcome::Ok) {
        need_list = false;
        // Not while 410s repeat: a list whose version expires at once must
        // keep backing off until a watch holds.
        if (consecutive_expired == 0) backoff_.reset();
        continue;
      }
    } else {
      bool streaming_list = need_list;
      initial_done_ = false;
      a = watch(streaming_list);
      if (streaming_list && initial_done_) need_list = false;
    }
    if (a.healthy) {
      backoff_.reset();
      consecutive_expired = 0;
      consecutive_unauthorized = 0;
    }
    switch (a.outcome) {
      case Outcome::Ok:
      case Outcome::Ended:
        consecutive_unauthorized = 0;
        // A watch the server closes at once, with nothing sent, must not spin.
        if (!a.healthy && !sleepFor(backoff_.next())) return;
        break;
      case Outcome::Expired:
        need_list = true;
        if (++consecutive_expired > 1 && !sleepFor(backoff_.next())) return;
        break;
      case Outcome::TooLarge:
        // The relist may meet the same object: never without a backoff.
        need_list = true;
        if (!sleepFor(backoff_.next())) return;
        break;
      case Outcome::Unauthorized:
        client_->tokens().invalidate();
        // A rotated token is picked up at once; a revoked one backs off.
        if (++consecutive_unauthorized > 1 && !sleepFor(backoff_.next())) return;
        break;
      case Outcome::NotServed:
        // A 404 is an answer, not a fault: nothing to back off from, and a
        // later fault starts from backoff_initial. The next look is a LIST
        // (or a streaming list), as at start.
        need_list = true;
        notServed();
        backoff_.reset();
        consecutive_expired = 0;
        consecutive_unauthorized = 0;
        if (!sleepFor(backoff_.jittered(options_.absent_recheck))) return;
        break;
      case Outcome::Unsupported:
        streaming_disabled_ = true;
        need_list = true;
        logInfo("streaming list not offered, falling back to LIST+WATCH",
                {{"resource", resource_.name}});
        break;
      case Outcome::Retry: {
        // The backoff advances either way; Retry-After replaces its wait, with
        // the same jitter so that agents told "1" do not all return together.
        auto wait = backoff_.next();
        if (a.wait.count() > 0) wait = backoff_.jittered(a.wait);
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
  // The group/version or the resource is not served: for a CRD-served kind
  // that is "not installed", checked before the streaming fallback so that a
  // streaming list of an absent resource is not taken for an old server.
  if (status == 404 && resource_.custom) {
    ++stats_.not_served;
    return {Outcome::NotServed};
  }
  if (streaming && (status == 400 || status == 422)) return {Outcome::Unsupported};
  ++stats_.errors;
  if (status == 403) {
    // Never absence: the server refuses before it looks the resource up. The
    // ClusterRole (deploy/rbac.yaml) lacks it, and this resource never syncs.
    ++stats_.forbidden;
    logError(
        "API server forbids the agent to list or watch this resource; its ClusterRole "
        "must grant list and watch on it (deploy/rbac.yaml)",
        {{"resource", resource_.name}, {"path", resource_.path}, {"body", body.substr(0, 300)}});
    return {Outcome::Retry};
  }
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
  std::string cont;
  std::string body;
  std::string rv;
  seen_.clear();
  while (true) {
    auto head = client_->get(query(false, false, cont), body, options_.max_page_bytes);
    if (!head && head.error().code() == EMSGSIZE) {
      ++stats_.errors;
      ++stats_.oversized;
      if (page_size_ == 1) {
        logWarn("LIST page of one object over the size limit; retrying after a backoff",
                {{"resource", resource_.name},
                 {"limit_bytes", options_.max_page_bytes},
                 {"error", head.error().str()}});
        return {Outcome::Retry};
      }
      // Smaller pages, from the start: a continue token belongs to its limit.
      page_size_ = std::max<size_t>(1, page_size_ / 2);
      logWarn("LIST page over the size limit, restarting the list with smaller pages",
              {{"resource", resource_.name},
               {"limit_bytes", options_.max_page_bytes},
               {"page_size", page_size_}});
      seen_.clear();
      cont.clear();
      continue;
    }
    if (!head || head->status != 200) return classify(head, body, false);
    markServed();  // before its objects reach the consumer
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
    {
      std::lock_guard lock(mu_);
      if (stopping_) return {Outcome::Stopped};
    }
    if (cont.empty()) break;
  }
  {
    std::lock_guard lock(mu_);
    rv_ = rv;
  }
  stats_.streaming = false;
  finishList();
  return {Outcome::Ok};
}

void Reflector::removeUnseen() {
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
}

void Reflector::notServed() {
  // Marked before its objects go, as markServed() before they come, so that
  // whoever sees them gone sees why.
  const bool was_served = stats_.served.exchange(false);
  const bool was_synced = stats_.synced.exchange(true);
  seen_.clear();
  removeUnseen();
  {
    // A CRD installed again starts a new history: nothing to resume from.
    std::lock_guard lock(mu_);
    rv_.clear();
  }
  // Once per absence, not at every look: the common case (no CRD installed)
  // would otherwise log every minute for ever.
  if (was_served)
    logInfo("resource not served by the API server; looking again in " +
                humanDuration(options_.absent_recheck),
            {{"resource", resource_.name}, {"path", resource_.path}});
  if ((was_served || !was_synced) && callbacks_.on_synced) callbacks_.on_synced();
}

void Reflector::markServed() {
  if (!stats_.served.exchange(true))
    logInfo("resource served by the API server now", {{"resource", resource_.name}});
}

void Reflector::finishList() {
  removeUnseen();
  markServed();  // a streaming list gets here with no LIST answer before
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
  LineAssembler lines(options_.max_event_bytes);
  const uint64_t events_before = stats_.added + stats_.modified + stats_.deleted + stats_.bookmarks;
  std::optional<Attempt> result;
  ResponseHead head_seen;
  std::string error_body;
  bool answered = false;
  auto started = Clock::now();
  auto head = client_->get(
      query(true, streaming_list, ""),
      [&](std::string_view piece) {
        if (head_seen.status != 200) {
          error_body.append(piece);
          return error_body.size() < kMaxErrorBodyBytes;
        }
        if (!answered) {
          answered = true;
          markServed();  // a streaming list's objects follow
        }
        bool ok = lines.feed(piece, [&](const char* data, size_t len) {
          if (!result) result = onEvent(data, len, initial);
        });
        if (!ok) {
          // Rewatching would meet the same event again: relist instead.
          ++stats_.errors;
          ++stats_.oversized;
          logWarn("watch event over the size limit, relisting after a backoff",
                  {{"resource", resource_.name}, {"limit_bytes", options_.max_event_bytes}});
          result = Attempt{Outcome::TooLarge};
        }
        if (initial && Clock::now() - started > options_.streaming_sync_timeout)
          result = Attempt{Outcome::Unsupported};
        return !result.has_value();
      },
      options_.idle_timeout, &head_seen);
  const bool progressed =
      stats_.added + stats_.modified + stats_.deleted + stats_.bookmarks > events_before;
  const bool healthy =
      head_seen.status == 200 && (progressed || Clock::now() - started >= kHealthyWatch);
  Attempt a;
  if (result) {
    client_->close();
    if (result->outcome == Outcome::Expired) ++stats_.expired;
    a = *result;
  } else if (!head || head->status != 200) {
    a = classify(head, error_body, streaming_list);
  } else if (initial) {
    // The server ended the stream cleanly (timeoutSeconds). A streaming list
    // that ended before its initial-events-end bookmark was not understood.
    a = {Outcome::Unsupported};
  } else {
    a = {Outcome::Ended};
  }
  a.healthy = healthy;
  return a;
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
    if (code == 404 && resource_.custom) {
      ++stats_.not_served;
      return Attempt{Outcome::NotServed};
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
