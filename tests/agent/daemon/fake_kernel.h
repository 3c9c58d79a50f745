#pragma once
// A Kernel that records what the reconcile loop programs; failures scripted.
#include <atomic>
#include <mutex>

#include "agent/daemon/kernel.h"

namespace palisade::agent::testing {

struct FakeKernelLog {
  std::mutex mu;
  int adopts = 0, syncs = 0, applies = 0;
  std::vector<size_t> apply_delta_counts;  // deltas passed to each apply()
  std::atomic<int> fail_next{0};
  palisade::ir::v1::Ruleset last;
  std::vector<palisade::ir::v1::Ruleset> history;
  std::vector<datapath::nft::QueueRules> queue_rules;  // every setQueueRules()

  int calls() {
    std::lock_guard lock(mu);
    return adopts + syncs + applies;
  }
  palisade::ir::v1::Ruleset lastRuleset() {
    std::lock_guard lock(mu);
    return last;
  }
  const palisade::ir::v1::Endpoint* endpoint(const palisade::ir::v1::Ruleset& rs,
                                             const std::string& ns, const std::string& name) {
    for (const auto& e : rs.endpoints())
      if (e.namespace_() == ns && e.name() == name) return &e;
    return nullptr;
  }
};

class FakeKernel : public Kernel {
 public:
  explicit FakeKernel(std::shared_ptr<FakeKernelLog> log) : log_(std::move(log)) {}
  datapath::Result<datapath::nft::SyncReport> adopt(const palisade::ir::v1::Ruleset& rs) override {
    return record(rs, true);
  }
  datapath::Result<datapath::nft::SyncReport> sync(const palisade::ir::v1::Ruleset& rs) override {
    return record(rs, false);
  }
  /// Records the deltas; the ruleset is what a full sync would have programmed.
  datapath::Result<datapath::nft::SyncReport> apply(
      const palisade::ir::v1::Ruleset& rs,
      std::span<const palisade::ir::v1::RulesetDelta> deltas) override {
    auto r = record(rs, false);
    if (!r) return r;
    std::lock_guard lock(log_->mu);
    --log_->syncs;
    ++log_->applies;
    log_->apply_delta_counts.push_back(deltas.size());
    r->from_ir_delta = true;
    return r;
  }
  datapath::Result<std::map<std::string, KernelCounter>> counters() override {
    return std::map<std::string, KernelCounter>{{"prog_1", {3, 180}}};
  }
  void setQueueRules(const datapath::nft::QueueRules& rules) override {
    std::lock_guard lock(log_->mu);
    log_->queue_rules.push_back(rules);
  }

 private:
  datapath::Result<datapath::nft::SyncReport> record(const palisade::ir::v1::Ruleset& rs,
                                                     bool adopt) {
    if (log_->fail_next > 0) {
      --log_->fail_next;
      return datapath::Error(EINVAL, "scripted rejection");
    }
    std::lock_guard lock(log_->mu);
    (adopt ? log_->adopts : log_->syncs)++;
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
