#pragma once
// The consumer's only way to ask its Decider. A Decider is agent code running
// on the queue's thread; an exception escaping it would unwind out of the
// io_context's run() and end the process (std::terminate), and with it every
// queue. The guard catches it instead: the packet gets the queue's configured
// fail mode (--fail-closed, the default: drop; --fail-open: accept), the error
// is counted (Counters::decision_errors) and logged, at most once per
// interval with the number left unlogged since, so a decider that throws on
// every packet cannot flood the log.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "datapath/queue/counters.h"
#include "datapath/queue/decider.h"

namespace palisade::datapath::queue {

class DecisionGuard {
 public:
  using Clock = std::chrono::steady_clock;

  DecisionGuard(Decider& decider, bool fail_open, Counters& counters, uint16_t queue,
                std::chrono::milliseconds log_interval = std::chrono::seconds(10));

  /// Decider::decide, or the fail-mode verdict when it throws. Never Hold
  /// after an exception: the packet is answered now. Not thread-safe (one
  /// guard per consumer, called under the consumer's lock).
  Decision decide(const QueuedPacket& packet, Explain explain);

 private:
  Decision failed(const QueuedPacket& packet, const std::string& what, Explain explain);

  Decider& decider_;
  const bool fail_open_;
  Counters& counters_;
  const uint16_t queue_;
  const std::chrono::milliseconds log_interval_;
  std::optional<Clock::time_point> last_logged_;
  uint64_t unlogged_ = 0;  // errors since the last log line that it did not name
};

}  // namespace palisade::datapath::queue
