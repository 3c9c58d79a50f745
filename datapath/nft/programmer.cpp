#include "datapath/nft/programmer.h"

#include <ctime>

namespace palisade::datapath::nft {

Programmer::Programmer(std::unique_ptr<Transport> transport, ProgrammerOptions options)
    : transport_(std::move(transport)),
      options_(std::move(options)),
      seq_(static_cast<uint32_t>(std::time(nullptr))) {}

BatchOptions Programmer::nextBatch() {
  BatchOptions o;
  o.first_seq = seq_;
  return o;
}

Result<TableModel> Programmer::renderModel(const ir::Ruleset& rs, RenderNames* names) const {
  RenderOptions ro;
  ro.deny = options_.deny;
  ro.table_flags = options_.table_flags;
  ro.queue = options_.queue;
  auto m = render(rs, ro, names);
  if (!m) return m.error().context("rendering revision " + std::to_string(rs.revision()));
  return m;
}

Result<SyncReport> Programmer::send(const Batch& batch, SyncReport report) {
  seq_ = batch.lastSeq() + 1;
  report.messages = batch.messageCount();
  report.bytes = batch.size();
  const std::string where = "programming table inet " + table_;
  auto acks = transport_->sendBatch({batch.data(), batch.size()});
  if (!acks) {
    forget();  // the kernel state is unknown now: the next sync re-reads it
    return acks.error().context(where);
  }
  bool last_acked = false;
  for (const Ack& a : *acks) {
    if (a.error == 0) {
      last_acked |= a.seq == batch.lastSeq() - 1;
      continue;
    }
    std::string what = batch.describe(a.seq);
    std::string msg = where + ": " + (what.empty() ? "seq " + std::to_string(a.seq) : what);
    if (!a.message.empty()) msg += " [" + a.message + "]";
    if (a.error == EPERM)
      msg +=
          " (needs CAP_NET_ADMIN in this network namespace, and the table must not be owned "
          "by another process)";
    forget();  // the kernel is not what we believed: never resend this delta
    return Error(a.error, msg);
  }
  if (!last_acked && batch.messageCount() > 0) {
    forget();
    return Error(EPROTO, where + ": the kernel did not acknowledge the batch");
  }
  if (options_.log) options_.log(where + ": " + report.summary);
  return report;
}

void Programmer::programmed(const ir::Ruleset& rs, TableModel model, RenderNames names) {
  current_ = std::move(model);
  current_rendered_ = true;
  index_ = DeltaIndex::build(rs, std::move(names));
  rendered_queue_ = options_.queue;
  revision_ = rs.revision();
}

void Programmer::forget() {
  current_.reset();
  current_rendered_ = false;
  index_.reset();
}

Result<SyncReport> Programmer::replace(const ir::Ruleset& rs) {
  RenderNames names;
  auto model = renderModel(rs, &names);
  if (!model) return model.error();
  Batch b = buildReplace(*model, nextBatch());
  SyncReport r;
  r.kind = SyncReport::Kind::Replace;
  r.elements_only = false;
  r.summary = "replaced: " + std::to_string(model->sets.size()) + " sets, " +
              std::to_string(model->chains.size()) + " chains";
  auto sent = send(b, r);
  if (sent) programmed(rs, std::move(*model), std::move(names));
  return sent;
}

Result<SyncReport> Programmer::sync(const ir::Ruleset& rs) {
  if (!current_) return replace(rs);
  RenderNames names;
  auto model = renderModel(rs, &names);
  if (!model) return model.error();
  Delta d = diff(*current_, *model);
  SyncReport r;
  r.element_changes = d.elementChanges();
  r.elements_only = d.elementsOnly();
  r.summary = d.summary();
  if (d.empty()) {
    programmed(rs, std::move(*model), std::move(names));  // origins follow the newest IR
    return r;
  }
  r.kind = d.recreate_table ? SyncReport::Kind::Replace : SyncReport::Kind::Delta;
  Batch b = d.recreate_table ? buildReplace(*model, nextBatch()) : buildDelta(d, nextBatch());
  auto sent = send(b, r);
  if (sent) programmed(rs, std::move(*model), std::move(names));
  return sent;
}

Result<SyncReport> Programmer::apply(const ir::Ruleset& rs,
                                     std::span<const ir::RulesetDelta> deltas) {
  auto full = [&](std::string why) -> Result<SyncReport> {
    auto r = sync(rs);
    if (r) r->full_because = std::move(why);
    return r;
  };
  if (!current_ || !index_) return full("kernel state unknown");
  if (deltas.empty()) return full("no delta");
  // New queue rules (Service addresses) change sets the IR delta knows nothing of.
  if (!(options_.queue == rendered_queue_)) return full("queue rules changed");
  uint64_t at = revision_;
  for (const auto& d : deltas) {
    if (d.from_revision() != at) return full("revisions do not chain");
    at = d.to_revision();
  }
  if (at != rs.revision()) return full("revisions do not chain");
  std::string why;
  auto rendered = renderDelta(*current_, *index_, rs, deltas, options_.deny, why);
  if (!rendered) return full(why);
  const Delta& d = rendered->delta;
  SyncReport r;
  r.from_ir_delta = true;
  r.element_changes = d.elementChanges();
  r.elements_only = d.elementsOnly();
  r.summary = d.summary();
  if (!d.empty()) {
    r.kind = SyncReport::Kind::Delta;
    auto sent = send(buildDelta(d, nextBatch()), r);
    if (!sent) return sent;
    r = *sent;
    nft::apply(*current_, d);
  }
  commit(*index_, std::move(*rendered));
  revision_ = rs.revision();
  return r;
}

Result<SyncReport> Programmer::adopt(const ir::Ruleset& rs) {
  auto kernel = readTable(*transport_, table_, seq_);
  if (!kernel) return kernel.error().context("adopting table inet " + table_);
  if (!kernel->table) {
    if (options_.log) options_.log("table inet " + table_ + " absent: creating it");
    return replace(rs);
  }
  current_ = std::move(*kernel->table);
  current_rendered_ = false;
  index_.reset();  // rebuilt by the sync below, from the ruleset it converges to
  auto r = sync(rs);
  if (!r) {
    // The delta from the readback was refused (the kernel moved again, or it
    // holds something our diff cannot undo): one atomic replace instead.
    if (options_.log) options_.log("adopting by delta failed (" + r.error().str() + "): replacing");
    r = replace(rs);
    if (r) r->full_because = "the delta from the readback was rejected";
  }
  if (r) r->readback_attempts = kernel->attempts;
  return r;
}

Result<bool> Programmer::adoptLive() {
  auto kernel = readTable(*transport_, table_, seq_);
  if (!kernel) return kernel.error().context("adopting table inet " + table_);
  if (!kernel->table) return false;
  forget();
  const uint32_t held = kernel->table->flags;
  current_ = std::move(*kernel->table);
  if (held == options_.table_flags) return true;
  if (!tableFlagsUpdatable(held, options_.table_flags)) {
    // Left as it is: the first full sync re-creates it with our flags, atomically.
    if (options_.log)
      options_.log("table inet " + table_ + " has flags " + std::to_string(held) +
                   ", which cannot become " + std::to_string(options_.table_flags) +
                   " in place: the first full sync re-creates it");
    return true;
  }
  Delta d;
  d.table = table_;
  d.table_flags = options_.table_flags;
  SyncReport r;
  r.summary = "table flags";
  auto sent = send(buildDelta(d, nextBatch()), r);
  if (!sent) return sent.error().context("taking over table inet " + table_);
  current_->flags = options_.table_flags;
  return true;
}

Result<RepairReport> Programmer::repair() {
  if (!current_ || !current_rendered_)
    return Error(ENODATA, "table inet " + table_ + ": nothing programmed to compare with");
  auto kernel = readTable(*transport_, table_, seq_);
  if (!kernel) return kernel.error().context("checking table inet " + table_);
  RepairReport out;
  out.generation = kernel->generation;
  const bool missing = !kernel->table;
  Delta d = missing ? Delta{} : diff(*kernel->table, *current_);
  if (!missing && d.empty()) return out;
  out.drift = describeDrift(missing ? TableModel{} : *kernel->table, d, missing);
  SyncReport r;
  r.elements_only = !missing && d.elementsOnly();
  r.element_changes = missing ? 0 : d.elementChanges();
  r.summary = "repaired: " + driftSummary(out.drift);
  // The model stays what it was: the batch makes the kernel equal to it again.
  TableModel model = *current_;
  const bool whole = missing || d.recreate_table;
  r.kind = whole ? SyncReport::Kind::Replace : SyncReport::Kind::Delta;
  auto sent = send(whole ? buildReplace(model, nextBatch()) : buildDelta(d, nextBatch()), r);
  if (!sent) return sent.error().context("repairing table inet " + table_);
  out.sync = *sent;
  return out;
}

Result<uint32_t> Programmer::generation() { return readGeneration(*transport_, seq_); }

Status Programmer::deleteTable() {
  Batch b = buildDeleteTable(table_, nextBatch());
  auto sent = send(b, SyncReport{});
  forget();
  if (!sent && sent.error().code() != ENOENT) return sent.error();
  return okStatus();
}

Result<std::map<std::string, Counter>> Programmer::counters() {
  return readCounters(*transport_, table_, seq_);
}

}  // namespace palisade::datapath::nft
