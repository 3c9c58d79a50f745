#pragma once
// A Kernel (agent/daemon/kernel.h) that keeps the packet queue in step with
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

#include "agent/daemon/kernel.h"
#include "agent/queue/service_table.h"
#include "datapath/nft/queue_rules.h"

namespace palisade::agent::queue {

class QueueKernel : public Kernel {
 public:
  /// The revision and the Services staged with it (null when none were).
  using Programmed =
      std::function<void(const palisade::ir::v1::Ruleset&, std::shared_ptr<const ServiceTable>)>;
  /// `programmed` runs after every revision the kernel accepted
  /// (QueueService::programmed). `rules`: the queue rules `inner` was opened with.
  QueueKernel(std::unique_ptr<Kernel> inner, Programmed programmed,
              datapath::nft::QueueRules rules = {})
      : inner_(std::move(inner)), programmed_(std::move(programmed)), rules_(std::move(rules)) {}

  /// The Services of the revision about to be programmed (reconcile thread).
  void stageServices(std::shared_ptr<const ServiceTable> services) {
    staged_ = std::move(services);
  }

  datapath::Result<datapath::nft::SyncReport> adopt(const palisade::ir::v1::Ruleset& rs) override {
    prepare();
    return then(inner_->adopt(rs), rs);
  }
  datapath::Result<datapath::nft::SyncReport> sync(const palisade::ir::v1::Ruleset& rs) override {
    prepare();
    return then(inner_->sync(rs), rs);
  }
  datapath::Result<datapath::nft::SyncReport> apply(
      const palisade::ir::v1::Ruleset& rs,
      std::span<const palisade::ir::v1::RulesetDelta> deltas) override {
    prepare();
    return then(inner_->apply(rs, deltas), rs);
  }
  datapath::Result<std::map<std::string, KernelCounter>> counters() override {
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
  datapath::Result<datapath::nft::SyncReport> then(datapath::Result<datapath::nft::SyncReport> r,
                                                   const palisade::ir::v1::Ruleset& rs) {
    if (!r.ok()) return r;
    programmed_(rs, std::move(staged_));
    staged_.reset();
    return r;
  }
  std::unique_ptr<Kernel> inner_;
  Programmed programmed_;
  datapath::nft::QueueRules rules_;
  std::shared_ptr<const ServiceTable> staged_;
};

}  // namespace palisade::agent::queue
