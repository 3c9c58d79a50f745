#pragma once
// datapath::queue::Consumer: one NFQUEUE queue on a Boost.Asio event loop.
//
//   kernel queue N ──netlink──▶ recv (non-blocking, a burst at a time)
//        ▲                        │ parse headers → Decider::decide
//        │                        ├─ Accept/Drop ─▶ planVerdicts (batched) ─┐
//        │                        └─ Hold ─▶ HoldTable ── reconsider() / timer (fail mode)
//        └──────────── one sendto per burst of verdict messages ◀──────────┘
//
// The netlink socket's fd is watched by the io_context (async_wait), so the
// consumer runs on whichever thread runs that io_context. Several queues
// (`--queue-count`, CPU fan-out in the rule) are several consumers, normally
// each on its own thread. The handlers run on the consumer's io_context
// thread; reconsider() and stop() may be called from elsewhere (they post),
// and the destructor from any thread but that of its own callbacks.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "datapath/queue/counters.h"
#include "datapath/queue/decider.h"
#include "datapath/queue/nfq_messages.h"
#include "proto/base/result.h"

namespace palisade::datapath::queue {

struct ConsumerOptions {
  // Number, copy range, max length, GSO, fail-open. `queue.fail_open` is also
  // the verdict for a packet whose decision threw (decision_guard.h).
  QueueConfig queue;
  std::chrono::milliseconds hold_timeout{2000};
  bool hold_fail_open = false;        // verdict when a held packet times out
  size_t max_held = 4096;             // hold table capacity (overflow: fail mode)
  uint32_t socket_buffer = 8u << 20;  // SO_RCVBUFFORCE, bytes
  /// Optional: every decision (not malformed drops), for user-space mode's log.
  /// Set, the Decider is asked for reasons (Explain::Yes); unset, it is not.
  std::function<void(const QueuedPacket&, const Decision&)> on_decision;
};

class Consumer {
 public:
  /// Opens and binds the queue (fails with EBUSY-style errors when another
  /// process holds it) and starts reading on `io`.
  static Result<std::unique_ptr<Consumer>> start(boost::asio::io_context& io, Decider& decider,
                                                 ConsumerOptions options);
  /// Answers held packets with the fail mode and closes the socket, on the
  /// calling thread, after the handler running now (if any) has finished;
  /// whether the io_context still runs does not matter. Not from inside
  /// on_decision or the Decider (it waits for them).
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  /// Asks the Decider again about every held packet (the agent learned
  /// something: a ruleset revision, a pod's address). Thread-safe (posts).
  void reconsider();
  /// Stops reading; held packets get the fail-mode verdict. Thread-safe
  /// (posts); the socket is closed by the destructor.
  void stop();

  /// Our counters; `overflowed` adds the kernel's drops for this queue
  /// (queue full, socket buffer full), read from /proc/net/netfilter/nfnetlink_queue.
  CounterSnapshot counters() const;
  size_t heldNow() const;
  uint16_t queueNumber() const;

  class Impl;

 private:
  explicit Consumer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
  const Counters& counters_;
};

}  // namespace palisade::datapath::queue
