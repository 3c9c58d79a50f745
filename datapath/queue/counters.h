#pragma once
// Per-queue packet counters. Written by the consumer's thread, read by the
// metrics endpoint from another: relaxed atomics (each counter is independent).
#include <atomic>
#include <cstdint>

namespace palisade::datapath::queue {

struct CounterSnapshot {
  uint64_t received = 0;         // packets read from the queue
  uint64_t accepted = 0;         // verdict accept (decided, or a fail-open verdict)
  uint64_t dropped = 0;          // verdict drop (decided, malformed, or a fail-closed verdict)
  uint64_t held = 0;             // packets that entered the hold table
  uint64_t timed_out = 0;        // held packets that reached the timeout (then the fail mode)
  uint64_t overflowed = 0;       // hold table full, or packets lost to a full socket buffer
  uint64_t malformed = 0;        // packets the parser rejected (dropped)
  uint64_t send_errors = 0;      // verdict messages the socket refused (the packets stay queued)
  uint64_t decision_errors = 0;  // decisions that threw (then the fail mode: decision_guard.h)
  CounterSnapshot& operator+=(const CounterSnapshot& o) {
    received += o.received, accepted += o.accepted, dropped += o.dropped, held += o.held;
    timed_out += o.timed_out, overflowed += o.overflowed, malformed += o.malformed;
    send_errors += o.send_errors, decision_errors += o.decision_errors;
    return *this;
  }
};

struct Counters {
  std::atomic<uint64_t> received{0}, accepted{0}, dropped{0}, held{0}, timed_out{0}, overflowed{0},
      malformed{0}, send_errors{0}, decision_errors{0};
  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  CounterSnapshot snapshot() const {
    auto l = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    return {l(received),   l(accepted),  l(dropped),     l(held),           l(timed_out),
            l(overflowed), l(malformed), l(send_errors), l(decision_errors)};
  }
};

}  // namespace palisade::datapath::queue
