#pragma once
// The order in which a table's sets are created, shared by the batch builder
// and the text rendering, so that `nft list` (which lists sets in creation
// order) shows the text rendering whichever of the two loaded the table.
//
// Why not by name: the kernel finds a set by name with a linear walk of the
// table's sets in creation order, for every `lookup` of every rule, so a set
// at position p costs p string compares per use. With thousands of peer sets
// that walk is most of a full sync's kernel time; creating the most used sets
// first (port sets, the peers every egress program allows, e.g. kube-dns)
// minimises it.
#include <vector>

#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

/// The sets of `table` by how many rules use them, most first; ties by name.
std::vector<const SetModel*> setsInCreationOrder(const TableModel& table);

}  // namespace palisade::datapath::nft
