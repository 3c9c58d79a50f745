#include "datapath/queue/nfq_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <cstring>

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

// One pass over the attributes, keeping the four we read: nfq_nlmsg_parse
// validates every attribute through a callback (a third of our own per-packet
// time in queue_verdict_bench). The same checks as there for those four: the
// walk stops at an attribute that runs past the message (what is read so far
// counts: a packet without payload is answered as malformed), a short packet
// header or an ifindex that is not 4 bytes makes it no packet at all.
std::optional<RawPacket> parsePacketMessage(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < NLMSG_HDRLEN) return std::nullopt;
  // The nfnetlink message type is subsystem << 8 | message.
  if ((nlh->nlmsg_type & 0xff) != NFQNL_MSG_PACKET) return std::nullopt;
  const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
  const size_t end = nlh->nlmsg_len;
  std::optional<RawPacket> p;
  RawPacket out;
  bool have_header = false;
  for (size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(nfgenmsg)); off + NLA_HDRLEN <= end;) {
    nlattr a;
    std::memcpy(&a, bytes + off, sizeof a);
    if (a.nla_len < NLA_HDRLEN || a.nla_len > end - off) break;  // as mnl_attr_ok: the rest is cut
    const uint8_t* data = bytes + off + NLA_HDRLEN;
    const size_t len = a.nla_len - NLA_HDRLEN;
    uint32_t u32 = 0;
    switch (a.nla_type & NLA_TYPE_MASK) {
      case NFQA_PACKET_HDR: {
        if (len < sizeof(nfqnl_msg_packet_hdr)) return std::nullopt;
        nfqnl_msg_packet_hdr ph;
        std::memcpy(&ph, data, sizeof ph);
        out.id = ntohl(ph.packet_id);
        out.hook = ph.hook;
        out.hw_protocol = ntohs(ph.hw_protocol);
        have_header = true;
        break;
      }
      case NFQA_IFINDEX_INDEV:
      case NFQA_IFINDEX_OUTDEV:
        if (len != sizeof u32) return std::nullopt;
        std::memcpy(&u32, data, sizeof u32);
        ((a.nla_type & NLA_TYPE_MASK) == NFQA_IFINDEX_INDEV ? out.in_ifindex : out.out_ifindex) =
            ntohl(u32);
        break;
      case NFQA_PAYLOAD:
        out.payload = {data, len};
        break;
      default:
        break;
    }
    off += NLA_ALIGN(a.nla_len);
  }
  if (have_header) p = out;
  return p;
}

}  // namespace palisade::datapath::queue
