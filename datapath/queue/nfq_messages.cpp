#include "datapath/queue/nfq_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

namespace palisade::datapath::queue {
namespace {

/// nfq_nlmsg_put writes one header at `buf`; we grow `out` and append.
nlmsghdr* put(std::vector<uint8_t>& out, int type, uint16_t queue, uint32_t seq) {
  size_t at = out.size();
  out.resize(at + 256, 0);
  nlmsghdr* nlh = nfq_nlmsg_put(reinterpret_cast<char*>(out.data() + at), type, queue);
  nlh->nlmsg_seq = seq;
  return nlh;
}
void finish(std::vector<uint8_t>& out, const nlmsghdr* nlh) {
  size_t start = reinterpret_cast<const uint8_t*>(nlh) - out.data();
  out.resize(start + NLMSG_ALIGN(nlh->nlmsg_len));
}

}  // namespace

std::vector<uint8_t> buildBind(const QueueConfig& c, uint32_t seq) {
  std::vector<uint8_t> out;
  nlmsghdr* nlh = put(out, NFQNL_MSG_CONFIG, c.queue, seq);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
  finish(out, nlh);

  nlh = put(out, NFQNL_MSG_CONFIG, c.queue, seq + 1);
  nlh->nlmsg_flags |= NLM_F_ACK;
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(c.copy_range));
  nfq_nlmsg_cfg_put_qmaxlen(nlh, c.max_len);
  uint32_t flags = (c.gso ? NFQA_CFG_F_GSO : 0) | (c.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
  finish(out, nlh);
  return out;
}

std::vector<uint8_t> buildUnbind(uint16_t queue, uint32_t seq) {
  std::vector<uint8_t> out;
  nlmsghdr* nlh = put(out, NFQNL_MSG_CONFIG, queue, seq);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
  finish(out, nlh);
  return out;
}

void appendVerdicts(std::vector<uint8_t>& out, uint16_t queue,
                    std::span<const VerdictMessage> messages) {
  for (const auto& m : messages) {
    nlmsghdr* nlh = put(out, m.batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue, 0);
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(m.id), m.accept ? NF_ACCEPT : NF_DROP);
    finish(out, nlh);
  }
}

std::optional<RawPacket> parsePacketMessage(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN) return std::nullopt;
  // The nfnetlink message type is subsystem << 8 | message.
  if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET) return std::nullopt;
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return std::nullopt;
  if (mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(nfqnl_msg_packet_hdr))
    return std::nullopt;
  const auto* ph =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  RawPacket p;
  p.id = ntohl(ph->packet_id);
  p.hook = ph->hook;
  p.hw_protocol = ntohs(ph->hw_protocol);
  if (attr[NFQA_IFINDEX_INDEV]) p.in_ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
  if (attr[NFQA_IFINDEX_OUTDEV]) p.out_ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV]));
  if (attr[NFQA_PAYLOAD])
    p.payload = {static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                 mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
  return p;
}

}  // namespace palisade::datapath::queue
