#pragma once
// Packets the Decider could not decide yet (Verdict::Hold), by kernel packet
// id, each with a deadline. The kernel keeps the packet itself; we keep its
// headers, so we can ask again when the agent learns more (a pod's IP, a
// Service's backends) and give the fail-mode verdict when the deadline passes.
//
// Bounded: a full table refuses new entries (the caller then applies the fail
// mode and counts an overflow), so a flood of pending-pod traffic costs a fixed
// amount of memory. Pure: time is passed in, so tests need no clock.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "datapath/queue/decider.h"

namespace palisade::datapath::queue {

class HoldTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    uint32_t id = 0;
    QueuedPacket packet;
    Clock::time_point deadline;
  };

  explicit HoldTable(size_t capacity) : capacity_(capacity) {}

  /// False when full (or the id is already held: a kernel bug, never ours).
  bool add(uint32_t id, QueuedPacket packet, Clock::time_point deadline);
  /// Removes and returns the entries whose deadline is at or before `now`.
  std::vector<Entry> takeExpired(Clock::time_point now);
  /// Asks `decide` again for every entry; removes and returns those no longer Hold.
  std::vector<std::pair<Entry, Decision>> takeDecided(
      const std::function<Decision(const QueuedPacket&)>& decide);
  /// Removes and returns everything (shutdown).
  std::vector<Entry> takeAll();

  /// The lowest held packet id: a batch verdict must not reach it.
  std::optional<uint32_t> lowestId() const;
  std::optional<Clock::time_point> nextDeadline() const;
  size_t size() const { return by_id_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  // Kernel ids grow by one per queued packet (per queue); ordered so the lowest
  // is at begin(). Wrap-around after 2^32 packets is not handled: a held packet
  // would then look newer than it is and only lose batching, never a verdict.
  std::map<uint32_t, Entry> by_id_;
  std::multimap<Clock::time_point, uint32_t> by_deadline_;
};

}  // namespace palisade::datapath::queue
