#include "datapath/queue/decision_guard.h"

#include <exception>

#include "proto/base/log.h"

namespace palisade::datapath::queue {

DecisionGuard::DecisionGuard(Decider& decider, bool fail_open, Counters& counters, uint16_t queue,
                             std::chrono::milliseconds log_interval)
    : decider_(decider),
      fail_open_(fail_open),
      counters_(counters),
      queue_(queue),
      log_interval_(log_interval) {}

Decision DecisionGuard::decide(const QueuedPacket& packet, Explain explain) {
  try {
    return decider_.decide(packet, explain);
  } catch (const std::exception& e) {
    return failed(packet, e.what(), explain);
  } catch (...) {
    return failed(packet, "an exception not derived from std::exception", explain);
  }
}

Decision DecisionGuard::failed(const QueuedPacket& packet, const std::string& what,
                               Explain explain) {
  Counters::bump(counters_.decision_errors);
  const Verdict verdict = fail_open_ ? Verdict::Accept : Verdict::Drop;
  const char* mode = fail_open_ ? "fail-open" : "fail-closed";
  const Clock::time_point now = Clock::now();
  if (!last_logged_ || now - *last_logged_ >= log_interval_) {
    logError("queue decision failed; the packet gets the fail mode",
             {{"queue", int(queue_)},
              {"packet", formatPacket(packet.packet)},
              {"error", what},
              {"verdict", verdictName(verdict)},
              {"fail_mode", mode},
              {"errors_not_logged_since_last", unlogged_}});
    last_logged_ = now;
    unlogged_ = 0;
  } else {
    ++unlogged_;
  }
  if (explain == Explain::No) return {verdict, {}};
  return {verdict, std::string("decider failed (") + what + "): " + mode};
}

}  // namespace palisade::datapath::queue
