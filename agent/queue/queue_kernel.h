#pragma once
// A datapath::nft::Kernel (datapath/nft/kernel.h) that keeps the packet queue in step with
// every revision the kernel accepted: the reconcile loop stays unaware of the
// queue, and the queue's decider never runs ahead of (or behind) what the
// kernel's queue rules and known-pod sets say.
//
// Services take the same way: stageServices() hands over the Service table
// of the next revision; its addresses go into the queue rules of that
// revision's batch (untranslated Service traffic → queue), and the decider
// gets the table once the kernel accepted the batch.
#include <functional>
#include <memory>

#include "agent/queue/service_table.h"
#include "datapath/nft/kernel.h"
#include "datapath/nft/queue_rules.h"

namespace palisade::agent::queue {

class QueueKernel : public datapath::nft::Kernel {
 public:
  /// The revision and the Services staged with it (null when none were).
  using Programmed = std::function<void(const ir::Ruleset&, std::shared_ptr<const ServiceTable>)>;
  /// `programmed` runs after every revision the kernel accepted
  /// (QueueService::programmed). `rules`: the queue rules `inner` was opened with.
  QueueKernel(std::unique_ptr<datapath::nft::Kernel> inner, Programmed programmed,
              datapath::nft::QueueRules rules = {})
      : inner_(std::move(inner)), programmed_(std::move(programmed)), rules_(std::move(rules)) {}

  /// The Services of the revision about to be programmed (reconcile thread).
  void stageServices(std::shared_ptr<const ServiceTable> services) {
    staged_ = std::move(services);
  }

  Result<datapath::nft::SyncReport> adopt(const ir::Ruleset& rs) override {
    prepare();
    return then(inner_->adopt(rs), rs);
  }
  Result<datapath::nft::SyncReport> sync(const ir::Ruleset& rs) override {
    prepare();
    return then(inner_->sync(rs), rs);
  }
  Result<datapath::nft::SyncReport> apply(const ir::Ruleset& rs,
                                          std::span<const ir::RulesetDelta> deltas) override {
    prepare();
    return then(inner_->apply(rs, deltas), rs);
  }
  Result<bool> adoptLive() override { return inner_->adoptLive(); }
  Result<datapath::nft::RepairReport> repair() override { return inner_->repair(); }
  Result<uint32_t> generation() override { return inner_->generation(); }
  uint32_t portId() const override { return inner_->portId(); }
  Result<std::map<std::string, datapath::nft::KernelCounter>> counters() override {
    return inner_->counters();
  }
  void setQueueRules(const datapath::nft::QueueRules& rules) override {
    rules_ = rules;
    inner_->setQueueRules(rules_);
  }

 private:
  /// Staged Services change the rules only when their addresses changed.
  void prepare() {
    if (!staged_ || !rules_.untranslated_services) return;
    datapath::nft::ServiceMatch match = staged_->kernelMatch();
    if (match == rules_.services) return;
    rules_.services = std::move(match);
    inner_->setQueueRules(rules_);
  }
  Result<datapath::nft::SyncReport> then(Result<datapath::nft::SyncReport> r,
                                         const ir::Ruleset& rs) {
    if (!r.ok()) return r;
    programmed_(rs, std::move(staged_));
    staged_.reset();
    return r;
  }
  std::unique_ptr<datapath::nft::Kernel> inner_;
  Programmed programmed_;
  datapath::nft::QueueRules rules_;
  std::shared_ptr<const ServiceTable> staged_;
};

}  // namespace palisade::agent::queue
