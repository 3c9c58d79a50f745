#include "datapath/nft/kernel.h"

#include "datapath/nft/model.h"
#include "proto/base/log.h"

namespace palisade::datapath::nft {

namespace {

class NftKernel : public Kernel {
 public:
  explicit NftKernel(std::unique_ptr<Programmer> p)
      : programmer_(std::move(p)), port_(programmer_->transport().portId()) {}
  Result<SyncReport> adopt(const ir::Ruleset& rs) override { return programmer_->adopt(rs); }
  Result<SyncReport> sync(const ir::Ruleset& rs) override { return programmer_->sync(rs); }
  Result<SyncReport> apply(const ir::Ruleset& rs,
                           std::span<const ir::RulesetDelta> deltas) override {
    return programmer_->apply(rs, deltas);
  }
  Result<bool> adoptLive() override { return programmer_->adoptLive(); }
  Result<RepairReport> repair() override { return programmer_->repair(); }
  Result<uint32_t> generation() override { return programmer_->generation(); }
  uint32_t portId() const override { return port_; }
  Result<std::map<std::string, KernelCounter>> counters() override {
    auto c = programmer_->counters();
    if (!c) return c.error();
    std::map<std::string, KernelCounter> out;
    for (const auto& [chain, v] : *c) out[chain] = {v.packets, v.bytes};
    return out;
  }

  void setQueueRules(const QueueRules& rules) override { programmer_->setQueueRules(rules); }

 private:
  std::unique_ptr<Programmer> programmer_;
  uint32_t port_;
};

}  // namespace

Result<std::unique_ptr<Kernel>> openNftKernel(DenyAction deny, const QueueRules& queue,
                                              uint32_t table_flags) {
  auto transport = openMnlTransport();
  if (!transport) return transport.error().context("opening netlink");
  ProgrammerOptions options;
  options.deny = deny;
  options.queue = queue;
  options.table_flags = table_flags;
  options.log = [](std::string_view line) { logDebug("nft batch", {{"summary", line}}); };
  auto p = std::make_unique<Programmer>(std::move(transport.value()), options);
  return std::unique_ptr<Kernel>(std::make_unique<NftKernel>(std::move(p)));
}

}  // namespace palisade::datapath::nft
