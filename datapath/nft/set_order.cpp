#include "datapath/nft/set_order.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace palisade::datapath::nft {

std::vector<const SetModel*> setsInCreationOrder(const TableModel& table) {
  std::unordered_map<std::string_view, size_t> uses;
  for (const auto& [name, c] : table.chains)
    for (const RuleModel& r : c.rules) {
      if (!r.set.empty()) ++uses[r.set];
      if (!r.ports.empty()) ++uses[r.ports];
    }
  std::vector<const SetModel*> out;
  for (const auto& [name, s] : table.sets) out.push_back(&s);  // by name
  std::stable_sort(out.begin(), out.end(), [&](const SetModel* a, const SetModel* b) {
    return uses[a->name] > uses[b->name];
  });
  return out;
}

}  // namespace palisade::datapath::nft
