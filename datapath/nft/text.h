#pragma once
// Text rendering of a TableModel in nft syntax: `nft -f` loads it as-is, and
// after programming `nft list table inet palisade` lists the same objects (a
// kernel test compares them). Used by `palisade compile -o nft`.
#include <string>

#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

/// The whole table, as `table inet palisade { ... }`. Table flags (owner,
/// persist) are left out: they belong to the process that programs the table,
/// and `nft -f` would otherwise bind the table's life to the nft process.
std::string renderText(const TableModel& table);

/// One element as nft prints it: "10.0.0.0/8", "10.0.0.1-10.0.0.5", "tcp . 80-90".
std::string formatRange(KeyType key, const Range& r);
std::string formatKey(KeyType key, U128 value);

}  // namespace palisade::datapath::nft
