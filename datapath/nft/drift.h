#pragma once
// Drift: how the table the kernel holds differs from the table we programmed,
// in words an operator reads in a log line and in causes a metric counts.
// The repair itself is the Delta from the readback to our model (diff.h);
// this names what that delta puts right.
#include <string>
#include <vector>

#include "datapath/nft/diff.h"

namespace palisade::datapath::nft {

struct DriftChange {
  std::string cause;   // metric label: table_deleted, chain_deleted, chain_rules, ...
  std::string detail;  // "chain p_1a2b: 0 of 3 rules left"
};

/// What `repair` (diff(kernel, programmed)) puts right. `table_missing`: the
/// table itself was gone.
std::vector<DriftChange> describeDrift(const TableModel& kernel, const Delta& repair,
                                       bool table_missing);

/// "chain p_1a2b: rules changed; set peers_v4_9: 2 elements missing"
std::string driftSummary(const std::vector<DriftChange>& changes);

}  // namespace palisade::datapath::nft
