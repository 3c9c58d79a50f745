#pragma once
// The queue's question to the rest of the agent: what to do with this new
// connection's first packet. datapath/ knows no policy or Kubernetes types, so
// the answer comes through this interface; the agent implements it on top of
// policy::RulesetEvaluator and the cluster state (agent/queue/).
#include <cstdint>
#include <string>

#include "datapath/queue/packet.h"

namespace palisade::datapath::queue {

/// A packet as the kernel queued it: headers plus where it was seen.
struct QueuedPacket {
  PacketInfo packet;
  uint16_t queue = 0;
  uint8_t hook = 0;          // NF_INET_* of the base chain that queued it
  uint32_t in_ifindex = 0;   // 0 when none (locally generated)
  uint32_t out_ifindex = 0;  // 0 when none (input hook)
};

enum class Verdict : uint8_t {
  Accept,
  Drop,
  Hold,  // not decidable yet (unknown pod, unprogrammed service): ask again later
};

const char* verdictName(Verdict v);

struct Decision {
  Verdict verdict = Verdict::Drop;
  /// Why, for logs: "allowed by ns/policy ingress rule 0", "pending pod".
  /// Empty unless asked for (Explain::Yes).
  std::string reason;
};

/// Whether the caller reads Decision::reason. A reason costs formatting and
/// allocations on every packet; the consumer asks for one only when something
/// consumes it (ConsumerOptions::on_decision, user-space mode's decision log).
enum class Explain : uint8_t { No, Yes };

/// Called on the consumer's thread(s); implementations that share state across
/// several queues (several threads) must be thread-safe. Must not block.
/// An exception it throws is caught by the consumer (decision_guard.h): the
/// packet gets the queue's fail mode and the error is counted.
/// With Explain::No the verdict must be the one Explain::Yes gives.
class Decider {
 public:
  virtual ~Decider() = default;
  virtual Decision decide(const QueuedPacket& packet, Explain explain) = 0;
};

}  // namespace palisade::datapath::queue
