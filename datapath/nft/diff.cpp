#include "datapath/nft/diff.h"

#include <algorithm>

#include "datapath/nft/rule_digest.h"

namespace palisade::datapath::nft {

size_t Delta::elementChanges() const {
  size_t n = 0;
  for (const auto& e : elements) n += e.size();
  return n;
}

std::string Delta::summary() const {
  std::string s = std::to_string(elementChanges()) + " element changes in " +
                  std::to_string(elements.size()) + " sets";
  auto part = [&](size_t n, const char* what) {
    if (n) s += ", " + std::to_string(n) + " " + what;
  };
  part(add_sets.size(), "sets added");
  part(delete_sets.size(), "sets deleted");
  part(add_chains.size(), "chains added");
  part(replace_chains.size(), "chains replaced");
  part(rewrite_chains.size(), "chains rewritten");
  part(delete_chains.size(), "chains deleted");
  if (table_flags)
    s += recreate_table ? ", table re-created (owner/persist flags)" : ", table flags";
  return s;
}

void diffRanges(const std::vector<Range>& from, const std::vector<Range>& to,
                std::vector<Range>& add, std::vector<Range>& remove) {
  std::set_difference(to.begin(), to.end(), from.begin(), from.end(), std::back_inserter(add));
  std::set_difference(from.begin(), from.end(), to.begin(), to.end(), std::back_inserter(remove));
}

bool tableFlagsUpdatable(uint32_t from, uint32_t to) {
  constexpr uint32_t kPinned = kTableFlagOwner | kTableFlagPersist;
  if (((from ^ to) & kPinned) == 0) return true;
  return (from & kPinned) == kTableFlagPersist && (to & kPinned) == kPinned;
}

Delta diff(const TableModel& from, const TableModel& to) {
  Delta d;
  d.table = to.name;
  if (from.flags != to.flags) {
    d.table_flags = to.flags;
    d.recreate_table = !tableFlagsUpdatable(from.flags, to.flags);
  }
  for (const auto& [name, s] : to.sets) {
    auto it = from.sets.find(name);
    if (it == from.sets.end() || it->second.key != s.key || it->second.is_map != s.is_map ||
        (!s.is_map && it->second.interval != s.interval)) {
      if (it != from.sets.end()) d.delete_sets.push_back(name);  // never from render
      d.add_sets.push_back(s);
      continue;
    }
    const SetModel& old = it->second;
    ElementDelta e{name, s.key, s.is_map, s.origin, {}, {}, {}, {}, s.interval};
    if (s.is_map) {
      for (const auto& [k, j] : old.jumps) {
        auto n = s.jumps.find(k);
        if (n == s.jumps.end() || !(n->second == j)) e.remove_jumps.emplace_back(k, j);
      }
      for (const auto& [k, j] : s.jumps) {
        auto o = old.jumps.find(k);
        if (o == old.jumps.end() || !(o->second == j)) e.add_jumps.emplace_back(k, j);
      }
    } else {
      diffRanges(old.ranges, s.ranges, e.add_ranges, e.remove_ranges);
    }
    if (e.size()) d.elements.push_back(std::move(e));
  }
  for (const auto& [name, c] : to.chains) {
    auto it = from.chains.find(name);
    if (it == from.chains.end()) {
      d.add_chains.push_back(c);
      continue;
    }
    const ChainModel& old = it->second;
    // A base chain whose policy someone changed is re-created like a changed one.
    bool policy_drifted = old.policy && c.hook && *old.policy != kChainPolicyAccept;
    if (!old.sameContent(c) || old.hook != c.hook || policy_drifted)
      d.replace_chains.push_back(c);
    else if (old.rule_digests && *old.rule_digests != expectedRuleDigests(to.name, c))
      d.rewrite_chains.push_back(c);  // read back: flushed, edited or a foreign rule
  }
  for (const auto& [name, c] : from.chains)
    if (!to.chains.count(name)) d.delete_chains.push_back(name);
  for (const auto& [name, s] : from.sets) {
    auto it = to.sets.find(name);
    if (it == to.sets.end()) d.delete_sets.push_back(name);
  }
  return d;
}

void apply(TableModel& m, const Delta& d) {
  m.name = d.table;
  if (d.table_flags) m.flags = *d.table_flags;
  for (const auto& n : d.delete_sets) m.sets.erase(n);
  for (const auto& s : d.add_sets) m.sets[s.name] = s;
  for (const auto& e : d.elements) {
    SetModel& s = m.sets[e.set];
    if (e.is_map) {
      for (const auto& [k, j] : e.remove_jumps) s.jumps.erase(k);
      for (const auto& [k, j] : e.add_jumps) s.jumps[k] = j;
    } else if ((e.remove_ranges.size() + e.add_ranges.size()) * 16 < s.ranges.size()) {
      // A few changes to a large set (the delta path): edit in place, so the
      // cost follows the change rather than the set.
      for (const Range& r : e.remove_ranges) {
        auto it = std::lower_bound(s.ranges.begin(), s.ranges.end(), r);
        if (it != s.ranges.end() && *it == r) s.ranges.erase(it);
      }
      for (const Range& r : e.add_ranges)
        s.ranges.insert(std::lower_bound(s.ranges.begin(), s.ranges.end(), r), r);
    } else {
      std::vector<Range> kept;
      std::set_difference(s.ranges.begin(), s.ranges.end(), e.remove_ranges.begin(),
                          e.remove_ranges.end(), std::back_inserter(kept));
      std::vector<Range> merged;
      std::merge(kept.begin(), kept.end(), e.add_ranges.begin(), e.add_ranges.end(),
                 std::back_inserter(merged));
      s.ranges = std::move(merged);
    }
  }
  for (const auto& n : d.delete_chains) m.chains.erase(n);
  for (const auto& c : d.add_chains) m.chains[c.name] = c;
  for (const auto& c : d.replace_chains) m.chains[c.name] = c;
  for (const auto& c : d.rewrite_chains) m.chains[c.name] = c;
}

}  // namespace palisade::datapath::nft
