#pragma once
// The reconcile loop. Producers (API reflectors, the manifest watcher, signal
// handling) push changes from any thread; one loop thread owns the cluster
// state, the incremental compiler and the kernel, and coalesces whatever has
// queued up into one ruleset and one kernel batch:
//
//   upsert/remove/synced ──▶ queue ──▶ [loop] apply batch ──▶ pods only? delta : recompile
//                                              │                        │
//                                   all resources synced?  ──no──▶ (keep the kernel as is)
//                                              │yes
//                                              ▼
//                        first time: kernel.adopt(ruleset); pods only: kernel.apply(ruleset,
//                        the compiler's deltas since the last programmed revision); else
//                        kernel.sync(ruleset)
//                                              ▼
//                        metrics (event → ack), checkpoint (rate-limited, atomic)
//
// Until every resource has completed its first list, nothing is programmed:
// the kernel keeps whatever it had (the previous agent's table, adopted as it
// is, or after a reboot the checkpoint). A rejected batch leaves the previous
// ruleset in force; the retry reads the table back and resynchronises
// (adopt), never resending the rejected delta.
//
// Drift (DESIGN §11): the table monitor's events (driftSuspected) and a
// periodic look at the ruleset generation make the loop read the table back
// and repair any difference in one batch. ready() is false while the kernel
// differs from what the loop believes is in force and cannot be repaired.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <variant>

#include "agent/daemon/metrics.h"
#include "datapath/nft/kernel.h"
#include "policy/compile/incremental.h"
#include "policy/kinds/kinds.h"
#include "policy/manifest/reader.h"
#include "policy/state/cluster_state.h"

namespace palisade::agent {

using Clock = std::chrono::steady_clock;

struct ReconcilerOptions {
  std::string node;
  std::string state_dir;  // empty: no checkpoint
  /// Resources whose first complete list gates programming ("pods", ...).
  std::set<std::string> required_resources;
  std::chrono::milliseconds checkpoint_interval{5000};
  std::chrono::milliseconds retry_interval{1000};      // after a rejected batch
  std::chrono::milliseconds counters_interval{10000};  // nft deny counters → metrics
  std::chrono::milliseconds stuck_after{120000};       // /healthz fails past this
  /// The safety net behind the monitor: this often the ruleset generation is
  /// read, and when another commit moved it the table is checked (0: never).
  std::chrono::milliseconds drift_check_interval{10000};
  /// Before each revision goes to the kernel, on the reconcile thread, with
  /// the state it was compiled from (the packet queue stages its Service
  /// table here: queue_kernel.h).
  std::function<void(const policy::ClusterState&)> before_program;
  /// Runs on each object before it enters the state; an exception rejects
  /// that object alone (logged, counted in objects_rejected). The agent sets
  /// none; tests use it to inject a fault.
  std::function<void(const policy::AnyObject&)> admit;
};

class Reconciler {
 public:
  Reconciler(ReconcilerOptions options, std::unique_ptr<datapath::nft::Kernel> kernel,
             Metrics& metrics);
  ~Reconciler();

  /// At start, before any API access: a live table is adopted as it is (it is
  /// never older than the checkpoint, so nothing is rolled back); only when
  /// the table is gone (a reboot) is the checkpoint programmed, and it stays
  /// in force until every resource has synced.
  void restoreCheckpoint();
  void start();
  /// Stops the loop, writes a pending checkpoint. The kernel table stays.
  void stop();

  // ---- producers (any thread) ----
  void upsert(policy::AnyObject object, Clock::time_point received = Clock::now());
  void remove(policy::KindId kind, std::string ns, std::string name,
              Clock::time_point received = Clock::now());
  void synced(const std::string& resource);
  /// Standalone mode: the whole state becomes `set`.
  void replaceAll(policy::ManifestSet set);
  /// Recompiles everything and re-adopts the kernel table (SIGHUP).
  void resync();
  /// Someone else may have changed the table (the monitor's description):
  /// read it back and repair it.
  void driftSuspected(std::string what);

  /// Programmed once, and the kernel holds what we believe is in force.
  bool ready() const { return metrics_.ready && metrics_.defence.kernel_in_sync; }
  /// Why ready() is false ("" when it is true).
  std::string notReadyReason() const;
  bool healthy() const;
  /// Blocks until the queue is empty and the result programmed (tests).
  bool waitIdle(std::chrono::milliseconds limit);
  uint64_t programmedRevision() const { return programmed_revision_; }
  std::string lastError() const;

 private:
  struct Change {
    enum class Op { Upsert, Remove, Synced, Replace, Resync, Drift };
    Op op = Op::Upsert;
    policy::KindId kind{};
    std::optional<policy::AnyObject> object;
    std::string ns, name;
    std::shared_ptr<policy::ManifestSet> manifests;
    Clock::time_point at;
  };

  void push(Change c);
  void run();
  // Applies one batch; returns true when the ruleset must be programmed.
  bool applyBatch(std::deque<Change>& batch, Clock::time_point& oldest);
  void applyToState(Change& c);
  void applyChange(Change& c, bool full, bool& changed, Clock::time_point& oldest);
  void program(Clock::time_point oldest);
  /// Reads the table back and repairs drift; `why` names what prompted it.
  void checkDrift(const std::string& why);
  void maybeCheckGeneration();
  void kernelDiffers(const std::string& error);
  void maybeCheckpoint(bool force);
  void refreshCounters();

  ReconcilerOptions options_;
  std::unique_ptr<datapath::nft::Kernel> kernel_;
  Metrics& metrics_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Change> queue_;
  bool stopping_ = false;
  bool busy_ = false;
  std::thread thread_;
  std::atomic<int64_t> heartbeat_ms_{0};
  std::atomic<uint64_t> programmed_revision_{0};
  std::string last_error_;

  // Loop thread only.
  policy::ClusterState state_;
  std::unique_ptr<policy::IncrementalCompiler> compiler_;
  std::set<std::string> synced_;
  bool all_synced_ = false;
  bool adopted_ = false;      // the first programming (adopt) has happened
  bool dirty_ = false;        // the state changed since the last successful program
  bool force_adopt_ = false;  // resync: read the kernel back again
  // The compiler's deltas since the last programmed revision, while every
  // change since then was a pod change (else the kernel takes the full path).
  std::vector<ir::RulesetDelta> pending_deltas_;
  bool deltas_cover_changes_ = false;
  std::optional<Clock::time_point> pending_since_;
  std::optional<Clock::time_point> retry_at_;
  bool checkpoint_pending_ = false;
  // Unset until the first time: a default time point is the clock's epoch
  // (boot), so "an interval since then" would hold the first one back on a
  // machine up for less than the interval.
  std::optional<Clock::time_point> last_checkpoint_;
  std::optional<Clock::time_point> last_counters_;
  bool drift_pending_ = false;  // a Drift change arrived: check after this batch
  std::string drift_why_;
  std::optional<uint32_t> checked_generation_;  // after our last commit or check
  std::optional<Clock::time_point> last_generation_check_;
  bool recompile_needed_ = false;  // a change threw: the compiler may be mid-change
};

/// Ruleset size figures (metrics, status).
RulesetSize measureRuleset(const ir::Ruleset& rs);

}  // namespace palisade::agent
