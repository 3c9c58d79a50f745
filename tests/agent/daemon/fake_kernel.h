#pragma once
// A Kernel that records what the reconcile loop programs; failures scripted.
#include <atomic>
#include <mutex>

#include "datapath/nft/kernel.h"

namespace palisade::agent::testing {

struct FakeKernelLog {
  std::mutex mu;
  int adopts = 0, syncs = 0, applies = 0;
  std::vector<size_t> apply_delta_counts;  // deltas passed to each apply()
  std::atomic<int> fail_next{0};
  ir::Ruleset last;
  std::vector<ir::Ruleset> history;
  std::vector<datapath::nft::QueueRules> queue_rules;  // every setQueueRules()
  // The table, as far as the reconcile loop can tell: present (a live table
  // to adopt at start), its drift (what the next repair() finds) and repairs.
  bool table_live = false;
  int live_adopts = 0, repairs = 0, repair_checks = 0;
  std::vector<datapath::nft::DriftChange> drift;  // consumed by the next repair()
  std::atomic<int> repair_fail_next{0};
  uint32_t generation = 1;

  int calls() {
    std::lock_guard lock(mu);
    return adopts + syncs + applies;
  }
  ir::Ruleset lastRuleset() {
    std::lock_guard lock(mu);
    return last;
  }
  const ir::Endpoint* endpoint(const ir::Ruleset& rs, const std::string& ns,
                               const std::string& name) {
    for (const auto& e : rs.endpoints())
      if (e.namespace_() == ns && e.name() == name) return &e;
    return nullptr;
  }
};

class FakeKernel : public datapath::nft::Kernel {
 public:
  explicit FakeKernel(std::shared_ptr<FakeKernelLog> log) : log_(std::move(log)) {}
  Result<datapath::nft::SyncReport> adopt(const ir::Ruleset& rs) override {
    return record(rs, true);
  }
  Result<datapath::nft::SyncReport> sync(const ir::Ruleset& rs) override {
    return record(rs, false);
  }
  /// Records the deltas; the ruleset is what a full sync would have programmed.
  Result<datapath::nft::SyncReport> apply(const ir::Ruleset& rs,
                                          std::span<const ir::RulesetDelta> deltas) override {
    auto r = record(rs, false);
    if (!r) return r;
    std::lock_guard lock(log_->mu);
    --log_->syncs;
    ++log_->applies;
    log_->apply_delta_counts.push_back(deltas.size());
    r->from_ir_delta = true;
    return r;
  }
  Result<bool> adoptLive() override {
    std::lock_guard lock(log_->mu);
    if (log_->table_live) ++log_->live_adopts;
    return log_->table_live;
  }
  Result<datapath::nft::RepairReport> repair() override {
    std::lock_guard lock(log_->mu);
    ++log_->repair_checks;
    if (log_->repair_fail_next > 0) {
      --log_->repair_fail_next;
      return Error(EBUSY, "scripted repair failure");
    }
    if (log_->history.empty()) return Error(ENODATA, "nothing programmed");
    datapath::nft::RepairReport r;
    r.generation = log_->generation;
    r.drift = std::move(log_->drift);
    log_->drift.clear();
    if (!r.drift.empty()) ++log_->repairs;
    return r;
  }
  Result<uint32_t> generation() override {
    std::lock_guard lock(log_->mu);
    return log_->generation;
  }
  uint32_t portId() const override { return 4242; }
  Result<std::map<std::string, datapath::nft::KernelCounter>> counters() override {
    return std::map<std::string, datapath::nft::KernelCounter>{{"prog_1", {3, 180}}};
  }
  void setQueueRules(const datapath::nft::QueueRules& rules) override {
    std::lock_guard lock(log_->mu);
    log_->queue_rules.push_back(rules);
  }

 private:
  Result<datapath::nft::SyncReport> record(const ir::Ruleset& rs, bool adopt) {
    if (log_->fail_next > 0) {
      --log_->fail_next;
      return Error(EINVAL, "scripted rejection");
    }
    std::lock_guard lock(log_->mu);
    (adopt ? log_->adopts : log_->syncs)++;
    log_->table_live = true;
    ++log_->generation;
    log_->last = rs;
    log_->history.push_back(rs);
    datapath::nft::SyncReport r;
    r.kind =
        adopt ? datapath::nft::SyncReport::Kind::Replace : datapath::nft::SyncReport::Kind::Delta;
    return r;
  }
  std::shared_ptr<FakeKernelLog> log_;
};

}  // namespace palisade::agent::testing
