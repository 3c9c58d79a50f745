#pragma once
// The agent's answer to the packet queue: datapath::queue::Decider on top of
// the node's current ir::Ruleset (policy::RulesetEvaluator, the same verdicts
// the kernel ruleset gives), plus what a static ruleset cannot decide:
//
//  - pending pods: an address inside this node's pod CIDRs that is neither a
//    known pod nor a node address → Hold (the packet waits in the kernel
//    queue until the pod is known, then is decided; the consumer applies
//    --pending-fail after --pending-timeout);
//  - a destination that is still a Service address (not translated before our
//    chain): judged against the Service's ready backends — accepted only when
//    every one of them would be (we cannot know which one it will reach), held
//    while the Service has no ready backend or a backend is a pending pod;
//  - everything else: the evaluator's verdict.
//
// Without Explain::Yes no reason is built: the verdict comes from
// RulesetEvaluator::allows (no allocation), the same verdict evaluate() gives
// with its reasons.
//
// The ruleset is swapped atomically (update()) when the reconciler has
// programmed a revision; decide() runs on the queue threads and never blocks
// on the swap. A ruleset the evaluator refuses (a prefix length out of range,
// e.g. from a corrupt checkpoint) is not swapped in: update() says why and the
// previous one keeps deciding.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/queue/service_table.h"
#include "datapath/queue/decider.h"
#include "policy/evaluate/ruleset_evaluator.h"
#include "policy/net/ip.h"
#include "proto/base/result.h"
#include "proto/ir.h"

namespace palisade::agent::queue {

namespace dq = ::palisade::datapath::queue;

class RulesetDecider : public dq::Decider {
 public:
  RulesetDecider();
  /// The ruleset the kernel now enforces. Thread-safe. Fails, keeping the
  /// previous ruleset, when the ruleset is invalid (RulesetEvaluator::create).
  Status update(const ir::Ruleset& ruleset);
  /// The Services of the same revision (ServiceTable::build). Thread-safe.
  void updateServices(std::shared_ptr<const ServiceTable> services);
  dq::Decision decide(const dq::QueuedPacket& packet, dq::Explain explain) override;
  uint64_t revision() const;

 private:
  struct Snapshot {
    /// Checks the ruleset and builds its evaluator (and pod CIDR list).
    static Result<std::shared_ptr<const Snapshot>> create(ir::Ruleset rs);
    explicit Snapshot(ir::Ruleset rs) : ruleset(std::move(rs)) {}
    ir::Ruleset ruleset;  // owned: the evaluator keeps a reference
    // Set by create() once `ruleset` has its final address (never empty after).
    std::optional<policy::RulesetEvaluator> evaluator;
    std::vector<policy::Cidr> pod_cidrs;
    std::vector<policy::IpAddress> node_addresses;  // sorted
    bool pending(const policy::IpAddress& a) const;
  };
  dq::Decision decideService(const Snapshot& s, const ServiceTarget& target,
                             const policy::IpAddress& src, policy::Protocol protocol,
                             dq::Explain explain) const;
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::atomic<std::shared_ptr<const ServiceTable>> services_;
};

/// The packet's address as the policy library spells it.
policy::IpAddress toIpAddress(const dq::Address& a);

}  // namespace palisade::agent::queue
