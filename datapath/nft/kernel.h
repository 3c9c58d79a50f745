#pragma once
// What the reconcile loop needs from the datapath, behind an interface so the
// loop is testable without CAP_NET_ADMIN: the nft Programmer in production, a
// recording fake in tests.
#include <map>
#include <memory>
#include <span>
#include <string>

#include "datapath/nft/programmer.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

struct KernelCounter {
  uint64_t packets = 0, bytes = 0;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  /// Converges with what the kernel holds (read back, one delta; no flush).
  virtual Result<SyncReport> adopt(const ir::Ruleset& rs) = 0;
  /// Programs the difference from the last programmed ruleset.
  virtual Result<SyncReport> sync(const ir::Ruleset& rs) = 0;
  /// Programs pod changes: `deltas` lead from the last programmed revision to
  /// `rs`, and only what they touch is rendered and sent. An implementation
  /// without a delta path (or a change it cannot express) takes sync(rs).
  virtual Result<SyncReport> apply(const ir::Ruleset& rs,
                                   std::span<const ir::RulesetDelta> deltas) {
    (void)deltas;
    return sync(rs);
  }
  /// At start: takes a live table as it is (nothing rolled back); false when
  /// there is no table (after a reboot).
  virtual Result<bool> adoptLive() = 0;
  /// Reads the table back and repairs what differs from the last programmed
  /// revision, in one batch. ENODATA: nothing programmed to compare with.
  virtual Result<RepairReport> repair() = 0;
  /// The ruleset generation (moves on every commit of any table).
  virtual Result<uint32_t> generation() = 0;
  /// The netlink port whose changes are ours (the table monitor skips them).
  virtual uint32_t portId() const = 0;
  virtual Result<std::map<std::string, KernelCounter>> counters() = 0;
  /// The packet-queue rules of the next revision (their Service addresses
  /// follow the cluster). A kernel without queue rules ignores them.
  virtual void setQueueRules(const QueueRules& rules) { (void)rules; }
};

/// The real datapath: table inet palisade through netlink.
/// `queue`: the packet-queue rules to render (none by default).
/// `table_flags`: owner|persist where the kernel has both (probe.h), else 0.
Result<std::unique_ptr<Kernel>> openNftKernel(DenyAction deny, const QueueRules& queue = {},
                                              uint32_t table_flags = 0);

}  // namespace palisade::datapath::nft
