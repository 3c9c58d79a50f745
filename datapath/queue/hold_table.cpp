#include "datapath/queue/hold_table.h"

namespace palisade::datapath::queue {

bool HoldTable::add(uint32_t id, QueuedPacket packet, Clock::time_point deadline) {
  if (by_id_.size() >= capacity_ || by_id_.count(id)) return false;
  by_id_.emplace(id, Entry{id, packet, deadline});
  by_deadline_.emplace(deadline, id);
  return true;
}

std::vector<HoldTable::Entry> HoldTable::takeExpired(Clock::time_point now) {
  std::vector<Entry> out;
  while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
    auto it = by_id_.find(by_deadline_.begin()->second);
    by_deadline_.erase(by_deadline_.begin());
    if (it == by_id_.end()) continue;
    out.push_back(it->second);
    by_id_.erase(it);
  }
  return out;
}

std::vector<std::pair<HoldTable::Entry, Decision>> HoldTable::takeDecided(
    const std::function<Decision(const QueuedPacket&)>& decide) {
  std::vector<std::pair<Entry, Decision>> out;
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    Decision d = decide(it->second.packet);
    if (d.verdict == Verdict::Hold) {
      ++it;
      continue;
    }
    auto range = by_deadline_.equal_range(it->second.deadline);
    for (auto k = range.first; k != range.second; ++k)
      if (k->second == it->first) {
        by_deadline_.erase(k);
        break;
      }
    out.emplace_back(it->second, std::move(d));
    it = by_id_.erase(it);
  }
  return out;
}

std::vector<HoldTable::Entry> HoldTable::takeAll() {
  std::vector<Entry> out;
  for (auto& [id, e] : by_id_) out.push_back(e);
  by_id_.clear();
  by_deadline_.clear();
  return out;
}

std::optional<uint32_t> HoldTable::lowestId() const {
  if (by_id_.empty()) return std::nullopt;
  return by_id_.begin()->first;
}

std::optional<HoldTable::Clock::time_point> HoldTable::nextDeadline() const {
  if (by_deadline_.empty()) return std::nullopt;
  return by_deadline_.begin()->first;
}

}  // namespace palisade::datapath::queue
