#pragma once
// Reads table `inet palisade` back from the kernel into a TableModel: set and
// map elements, chain names, hooks and comments. Enough to diff against a
// freshly rendered model (chain names are content hashes, base chains carry
// their layout hash in the comment, so rules need not be parsed). The
// generation id is read before and after; if another process committed in
// between, the read is retried.
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "datapath/nft/model.h"
#include "datapath/nft/transport.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

struct ReadbackResult {
  std::optional<TableModel> table;  // nullopt: no such table
  uint32_t generation = 0;
  uint32_t owner = 0;  // port id of the owning socket, 0 = none
  int attempts = 1;
};

/// The ruleset generation id (NFT_MSG_GETGEN).
Result<uint32_t> readGeneration(Transport& t, uint32_t& seq);

Result<ReadbackResult> readTable(Transport& t, const std::string& table, uint32_t& seq);

struct Counter {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool operator==(const Counter&) const = default;
};
/// Sums the counters of each chain's rules (the program chains' deny counters).
Result<std::map<std::string, Counter>> readCounters(Transport& t, const std::string& table,
                                                    uint32_t& seq);

}  // namespace palisade::datapath::nft
