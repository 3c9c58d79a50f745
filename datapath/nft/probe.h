#pragma once
// Kernel feature probes, run once at start. Each probe programs a throwaway
// table in a throwaway network namespace (a thread that unshares its netns;
// the namespace dies with the thread), or, where unshare is not allowed, a
// throwaway table `palisade_probe_<pid>` in the current namespace that is
// deleted right after. Nothing is left behind either way.
#include <string>

#include "proto/base/result.h"

namespace palisade::datapath::nft {

struct Features {
  bool native_queue = false;      // nft `queue` expression
  bool compat_nfqueue = false;    // xtables NFQUEUE target through nft_compat
  bool concat_intervals = false;  // interval sets of concatenations (pipapo): port sets need it
  bool table_owner = false;       // NFT_TABLE_F_OWNER (5.12)
  bool table_persist = false;     // NFT_TABLE_F_PERSIST (6.9)
  std::string where;              // "throwaway netns" or "throwaway table in this netns"

  /// Owner+persist together: the table is ours while we run and survives a
  /// restart for adoption. Owner alone would delete it when we exit, so never alone.
  uint32_t tableFlags() const;
  /// "queue: nfqueue via compat; concat intervals: yes; table flags: owner,persist"
  std::string summary() const;
};

Result<Features> probeFeatures();

/// The queue statement to use: true for the native `queue` expression, false
/// for the xtables NFQUEUE target through nft_compat; an error with neither.
Result<bool> probeQueueStatement();

}  // namespace palisade::datapath::nft
