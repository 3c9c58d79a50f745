#include "agent/daemon/kernel.h"

#include "agent/daemon/log.h"
#include "datapath/nft/model.h"

namespace palisade::agent {

namespace {

class NftKernel : public Kernel {
 public:
  explicit NftKernel(std::unique_ptr<datapath::nft::Programmer> p) : programmer_(std::move(p)) {}
  datapath::Result<datapath::nft::SyncReport> adopt(const palisade::ir::v1::Ruleset& rs) override {
    return programmer_->adopt(rs);
  }
  datapath::Result<datapath::nft::SyncReport> sync(const palisade::ir::v1::Ruleset& rs) override {
    return programmer_->sync(rs);
  }
  datapath::Result<datapath::nft::SyncReport> apply(
      const palisade::ir::v1::Ruleset& rs,
      std::span<const palisade::ir::v1::RulesetDelta> deltas) override {
    return programmer_->apply(rs, deltas);
  }
  datapath::Result<std::map<std::string, KernelCounter>> counters() override {
    auto c = programmer_->counters();
    if (!c) return c.error();
    std::map<std::string, KernelCounter> out;
    for (const auto& [chain, v] : *c) out[chain] = {v.packets, v.bytes};
    return out;
  }

  void setQueueRules(const datapath::nft::QueueRules& rules) override {
    programmer_->setQueueRules(rules);
  }

 private:
  std::unique_ptr<datapath::nft::Programmer> programmer_;
};

}  // namespace

datapath::Result<std::unique_ptr<Kernel>> openNftKernel(datapath::nft::DenyAction deny,
                                                        const datapath::nft::QueueRules& queue) {
  auto transport = datapath::nft::openMnlTransport();
  if (!transport) return transport.error().context("opening netlink");
  datapath::nft::ProgrammerOptions options;
  options.deny = deny;
  options.queue = queue;
  options.log = [](std::string_view line) { logDebug("nft batch", {{"summary", line}}); };
  auto p = std::make_unique<datapath::nft::Programmer>(std::move(transport.value()), options);
  return std::unique_ptr<Kernel>(std::make_unique<NftKernel>(std::move(p)));
}

}  // namespace palisade::agent
