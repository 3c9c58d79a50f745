// The NFQUEUE wire format, built and read back without a socket.
#include "datapath/queue/nfq_messages.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <array>
#include <vector>

namespace palisade::datapath::queue {
namespace {

std::vector<const nlmsghdr*> messages(const std::vector<uint8_t>& b) {
  std::vector<const nlmsghdr*> out;
  int len = static_cast<int>(b.size());
  for (auto* n = reinterpret_cast<const nlmsghdr*>(b.data()); mnl_nlmsg_ok(n, len);
       n = mnl_nlmsg_next(n, &len))
    out.push_back(n);
  return out;
}

/// Top-level attributes by type (all NFQA_* and NFQA_CFG_* types are below 32).
std::array<const nlattr*, 32> attrs(const nlmsghdr* n) {
  std::array<const nlattr*, 32> tb{};
  mnl_attr_parse(
      n, sizeof(nfgenmsg),
      [](const nlattr* a, void* data) {
        auto* t = static_cast<std::array<const nlattr*, 32>*>(data);
        if (mnl_attr_get_type(a) < t->size()) (*t)[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
      },
      &tb);
  return tb;
}

uint16_t queueOf(const nlmsghdr* n) {
  return ntohs(static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(n))->res_id);
}

TEST(QueueNfqMessages, BindCarriesCopyRangeMaxLenAndFlags) {
  QueueConfig c;
  c.queue = 7;
  c.copy_range = 96;
  c.max_len = 1000;
  c.fail_open = true;
  auto b = buildBind(c, 5);
  auto msgs = messages(b);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0]->nlmsg_type, (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG);
  EXPECT_EQ(queueOf(msgs[0]), 7);
  EXPECT_TRUE(msgs[0]->nlmsg_flags & NLM_F_ACK);
  auto attr = attrs(msgs[1]);
  ASSERT_TRUE(attr[NFQA_CFG_PARAMS]);
  const auto* params =
      static_cast<const nfqnl_msg_config_params*>(mnl_attr_get_payload(attr[NFQA_CFG_PARAMS]));
  EXPECT_EQ(ntohl(params->copy_range), 96u);
  EXPECT_EQ(params->copy_mode, NFQNL_COPY_PACKET);
  ASSERT_TRUE(attr[NFQA_CFG_QUEUE_MAXLEN]);
  EXPECT_EQ(ntohl(mnl_attr_get_u32(attr[NFQA_CFG_QUEUE_MAXLEN])), 1000u);
  ASSERT_TRUE(attr[NFQA_CFG_FLAGS]);
  EXPECT_EQ(ntohl(mnl_attr_get_u32(attr[NFQA_CFG_FLAGS])),
            uint32_t(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
}

TEST(QueueNfqMessages, VerdictsSingleAndBatch) {
  std::vector<uint8_t> b;
  std::vector<VerdictMessage> plan = {{12, true, true}, {13, false, false}};
  appendVerdicts(b, 3, plan);
  auto msgs = messages(b);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0]->nlmsg_type & 0xff, NFQNL_MSG_VERDICT_BATCH);
  EXPECT_EQ(msgs[1]->nlmsg_type & 0xff, NFQNL_MSG_VERDICT);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(queueOf(msgs[i]), 3);
    const nlattr* hdr = attrs(msgs[i])[NFQA_VERDICT_HDR];
    ASSERT_TRUE(hdr);
    const auto* v = static_cast<const nfqnl_msg_verdict_hdr*>(mnl_attr_get_payload(hdr));
    EXPECT_EQ(ntohl(v->id), plan[i].id);
    EXPECT_EQ(ntohl(v->verdict), plan[i].accept ? NF_ACCEPT : NF_DROP);
  }
}

TEST(QueueNfqMessages, PacketMessageParses) {
  // Build what the kernel sends: header, packet header, payload, in-device.
  std::vector<uint8_t> buf(512, 0);
  nlmsghdr* n = mnl_nlmsg_put_header(buf.data());
  n->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(n, sizeof(nfgenmsg)));
  g->res_id = htons(2);
  nfqnl_msg_packet_hdr ph{htonl(4242), htons(0x0800), NF_INET_POST_ROUTING};
  mnl_attr_put(n, NFQA_PACKET_HDR, sizeof ph, &ph);
  uint8_t payload[] = {0x45, 0, 0, 20};
  mnl_attr_put(n, NFQA_PAYLOAD, sizeof payload, payload);
  mnl_attr_put_u32(n, NFQA_IFINDEX_INDEV, htonl(9));
  auto p = parsePacketMessage(n);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 4242u);
  EXPECT_EQ(p->hook, NF_INET_POST_ROUTING);
  EXPECT_EQ(p->hw_protocol, 0x0800);
  EXPECT_EQ(p->in_ifindex, 9u);
  EXPECT_EQ(p->out_ifindex, 0u);
  ASSERT_EQ(p->payload.size(), sizeof payload);
  EXPECT_EQ(p->payload[0], 0x45);
  // Without a packet header it is not a packet; a verdict message is not one either.
  n->nlmsg_len = NLMSG_HDRLEN + sizeof(nfgenmsg);
  EXPECT_FALSE(parsePacketMessage(n));
  n->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT;
  EXPECT_FALSE(parsePacketMessage(n));
}

// The kernel's message, bent: a short packet header or ifindex is no packet;
// an attribute running past the message ends the walk, as in libmnl.
TEST(QueueNfqMessages, PacketMessageWithBadAttributesIsNotAPacket) {
  std::vector<uint8_t> buf(512, 0);
  auto build = [&](size_t header_len, size_t ifindex_len) {
    std::fill(buf.begin(), buf.end(), 0);
    nlmsghdr* n = mnl_nlmsg_put_header(buf.data());
    n->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
    mnl_nlmsg_put_extra_header(n, sizeof(nfgenmsg));
    nfqnl_msg_packet_hdr ph{htonl(7), htons(0x0800), NF_INET_FORWARD};
    mnl_attr_put(n, NFQA_PACKET_HDR, header_len, &ph);
    uint32_t idx = htonl(3);
    mnl_attr_put(n, NFQA_IFINDEX_OUTDEV, ifindex_len, &idx);
    uint8_t payload[] = {0x45, 0, 0, 20};
    mnl_attr_put(n, NFQA_PAYLOAD, sizeof payload, payload);
    return n;
  };
  auto ok = parsePacketMessage(build(sizeof(nfqnl_msg_packet_hdr), 4));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->id, 7u);
  EXPECT_EQ(ok->out_ifindex, 3u);
  EXPECT_EQ(ok->payload.size(), 4u);
  EXPECT_FALSE(parsePacketMessage(build(sizeof(nfqnl_msg_packet_hdr) - 1, 4)));
  EXPECT_FALSE(parsePacketMessage(build(sizeof(nfqnl_msg_packet_hdr), 2)));
  nlmsghdr* cut = build(sizeof(nfqnl_msg_packet_hdr), 4);
  cut->nlmsg_len -= 2;  // the payload attribute now runs past the message
  auto no_payload = parsePacketMessage(cut);
  ASSERT_TRUE(no_payload);  // still a packet (with its id): answered as malformed
  EXPECT_EQ(no_payload->id, 7u);
  EXPECT_TRUE(no_payload->payload.empty());
}

}  // namespace
}  // namespace palisade::datapath::queue
