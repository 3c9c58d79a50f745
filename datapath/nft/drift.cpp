#include "datapath/nft/drift.h"

namespace palisade::datapath::nft {

std::vector<DriftChange> describeDrift(const TableModel& kernel, const Delta& repair,
                                       bool table_missing) {
  std::vector<DriftChange> out;
  if (table_missing) {
    out.push_back({"table_deleted", "table inet " + repair.table + " is gone"});
    return out;
  }
  if (repair.table_flags) out.push_back({"table_flags", "table flags changed"});
  for (const auto& s : repair.add_sets)
    out.push_back({"set_deleted", "set " + s.name + " is gone"});
  for (const auto& s : repair.delete_sets)
    out.push_back({"foreign_object", "set " + s + " is not ours"});
  for (const auto& c : repair.add_chains)
    out.push_back({"chain_deleted", "chain " + c.name + " is gone"});
  for (const auto& c : repair.replace_chains)
    out.push_back({"chain_changed", "chain " + c.name + " changed (hook, policy or layout)"});
  for (const auto& c : repair.rewrite_chains) {
    size_t held = 0;
    if (auto k = kernel.chains.find(c.name); k != kernel.chains.end() && k->second.rule_digests)
      held = k->second.rule_digests->size();
    std::string detail = "chain " + c.name + ": rules changed (" + std::to_string(held) +
                         " in the kernel, " + std::to_string(c.rules.size()) + " ours)";
    out.push_back({held == 0 ? "chain_flushed" : "chain_rules", std::move(detail)});
  }
  for (const auto& c : repair.delete_chains)
    out.push_back({"foreign_object", "chain " + c + " is not ours"});
  for (const auto& e : repair.elements) {
    size_t missing = e.add_ranges.size() + e.add_jumps.size();
    size_t foreign = e.remove_ranges.size() + e.remove_jumps.size();
    if (missing)
      out.push_back(
          {"element_removed", std::to_string(missing) + " elements missing from " + e.set});
    if (foreign)
      out.push_back({"foreign_element", std::to_string(foreign) + " foreign elements in " + e.set});
  }
  return out;
}

std::string driftSummary(const std::vector<DriftChange>& changes) {
  std::string s;
  for (const auto& c : changes) {
    if (!s.empty()) s += "; ";
    s += c.detail;
  }
  return s;
}

}  // namespace palisade::datapath::nft
