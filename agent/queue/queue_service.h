#pragma once
// The agent's packet queue: --queue-count consumers (queues first ..
// first + count - 1, which the rule spreads by CPU), each on its own thread
// and io_context, all answering through one RulesetDecider. When the
// reconciler has programmed a revision, programmed() swaps the
// decider's ruleset and asks every consumer to reconsider its held packets.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/queue/ruleset_decider.h"
#include "datapath/nft/queue_rules.h"
#include "datapath/queue/consumer.h"
#include "proto/base/result.h"

namespace palisade::agent::queue {

struct QueueServiceOptions {
  uint16_t first_queue = 0;
  uint16_t count = 1;
  std::chrono::milliseconds pending_timeout{5000};
  bool pending_fail_open = false;  // --pending-fail: verdict for a pod still unknown at the timeout
  bool fail_open = false;          // --fail-open: kernel overflow and no-consumer behaviour
  bool log_decisions = false;      // user-space mode: every decision and its reason
};

class QueueService {
 public:
  static Result<std::unique_ptr<QueueService>> start(QueueServiceOptions options);
  ~QueueService();
  QueueService(const QueueService&) = delete;
  QueueService& operator=(const QueueService&) = delete;

  /// The ruleset the kernel enforces now and, when they changed with it, the
  /// Services of the same revision (null: keep the last table); held packets
  /// are reconsidered once. Thread-safe.
  void programmed(const ir::Ruleset& ruleset,
                  std::shared_ptr<const ServiceTable> services = nullptr);
  /// Sum over the queues.
  datapath::queue::CounterSnapshot counters() const;
  size_t heldNow() const;
  /// Prometheus text: palisade_queue_packets_total{outcome=...}, palisade_queue_held,
  /// palisade_queue_decision_errors_total, palisade_queue_ruleset_errors_total.
  void renderMetrics(std::string& out) const;

  RulesetDecider& decider() { return decider_; }

 private:
  QueueService() = default;
  struct Worker;
  RulesetDecider decider_;
  std::atomic<uint64_t> ruleset_errors_{0};  // rulesets the decider refused (programmed())
  std::vector<std::unique_ptr<Worker>> workers_;
};

/// The queue target the nft rules need for these options and kernel features.
datapath::nft::QueueTarget queueTarget(const QueueServiceOptions& options, bool native_queue);

}  // namespace palisade::agent::queue
