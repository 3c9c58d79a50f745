#pragma once
// What the kernel sends back on a NETLINK_NETFILTER socket, parsed without the
// socket (mnl_transport.cpp reads, these parse), so the parsers are testable
// and fuzzable on bytes:
//
//   batch acks: [nlmsghdr NLMSG_ERROR][nlmsgerr {error, request header ...}]
//               [NLMSGERR_ATTR_MSG "reason"]   (extended ack, NLM_F_ACK_TLVS)
//   replies:    [nlmsghdr NFT_MSG_NEW* (NLM_F_MULTI)] ... [NLMSG_DONE]
//               or one message without NLM_F_MULTI, or an NLMSG_ERROR ack.
// Every length is checked against the buffer: a short message is skipped.
#include <cstdint>
#include <span>
#include <vector>

#include "datapath/nft/transport.h"
#include "proto/base/result.h"

namespace palisade::datapath::nft {

/// Appends the acks (NLMSG_ERROR messages) found in one read of `buf`;
/// other messages are skipped.
void parseBatchAcks(std::span<const uint8_t> buf, std::vector<Ack>& acks);

/// Appends to `out` each whole reply to request `seq` found in one read of
/// `buf` (messages of other sequence numbers are stale acks: skipped). True
/// once the reply is complete (NLMSG_DONE, a zero ack, or a message without
/// NLM_F_MULTI), false when more is to be read; an Error for a kernel error.
Result<bool> collectReplies(std::span<const uint8_t> buf, uint32_t seq,
                            std::vector<std::vector<uint8_t>>& out);

}  // namespace palisade::datapath::nft
