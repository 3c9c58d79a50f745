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
  std::string reason;  // why, for logs: "allowed by ns/policy ingress rule 0", "pending pod"
};

/// Called on the consumer's thread(s); implementations that share state across
/// several queues (several threads) must be thread-safe. Must not block.
class Decider {
 public:
  virtual ~Decider() = default;
  virtual Decision decide(const QueuedPacket& packet) = 0;
};

}  // namespace palisade::datapath::queue
