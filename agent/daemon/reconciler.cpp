#include "agent/daemon/reconciler.h"

#include <type_traits>

#include "agent/daemon/checkpoint.h"
#include "datapath/nft/drift.h"
#include "proto/base/log.h"
#include "proto/base/version.h"

namespace palisade::agent {

using namespace std::chrono_literals;

RulesetSize measureRuleset(const ir::Ruleset& rs) {
  RulesetSize s;
  s.revision = rs.revision();
  s.endpoints = uint64_t(rs.endpoints_size());
  s.programs = uint64_t(rs.programs_size());
  for (const auto& p : rs.programs()) s.rules += uint64_t(p.rules_size());
  for (const auto& ps : rs.peer_sets()) s.set_elements += uint64_t(ps.v4_size() + ps.v6_size());
  for (const auto& ps : rs.port_sets()) s.set_elements += uint64_t(ps.ranges_size());
  return s;
}

static int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

Reconciler::Reconciler(ReconcilerOptions options, std::unique_ptr<datapath::nft::Kernel> kernel,
                       Metrics& metrics)
    : options_(std::move(options)), kernel_(std::move(kernel)), metrics_(metrics) {
  heartbeat_ms_ = nowMs();
}

Reconciler::~Reconciler() { stop(); }

void Reconciler::restoreCheckpoint() {
  // A live table is what the kernel enforces now, and it is never older than
  // the checkpoint (written at most every checkpoint_interval after it):
  // converging it to the checkpoint would remove what the previous agent
  // programmed since then. It is taken as it is; the first full sync converges it.
  auto live = kernel_->adoptLive();
  if (!live) {
    ++metrics_.kernel_batch_errors;
    logError("reading the kernel table at start failed; leaving the kernel as it is",
             {{"error", live.error().str()}});
    return;
  }
  if (*live) {
    logInfo("live table adopted as it is; the first full sync converges it");
    return;
  }
  if (options_.state_dir.empty()) {
    logInfo("no table and no state dir: nothing is enforced until the first full sync");
    return;
  }
  auto cp = readCheckpoint(options_.state_dir);
  if (!cp) {
    logWarn("ignoring checkpoint", {{"error", cp.error().str()}});
    return;
  }
  if (!cp->has_value()) {
    logInfo("no table and no checkpoint: nothing is enforced until the first full sync");
    return;
  }
  const auto& rs = (*cp)->ruleset();
  if ((*cp)->node() != options_.node) {
    logWarn("checkpoint is for another node, ignoring it",
            {{"checkpoint_node", (*cp)->node()}, {"node", options_.node}});
    return;
  }
  // The table is gone (a reboot): the checkpoint is the newest enforcement
  // there is, in force until every resource has synced.
  auto r = kernel_->sync(rs);
  if (!r) {
    ++metrics_.kernel_batch_errors;
    logError("programming the checkpoint failed", {{"error", r.error().str()}});
    return;
  }
  adopted_ = true;
  programmed_revision_ = rs.revision();
  metrics_.setRulesetSize(measureRuleset(rs));
  logInfo("no table (reboot?): checkpoint programmed until the API answers",
          {{"revision", rs.revision()},
           {"written_by", (*cp)->agent_version()},
           {"written_unix_ms", (*cp)->written_unix_ms()},
           {"endpoints", rs.endpoints_size()}});
}

void Reconciler::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void Reconciler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    maybeCheckpoint(true);
  }
}

void Reconciler::push(Change c) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(c));
  }
  cv_.notify_all();
}

void Reconciler::upsert(policy::AnyObject object, Clock::time_point received) {
  Change c;
  c.op = Change::Op::Upsert;
  c.kind = policy::kindOf(object);
  c.object = std::move(object);
  c.at = received;
  push(std::move(c));
}

void Reconciler::remove(policy::KindId kind, std::string ns, std::string name,
                        Clock::time_point received) {
  Change c;
  c.op = Change::Op::Remove;
  c.kind = kind;
  c.ns = std::move(ns);
  c.name = std::move(name);
  c.at = received;
  push(std::move(c));
}

void Reconciler::synced(const std::string& resource) {
  Change c;
  c.op = Change::Op::Synced;
  c.name = resource;
  c.at = Clock::now();
  push(std::move(c));
}

void Reconciler::replaceAll(policy::ManifestSet set) {
  Change c;
  c.op = Change::Op::Replace;
  c.manifests = std::make_shared<policy::ManifestSet>(std::move(set));
  c.at = Clock::now();
  push(std::move(c));
}

void Reconciler::resync() {
  Change c;
  c.op = Change::Op::Resync;
  c.at = Clock::now();
  push(std::move(c));
}

void Reconciler::driftSuspected(std::string what) {
  Change c;
  c.op = Change::Op::Drift;
  c.name = std::move(what);
  c.at = Clock::now();
  push(std::move(c));
}

std::string Reconciler::notReadyReason() const {
  if (!metrics_.ready) return "first full sync not done";
  if (metrics_.defence.kernel_in_sync) return "";
  std::lock_guard lock(mu_);
  return "the kernel differs from the ruleset in force and could not be repaired yet: " +
         last_error_;
}

bool Reconciler::healthy() const { return nowMs() - heartbeat_ms_ < options_.stuck_after.count(); }

std::string Reconciler::lastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

bool Reconciler::waitIdle(std::chrono::milliseconds limit) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    {
      std::lock_guard lock(mu_);
      if (queue_.empty() && !busy_) return true;
    }
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

namespace {

/// The kinds the incremental compiler turns into deltas (the rest recompile).
bool incremental(policy::KindId kind) {
  bool yes = false;
  policy::Kinds::with(kind, [&]<class K>() {
    using T = typename K::Object;
    yes = std::is_same_v<T, policy::Pod> || std::is_same_v<T, policy::NetworkPolicy> ||
          std::is_same_v<T, policy::Namespace> || std::is_base_of_v<policy::ClusterPolicy, T>;
  });
  return yes;
}

}  // namespace

void Reconciler::applyToState(Change& c) {
  if (c.op == Change::Op::Upsert)
    policy::upsertInto(state_, *c.object);
  else
    policy::removeFrom(state_, c.kind, c.ns, c.name);
}

void Reconciler::applyChange(Change& c, bool full, bool& changed, Clock::time_point& oldest) {
  switch (c.op) {
    case Change::Op::Synced:
      if (synced_.insert(c.name).second) logInfo("resource synced", {{"resource", c.name}});
      break;
    case Change::Op::Drift:
      drift_pending_ = true;
      if (!drift_why_.empty()) drift_why_ += "; ";
      drift_why_ += c.name;
      break;
    case Change::Op::Replace:
      compiler_.reset();
      state_ = policy::ClusterState::fromManifests(*c.manifests);
      all_synced_ = true;
      changed = true;
      break;
    case Change::Op::Resync:
      ++metrics_.resyncs;
      force_adopt_ = true;
      changed = true;
      break;
    case Change::Op::Upsert:
    case Change::Op::Remove:
      if (c.object && options_.admit) options_.admit(*c.object);
      changed = true;
      oldest = std::min(oldest, c.at);
      // Pod, policy, cluster-policy and namespace changes become deltas when
      // nothing else in the batch forces a recompile; otherwise every write
      // goes straight to the state.
      if (!full && compiler_) {
        std::optional<ir::RulesetDelta> d = c.op == Change::Op::Upsert
                                                ? compiler_->upsert(*c.object)
                                                : compiler_->remove(c.kind, c.ns, c.name);
        if (d) {  // a full one (compaction, a new named-port number) takes the full path
          pending_deltas_.push_back(std::move(*d));
          break;
        }
      }
      applyToState(c);
      break;
  }
}

bool Reconciler::applyBatch(std::deque<Change>& batch, Clock::time_point& oldest) {
  bool full = false;
  bool changed = false;
  for (auto& c : batch) {
    if (c.op == Change::Op::Replace || c.op == Change::Op::Resync) full = true;
    if ((c.op == Change::Op::Upsert || c.op == Change::Op::Remove) && !incremental(c.kind))
      full = true;
  }
  for (auto& c : batch) {
    // One change that throws costs only itself: the rest of the batch (a
    // Synced among them) still lands, and the compiler, which may be halfway
    // through it, recompiles from the state below.
    try {
      applyChange(c, full, changed, oldest);
    } catch (const std::exception& e) {
      ++metrics_.objects_rejected;
      recompile_needed_ = true;
      changed = true;
      std::string ns = c.ns, name = c.name;
      if (c.object)
        std::visit(
            [&](const auto& o) {
              ns = o.meta.namespace_;
              name = o.meta.name;
            },
            *c.object);
      const bool object_change = c.op == Change::Op::Upsert || c.op == Change::Op::Remove;
      logError("applying a change failed; it is skipped",
               {{"kind", object_change ? std::string(policy::kindInfo(c.kind).name) : "-"},
                {"namespace", ns},
                {"name", name},
                {"error", e.what()}});
    }
  }
  if (!all_synced_) {
    all_synced_ = true;
    for (const auto& r : options_.required_resources)
      if (!synced_.count(r)) all_synced_ = false;
    if (all_synced_) {
      logInfo("every resource synced: programming", {{"pods", state_.podCount()}});
      changed = true;
    }
  }
  if (!all_synced_) return false;
  if (!compiler_) {
    compiler_ = std::make_unique<policy::IncrementalCompiler>(state_, options_.node);
    deltas_cover_changes_ = false;
    recompile_needed_ = false;
  } else if (full || recompile_needed_) {
    compiler_->recompile();
    deltas_cover_changes_ = false;
    recompile_needed_ = false;
  }
  return changed;
}

void Reconciler::program(Clock::time_point oldest) {
  const auto& rs = compiler_->ruleset();
  bool adopting = !adopted_ || force_adopt_;
  // Pod changes only since the last programmed revision: the kernel renders
  // just what the deltas touch (and still falls back to a full sync itself).
  const bool by_delta = !adopting && deltas_cover_changes_ && !pending_deltas_.empty();
  if (options_.before_program) options_.before_program(state_);
  auto r = adopting   ? kernel_->adopt(rs)
           : by_delta ? kernel_->apply(rs, pending_deltas_)
                      : kernel_->sync(rs);
  pending_deltas_.clear();
  // After a rejected batch the next deltas would not start at what the kernel
  // holds: the retry is a full sync, and deltas are used again once it lands.
  deltas_cover_changes_ = r.ok();
  if (!r) {
    ++metrics_.kernel_batch_errors;
    logError(
        "programming the kernel failed; the previous ruleset stays in force, the retry "
        "reads the table back",
        {{"revision", rs.revision()}, {"error", r.error().str()}});
    kernelDiffers(r.error().str());
    return;
  }
  auto acked = Clock::now();
  adopted_ = true;
  force_adopt_ = false;
  dirty_ = false;
  retry_at_.reset();
  {
    std::lock_guard lock(mu_);
    last_error_.clear();
  }
  metrics_.defence.kernel_in_sync = true;
  // Our own commit moved the generation: the periodic check starts from here.
  if (auto g = kernel_->generation(); g) checked_generation_ = *g;
  switch (r->kind) {
    case datapath::nft::SyncReport::Kind::Unchanged:
      ++metrics_.syncs_unchanged;
      break;
    case datapath::nft::SyncReport::Kind::Delta:
      ++metrics_.syncs_delta;
      break;
    case datapath::nft::SyncReport::Kind::Replace:
      ++metrics_.syncs_replace;
      break;
  }
  if (oldest != Clock::time_point::max())
    metrics_.sync_duration.observe(std::chrono::duration<double>(acked - oldest).count());
  metrics_.setRulesetSize(measureRuleset(rs));
  programmed_revision_ = rs.revision();
  if (!metrics_.ready) {
    metrics_.ready = true;
    logInfo("first full sync programmed: ready", {{"revision", rs.revision()},
                                                  {"endpoints", rs.endpoints_size()},
                                                  {"programs", rs.programs_size()}});
  }
  logDebug("programmed", {{"revision", rs.revision()},
                          {"summary", r->summary},
                          {"from_ir_delta", r->from_ir_delta ? "yes" : "no"},
                          {"full_because", r->full_because}});
  checkpoint_pending_ = true;
  maybeCheckpoint(false);
}

void Reconciler::kernelDiffers(const std::string& error) {
  {
    std::lock_guard lock(mu_);
    last_error_ = error;
  }
  metrics_.defence.kernel_in_sync = false;
  // What the kernel holds is unknown now: the retry reads it back (adopt) and
  // resynchronises with one batch, whatever a stale model would have sent.
  force_adopt_ = true;
  dirty_ = true;
  retry_at_ = Clock::now() + options_.retry_interval;
}

void Reconciler::checkDrift(const std::string& why) {
  if (!adopted_ || !compiler_) {
    // Nothing of ours programmed yet (a live table adopted as it is, waiting
    // for the API): the first full sync reads the table back anyway.
    logWarn("the kernel table changed before the first full sync; that sync converges it",
            {{"change", why}});
    return;
  }
  ++metrics_.defence.drift_checks;
  auto r = kernel_->repair();
  if (!r) {
    if (r.error().code() != ENODATA) ++metrics_.defence.repair_errors;
    logError("repairing the kernel table failed; resynchronising",
             {{"change", why}, {"error", r.error().str()}});
    kernelDiffers(r.error().str());
    return;
  }
  checked_generation_ = r->generation;
  if (r->drift.empty()) {
    logDebug("table checked: as programmed", {{"change", why}});
    return;
  }
  ++metrics_.defence.drift_detected;
  for (const auto& d : r->drift) metrics_.defence.repaired(d.cause);
  metrics_.defence.last_repair_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();
  metrics_.defence.kernel_in_sync = true;
  if (auto g = kernel_->generation(); g) checked_generation_ = *g;
  logWarn("the kernel table drifted; repaired in one batch",
          {{"change", why},
           {"found", datapath::nft::driftSummary(r->drift)},
           {"messages", r->sync.messages}});
}

void Reconciler::maybeCheckGeneration() {
  if (options_.drift_check_interval.count() <= 0 || !adopted_ || dirty_) return;
  auto now = Clock::now();
  if (last_generation_check_ && now - *last_generation_check_ < options_.drift_check_interval)
    return;
  last_generation_check_ = now;
  auto g = kernel_->generation();
  if (!g) {
    logDebug("reading the ruleset generation failed", {{"error", g.error().str()}});
    return;
  }
  if (checked_generation_ && *g == *checked_generation_) return;
  // Some commit since our last look (any table's): compare ours with the model.
  checkDrift("ruleset generation moved to " + std::to_string(*g));
}

void Reconciler::maybeCheckpoint(bool force) {
  if (!checkpoint_pending_ || options_.state_dir.empty() || !compiler_) return;
  auto now = Clock::now();
  if (!force && last_checkpoint_ && now - *last_checkpoint_ < options_.checkpoint_interval) return;
  palisade::agent::v1::Checkpoint cp;
  cp.set_format(kCheckpointFormat);
  cp.set_node(options_.node);
  cp.set_agent_version(version());
  cp.set_written_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count());
  *cp.mutable_ruleset() = compiler_->ruleset();
  auto w = writeCheckpoint(options_.state_dir, cp);
  last_checkpoint_ = now;
  if (w) {
    checkpoint_pending_ = false;
    ++metrics_.checkpoint_writes;
  } else {
    // Still pending: retried after checkpoint_interval (a full disk frees up,
    // a read-only remount is fixed) until one lands.
    ++metrics_.checkpoint_errors;
    logWarn("writing the checkpoint failed; will retry", {{"error", w.error().str()}});
  }
}

void Reconciler::refreshCounters() {
  auto now = Clock::now();
  if (!adopted_ || (last_counters_ && now - *last_counters_ < options_.counters_interval)) return;
  last_counters_ = now;
  auto c = kernel_->counters();
  if (!c) {
    logDebug("reading deny counters failed", {{"error", c.error().str()}});
    return;
  }
  std::map<std::string, std::pair<uint64_t, uint64_t>> denied;
  for (const auto& [chain, v] : *c) denied[chain] = {v.packets, v.bytes};
  metrics_.setDenied(std::move(denied));
}

void Reconciler::run() {
  while (true) {
    std::deque<Change> batch;
    {
      std::unique_lock lock(mu_);
      std::chrono::milliseconds wait = 500ms;
      if (adopted_ && options_.drift_check_interval.count() > 0)
        wait = std::min(wait, options_.drift_check_interval);
      if (retry_at_)
        wait = std::min<std::chrono::milliseconds>(
            wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::max(*retry_at_ - Clock::now(), Clock::duration(0))));
      cv_.wait_for(lock, wait, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      batch.swap(queue_);
      busy_ = true;
    }
    heartbeat_ms_ = nowMs();
    try {
      auto oldest = Clock::time_point::max();
      if (pending_since_) oldest = *pending_since_;
      if (!batch.empty() && applyBatch(batch, oldest)) dirty_ = true;
      if (dirty_ && all_synced_ && compiler_ && (!retry_at_ || Clock::now() >= *retry_at_)) {
        program(oldest);
        pending_since_ = dirty_ ? std::optional(oldest) : std::nullopt;
      }
      if (drift_pending_) {
        std::string why = std::move(drift_why_);
        drift_pending_ = false;
        drift_why_.clear();
        // A program just ran (or is due): it already converged the kernel.
        if (!dirty_) checkDrift(why);
      }
      maybeCheckGeneration();
      maybeCheckpoint(false);
      refreshCounters();
    } catch (const std::exception& e) {
      // A broken invariant in the compiler must not silently stop the loop;
      // the kernel keeps the last ruleset and the next change retries.
      logError("reconcile failed", {{"error", e.what()}});
      dirty_ = true;
      deltas_cover_changes_ = false;  // the compiler may be mid-change: full sync next
      retry_at_ = Clock::now() + options_.retry_interval;
    }
    std::lock_guard lock(mu_);
    busy_ = false;
  }
}

}  // namespace palisade::agent
