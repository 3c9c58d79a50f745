#pragma once
// Which verdict messages answer a burst of decided packets.
//
// NFQNL_MSG_VERDICT_BATCH with id N gives one verdict to *every* packet still
// queued with id <= N. So a run of equal verdicts can be answered with one
// message only when nothing below N is still waiting for a different answer:
// no held packet has a lower id. Packets are decided in id order and the
// messages are sent in order, so earlier runs of the same burst are already
// answered when a later batch message is processed.
//
//   ids:      10 A  11 A  12 A  13 D  14 H  15 A  16 A
//   messages: batch(12, accept)  verdict(13, drop)  verdict(15, accept)  verdict(16, accept)
//             (14 is held: 15 and 16 cannot be batched past it)
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace palisade::datapath::queue {

struct Answer {
  uint32_t id = 0;
  bool accept = false;
};

struct VerdictMessage {
  uint32_t id = 0;
  bool accept = false;
  bool batch = false;  // NFQNL_MSG_VERDICT_BATCH (ids <= id) rather than one packet
  bool operator==(const VerdictMessage&) const = default;
};

/// `answers` in increasing id order. `lowest_held`: the lowest id in the hold table.
std::vector<VerdictMessage> planVerdicts(std::span<const Answer> answers,
                                         std::optional<uint32_t> lowest_held);

}  // namespace palisade::datapath::queue
