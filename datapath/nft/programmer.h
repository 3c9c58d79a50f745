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
// previous state stays in force, `current` is unchanged and the error names
// the IR object behind the rejected message. It never touches another table.
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
  std::optional<DeltaIndex> index_;    // with current_: names and endpoints behind it
  uint64_t revision_ = 0;              // of the ruleset current_ was rendered from
  QueueRules rendered_queue_;          // the queue rules current_ was rendered with
  uint32_t seq_;
};

}  // namespace palisade::datapath::nft
