#pragma once
// NFQUEUE netlink messages, built and parsed without a socket (libmnl-style
// libnetfilter_queue API), so the consumer's wire format is unit-testable.
//
//   config:  [nlmsghdr NFQNL_MSG_CONFIG][nfgenmsg res_id=queue]
//            NFQA_CFG_CMD {BIND} | NFQA_CFG_PARAMS {COPY_PACKET, range}
//            | NFQA_CFG_QUEUE_MAXLEN | NFQA_CFG_FLAGS + NFQA_CFG_MASK
//   packet:  [nlmsghdr NFQNL_MSG_PACKET] NFQA_PACKET_HDR {id, hw proto, hook}
//            NFQA_PAYLOAD (first `range` bytes) NFQA_IFINDEX_INDEV/OUTDEV ...
//   verdict: [nlmsghdr NFQNL_MSG_VERDICT or _VERDICT_BATCH] NFQA_VERDICT_HDR {verdict, id}
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "datapath/queue/verdict_plan.h"

struct nlmsghdr;

namespace palisade::datapath::queue {

struct QueueConfig {
  uint16_t queue = 0;
  uint32_t copy_range = 128;  // bytes of each packet copied to us: headers only
  uint32_t max_len = 4096;    // packets the kernel queues before overflow
  bool gso = true;            // take GSO super-packets unsegmented (we read headers only)
  bool fail_open = false;     // on overflow the kernel accepts instead of dropping
};

/// Appends the messages that bind `queue` and configure it; returns their bytes.
std::vector<uint8_t> buildBind(const QueueConfig& c, uint32_t seq);
/// Appends the message that unbinds `queue`.
std::vector<uint8_t> buildUnbind(uint16_t queue, uint32_t seq);

/// Appends verdict messages for `queue` to `out`.
void appendVerdicts(std::vector<uint8_t>& out, uint16_t queue,
                    std::span<const VerdictMessage> messages);

struct RawPacket {
  uint32_t id = 0;
  uint8_t hook = 0;
  uint16_t hw_protocol = 0;  // ETH_P_IP / ETH_P_IPV6 (host order)
  uint32_t in_ifindex = 0;
  uint32_t out_ifindex = 0;
  std::span<const uint8_t> payload;  // points into the message
};

/// Parses one NFQNL_MSG_PACKET; nullopt for anything else or a message
/// without packet header.
std::optional<RawPacket> parsePacketMessage(const nlmsghdr* nlh);

}  // namespace palisade::datapath::queue
