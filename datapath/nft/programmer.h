#pragma once
// The programmer: keeps table `inet palisade` equal to the latest ruleset.
//
//   ir::Ruleset ─render─▶ TableModel ─diff(current)─▶ Delta ─build─▶ Batch ─send─▶ kernel
//                                                                         │
//                          current = model  ◀──── all acks ok ────────────┘
//
// Pod churn takes a shorter way (apply): the compiler's ir::RulesetDelta is
// rendered alone (delta_render.h) into the same kind of Delta, and `current`
// is edited in place, so a pod change costs the same at 1k and 150k pods.
//
//   ir::RulesetDelta ─renderDelta(current, index)─▶ Delta ─build─▶ Batch ─send─▶ kernel
//
// One batch per revision, all or nothing: when the kernel rejects a batch the
// previous state stays in force and the error names the IR object behind the
// rejected message. A rejection means the kernel is not what `current` says
// (someone else changed it, or we are wrong), so `current` is forgotten: the
// next program reads the table back (adopt) or replaces it, and a stale delta
// is never sent twice. It never touches another table.
//
// Drift (datapath defends itself): repair() reads the table back, diffs it
// with `current` (rules compared by digest: rule_digest.h) and puts it right
// in one batch; drift.h names what it found.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "datapath/nft/batch.h"
#include "datapath/nft/delta_render.h"
#include "datapath/nft/diff.h"
#include "datapath/nft/drift.h"
#include "datapath/nft/readback.h"
#include "datapath/nft/render.h"
#include "datapath/nft/transport.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

struct ProgrammerOptions {
  DenyAction deny = DenyAction::Drop;
  uint32_t table_flags = 0;  // kTableFlagOwner|kTableFlagPersist when the kernel has both
  QueueRules queue;          // NFQUEUE rules (queue_rules.h)
  std::function<void(std::string_view)> log;  // one line per batch; may be empty
};

struct SyncReport {
  enum class Kind { Unchanged, Delta, Replace } kind = Kind::Unchanged;
  size_t messages = 0;  // between BEGIN and END
  size_t bytes = 0;
  size_t element_changes = 0;
  bool elements_only = true;  // no set or chain was added, replaced or deleted
  std::string summary;
  int readback_attempts = 0;   // adopt only
  bool from_ir_delta = false;  // apply(): rendered from the IR delta alone
  std::string full_because;    // apply() took the full path: why
};

struct RepairReport {
  std::vector<DriftChange> drift;  // empty: the kernel holds what we programmed
  SyncReport sync;                 // the repair batch, when there was drift
  uint32_t generation = 0;         // the ruleset generation the check read
};

class Programmer {
 public:
  Programmer(std::unique_ptr<Transport> transport, ProgrammerOptions options);

  /// Programs `ruleset`: an atomic replace when the kernel state is unknown,
  /// else only the difference from the last programmed revision.
  Result<SyncReport> sync(const ir::Ruleset& ruleset);
  /// Programs a pod change: `deltas` (in order) lead from the last programmed
  /// revision to `ruleset`; only the objects they touch are rendered and the
  /// model is updated in place. Takes the full path (sync) when there is no
  /// known kernel state, the revisions do not chain, or the change cannot be
  /// expressed exactly as a delta (SyncReport::full_because says why).
  Result<SyncReport> apply(const ir::Ruleset& ruleset, std::span<const ir::RulesetDelta> deltas);
  /// Creates or atomically replaces the whole table.
  Result<SyncReport> replace(const ir::Ruleset& ruleset);
  /// After a restart: reads the table back and converges with one delta batch
  /// (no flush, no moment without enforcement); creates it when absent.
  Result<SyncReport> adopt(const ir::Ruleset& ruleset);
  /// The queue rules of the next revision (the Service addresses change with
  /// the cluster); programmed by the next sync, adopt or apply.
  void setQueueRules(const QueueRules& rules) { options_.queue = rules; }
  /// At start: takes a live table as it is (no rule changes; only the table
  /// flags, so that ownership passes to this process). False when there is no
  /// table. `current` then holds the readback, which later syncs diff against.
  Result<bool> adoptLive();
  /// Checks the kernel's table against the last programmed model and repairs
  /// what differs in one batch. ENODATA when nothing was programmed yet (or
  /// the model was forgotten): the caller programs its ruleset (adopt) instead.
  Result<RepairReport> repair();
  /// The kernel's ruleset generation (every commit, any table, moves it).
  Result<uint32_t> generation();
  /// Deletes the table; absent is success.
  Status deleteTable();
  /// Deny counters per program chain.
  Result<std::map<std::string, Counter>> counters();

  const std::optional<TableModel>& current() const { return current_; }
  Transport& transport() { return *transport_; }
  const std::string& table() const { return table_; }

 private:
  Result<SyncReport> send(const Batch& batch, SyncReport report);
  Result<TableModel> renderModel(const ir::Ruleset& ruleset, RenderNames* names) const;
  void programmed(const ir::Ruleset& ruleset, TableModel model, RenderNames names);
  void forget();
  BatchOptions nextBatch();

  std::unique_ptr<Transport> transport_;
  ProgrammerOptions options_;
  std::string table_ = kTableName;
  std::optional<TableModel> current_;  // what the kernel holds, when known
  bool current_rendered_ = false;      // current_ came from a ruleset (not only a readback)
  std::optional<DeltaIndex> index_;    // with current_: names and endpoints behind it
  uint64_t revision_ = 0;              // of the ruleset current_ was rendered from
  QueueRules rendered_queue_;          // the queue rules current_ was rendered with
  uint32_t seq_;
};

}  // namespace palisade::datapath::nft
