#pragma once
// datapath::nft::diff: old TableModel → new TableModel → the smallest change:
// set/map element adds and removes, new and deleted sets, new, replaced and
// deleted chains. Because names are content-addressed (render.h), a pod change
// is elements only. The delta is lowered to one batch by batch.h in an order
// the kernel accepts: sets before the rules that use them, chains before the
// jumps to them, and deletions last, once nothing refers to them.
#include <string>
#include <vector>

#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

struct ElementDelta {
  std::string set;
  KeyType key = KeyType::Ipv4;
  bool is_map = false;
  std::string origin;
  std::vector<Range> add_ranges, remove_ranges;  // sets
  std::vector<std::pair<U128, Jump>> add_jumps;  // maps
  std::vector<std::pair<U128, Jump>> remove_jumps;
  bool interval = true;  // sets: false = a hash set's single keys
  size_t size() const {
    return add_ranges.size() + remove_ranges.size() + add_jumps.size() + remove_jumps.size();
  }
};

struct Delta {
  std::string table = kTableName;
  std::optional<uint32_t> table_flags;  // set when the table's flags must change
  // ... in a way the kernel refuses in place (tableFlagsUpdatable): only a
  // batch that deletes and re-creates the whole table makes this change.
  bool recreate_table = false;
  std::vector<SetModel> add_sets;  // with their elements
  std::vector<ChainModel> add_chains;
  std::vector<ChainModel> replace_chains;  // deleted and re-added in the same batch
  std::vector<ChainModel> rewrite_chains;  // rules drifted (readback): flushed and refilled
  std::vector<ElementDelta> elements;
  std::vector<std::string> delete_chains;
  std::vector<std::string> delete_sets;

  bool empty() const {
    return !table_flags && add_sets.empty() && add_chains.empty() && replace_chains.empty() &&
           rewrite_chains.empty() && elements.empty() && delete_chains.empty() &&
           delete_sets.empty();
  }
  /// True when only set/map elements change (what pod churn must produce).
  bool elementsOnly() const {
    return !table_flags && add_sets.empty() && add_chains.empty() && replace_chains.empty() &&
           rewrite_chains.empty() && delete_chains.empty() && delete_sets.empty();
  }
  size_t elementChanges() const;
  std::string summary() const;  // "2 elements, 1 chain added, ..."
};

/// Computes the change from `from` to `to`. Sets of the same name but another
/// key type or kind (never produced by render) are deleted and re-added.
Delta diff(const TableModel& from, const TableModel& to);

/// Whether the kernel can change a live table's flags from `from` to `to` in
/// place. It refuses any change of the owner or persist flag, except taking
/// over an orphan (persist, its owner gone) as its new owner; such a change
/// needs the table deleted and re-created in one batch.
bool tableFlagsUpdatable(uint32_t from, uint32_t to);

/// Applies `delta` to `model` (the model of what the kernel holds after the batch).
void apply(TableModel& model, const Delta& delta);

/// Interval difference of two normalized range lists, as whole intervals:
/// intervals only in `from` are removed, only in `to` are added.
void diffRanges(const std::vector<Range>& from, const std::vector<Range>& to,
                std::vector<Range>& add, std::vector<Range>& remove);

}  // namespace palisade::datapath::nft
