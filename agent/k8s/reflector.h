#pragma once
// A reflector keeps a consumer in step with one API resource:
//
//   LIST (limit/continue pages) ──rv──▶ WATCH ?resourceVersion=rv&allowWatchBookmarks=true
//        ▲                                  │ ADDED/MODIFIED/DELETED → callbacks
//        │ 410 (HTTP or ERROR event)        │ BOOKMARK → rv
//        └──────────────────────────────────┤ stream end / drop → rewatch from rv
//                                           │ 429/5xx → Retry-After; others → backoff
//                                           │ 404 of a custom resource → absent, look again
//
// With streaming lists (sendInitialEvents=true, resourceVersionMatch=
// NotOlderThan) the LIST is replaced by the watch's initial ADDED events up to
// the bookmark annotated k8s.io/initial-events-end; a server that rejects the
// parameters (400/422) makes the reflector fall back to LIST+WATCH for good.
// After every complete (re)list, objects that were known but are gone are
// reported removed and on_synced runs. A malformed event is counted, logged
// with its kind/name and skipped: it never stops the watch.
//
// A custom resource (served only where its CRD is installed) may be absent:
// a 404 on its LIST or WATCH means "not served", not a failure. Every object
// it had is reported removed (a deleted CRD takes its objects with it), it
// counts as synced (it has no objects), and it is looked for again every
// absent_recheck, listed and watched as usual once served. For a built-in
// resource a 404 stays an error; a 403 (RBAC) is an error for either.
//
// Failures back off exponentially (with jitter, Retry-After included); the
// backoff and the 410 count start over once a watch has proved healthy, so
// each fault is recovered from as if it were the first. A watch silent for
// two bookmark intervals is taken for dead and reopened; a LIST page or watch
// event over its size limit is an error the reflector recovers from (smaller
// pages, or a relist after a backoff) instead of a memory blow-up.
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>

#include "agent/k8s/backoff.h"
#include "agent/k8s/client.h"

namespace palisade::agent::k8s {

struct Resource {
  std::string name;            // "pods" (metrics, logs)
  std::string kind;            // "Pod"
  std::string path;            // "/api/v1/pods"
  std::string field_selector;  // "metadata.name=node-1" or empty
  /// Served only where a CRD installs it: a 404 means "not served (yet)".
  bool custom = false;
};

enum class EventType { Added, Modified, Deleted };
const char* eventTypeName(EventType t);

enum class StreamingList { Auto, Off, On };

// Size limits, chosen for the DaemonSet's 512 MiB memory limit
// (deploy/daemonset.yaml). Each reflector (one per kind of policy/kinds, nine)
// can hold one document at once: the body, its simdjson parse (up to ~14x the
// document: tape 8 B, structural index 4 B and strings 1.7 B per input byte,
// worst case) and the line buffer, and its parser keeps the capacity of the
// largest document it has seen. At 3 MiB that is ~50 MiB a reflector in the
// worst case (~15 MiB for real pods). Six core resources make 300 MiB; the
// cluster tiers' three are absent in most clusters (a 404 body) and elsewhere
// hold few objects: they come near it only when a LIST page of them nears
// 3 MiB (hundreds of large cluster policies). That leaves room for the
// cluster state and the rulesets.
//
// One watch event is one object: etcd refuses requests over 1.5 MiB
// (--max-request-bytes), and the JSON rendering of a stored protobuf object can
// be about twice its size, so 3 MiB fits any object the server can hold.
inline constexpr size_t kMaxWatchEventBytes = 3u << 20;
// One LIST page: a page over the limit halves page_size and restarts the list,
// so the limit bounds memory without refusing a large cluster.
inline constexpr size_t kMaxListPageBytes = 3u << 20;

struct ReflectorOptions {
  size_t page_size = 500;
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30000};
  double jitter = 0.5;                      // each wait is backoff * [1, 1 + jitter)
  std::chrono::seconds watch_timeout{300};  // timeoutSeconds, randomised in [t, 2t)
  /// How often the server sends a BOOKMARK on a quiet watch. The API server's
  /// watch cache sends one to every allowWatchBookmarks watcher about once a
  /// minute; the watch read deadline derives from it.
  std::chrono::milliseconds bookmark_interval{60000};
  /// A watch silent this long is taken for dead and reopened from the last
  /// version (0: two bookmark intervals). A false alarm on a server that sends
  /// no bookmarks costs one cheap rewatch, never a relist.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds retry_after_max{60000};
  size_t max_event_bytes = kMaxWatchEventBytes;
  size_t max_page_bytes = kMaxListPageBytes;
  StreamingList streaming = StreamingList::Auto;
  /// A streaming list that has not reached initial-events-end after this long
  /// is treated as unsupported (an old server ignoring sendInitialEvents).
  std::chrono::milliseconds streaming_sync_timeout{120000};
  /// How often a custom resource the server does not serve (404) is looked
  /// for again (jittered like the backoff): a CRD installed later is picked up
  /// within this.
  std::chrono::milliseconds absent_recheck{60000};
};

struct ReflectorCallbacks {
  /// One API object (a typed LIST item or a watch event's object). Runs on the
  /// reflector's thread; the element is only valid during the call.
  std::function<void(EventType, simdjson::dom::element)> on_object;
  /// An object known before a relist and absent from it.
  std::function<void(std::string_view ns, std::string_view name)> on_removed;
  /// A complete list (or initial events) has been delivered.
  std::function<void()> on_synced;
};

struct ReflectorStats {
  std::atomic<uint64_t> lists{0};    // complete lists (first and relists)
  std::atomic<uint64_t> relists{0};  // lists after the first
  std::atomic<uint64_t> watches{0};  // watch requests started
  std::atomic<uint64_t> added{0}, modified{0}, deleted{0}, bookmarks{0};
  std::atomic<uint64_t> errors{0};         // failed requests and broken streams
  std::atomic<uint64_t> decode_errors{0};  // malformed events or objects skipped
  std::atomic<uint64_t> expired{0};        // 410s
  std::atomic<uint64_t> throttled{0};      // 429s
  std::atomic<uint64_t> unauthorized{0};   // 401s
  std::atomic<uint64_t> forbidden{0};      // 403s (also errors: RBAC does not grant it)
  std::atomic<uint64_t> not_served{0};     // 404s of a custom resource (not errors)
  std::atomic<uint64_t> oversized{0};      // LIST pages or watch events over their limit
  std::atomic<bool> synced{false};
  std::atomic<bool> streaming{false};  // the last list was a streaming list
  /// False while the server answers that it does not serve this custom
  /// resource (404); true before the first answer and once it lists.
  std::atomic<bool> served{true};
};

class Reflector {
 public:
  Reflector(Resource resource, ClusterConfig config, std::shared_ptr<TokenSource> tokens,
            ReflectorCallbacks callbacks, ReflectorOptions options = {},
            ClientOptions client_options = {});
  ~Reflector();

  void start();
  /// Stops and joins (aborts a request in progress).
  void stop();
  /// Forces a relist (SIGHUP): the current watch, or the backoff, is cut short.
  void relist();

  const Resource& resource() const { return resource_; }
  const ReflectorStats& stats() const { return stats_; }
  std::string resourceVersion() const;

 private:
  enum class Outcome {
    Ok,
    Expired,
    Ended,
    Retry,
    Unauthorized,
    Unsupported,
    TooLarge,   // an event over max_event_bytes: relist after a backoff
    NotServed,  // 404 on a custom resource: no objects; look again after absent_recheck
    Stopped
  };
  struct Attempt {
    Outcome outcome = Outcome::Retry;
    std::chrono::milliseconds wait{0};  // Retry-After, when given
    /// The watch was accepted and then delivered events or bookmarks, or stayed
    /// open a while: the server and our version were good at that point.
    bool healthy = false;
  };

  void run();
  Attempt list();
  Attempt watch(bool streaming_list);
  Attempt classify(const Result<ResponseHead>& head, const std::string& body, bool streaming);
  // Handles one watch event line; returns the outcome when the watch must end.
  std::optional<Attempt> onEvent(const char* data, size_t len, bool& initial);
  void finishList();
  /// Reports every known object not in seen_ removed; known_ becomes seen_.
  void removeUnseen();
  /// The server does not serve this custom resource: its objects are gone.
  void notServed();
  /// The server answered a LIST of it: served (logged when it was not).
  void markServed();
  bool sleepFor(std::chrono::milliseconds d);
  std::string query(bool watch, bool streaming_list, const std::string& cont) const;

  Resource resource_;
  ReflectorCallbacks callbacks_;
  ReflectorOptions options_;
  std::unique_ptr<ApiClient> client_;
  ReflectorStats stats_;
  simdjson::dom::parser parser_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool relist_requested_ = false;
  std::string rv_;
  std::thread thread_;

  std::unordered_set<std::string> known_;  // "ns/name" of every live object
  std::unordered_set<std::string> seen_;   // during a (re)list
  std::mt19937_64 rng_{std::random_device{}()};
  Backoff backoff_;
  size_t page_size_;  // options_.page_size, halved while pages exceed max_page_bytes
  bool streaming_disabled_ = false;
  bool initial_done_ = false;  // the last watch completed a streaming list
};

}  // namespace palisade::agent::k8s
