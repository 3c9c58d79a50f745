#pragma once
// A Kernel (agent/daemon/kernel.h) that tells the packet queue about every
// revision the kernel accepted: the reconcile loop stays unaware of the queue,
// and the queue's decider never runs ahead of (or behind) what the kernel's
// queue rules and known-pod sets say.
#include <functional>
#include <memory>

#include "agent/daemon/kernel.h"

namespace palisade::agent::queue {

class QueueKernel : public Kernel {
 public:
  using Programmed = std::function<void(const palisade::ir::v1::Ruleset&)>;
  /// `programmed` runs after every revision the kernel accepted (QueueService::rulesetProgrammed).
  QueueKernel(std::unique_ptr<Kernel> inner, Programmed programmed)
      : inner_(std::move(inner)), programmed_(std::move(programmed)) {}

  datapath::Result<datapath::nft::SyncReport> adopt(const palisade::ir::v1::Ruleset& rs) override {
    return then(inner_->adopt(rs), rs);
  }
  datapath::Result<datapath::nft::SyncReport> sync(const palisade::ir::v1::Ruleset& rs) override {
    return then(inner_->sync(rs), rs);
  }
  datapath::Result<datapath::nft::SyncReport> apply(
      const palisade::ir::v1::Ruleset& rs,
      std::span<const palisade::ir::v1::RulesetDelta> deltas) override {
    return then(inner_->apply(rs, deltas), rs);
  }
  datapath::Result<std::map<std::string, KernelCounter>> counters() override {
    return inner_->counters();
  }

 private:
  datapath::Result<datapath::nft::SyncReport> then(datapath::Result<datapath::nft::SyncReport> r,
                                                   const palisade::ir::v1::Ruleset& rs) {
    if (r.ok()) programmed_(rs);
    return r;
  }
  std::unique_ptr<Kernel> inner_;
  Programmed programmed_;
};

}  // namespace palisade::agent::queue
