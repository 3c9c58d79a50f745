// The netlink reply parsers on crafted socket reads (the kernel's side of
// mnl_transport.cpp), including what nft_netlink_fuzz found.
#include "datapath/nft/netlink_replies.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace palisade::datapath::nft {
namespace {

std::vector<uint8_t> errorMessage(uint32_t seq, int error) {
  std::vector<uint8_t> b(sizeof(nlmsghdr) + sizeof(nlmsgerr), 0);
  nlmsghdr h{uint32_t(b.size()), NLMSG_ERROR, 0, seq, 0};
  nlmsgerr e{};
  e.error = error;
  e.msg = nlmsghdr{sizeof(nlmsghdr), 0, 0, seq, 0};
  std::memcpy(b.data(), &h, sizeof h);
  std::memcpy(b.data() + sizeof h, &e, sizeof e);
  return b;
}

TEST(NetlinkRepliesTest, AcksCarrySeqAndPositiveErrno) {
  auto read = errorMessage(7, -22);
  auto more = errorMessage(8, 0);
  read.insert(read.end(), more.begin(), more.end());
  std::vector<Ack> acks;
  parseBatchAcks(read, acks);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].seq, 7u);
  EXPECT_EQ(acks[0].error, 22);
  EXPECT_EQ(acks[1].error, 0);
}

TEST(NetlinkRepliesTest, ShortErrorMessageIsNoAckAndAnErrorForARequest) {
  auto read = errorMessage(3, -1);
  read.resize(sizeof(nlmsghdr) + 4);
  nlmsghdr h{uint32_t(read.size()), NLMSG_ERROR, 0, 3, 0};
  std::memcpy(read.data(), &h, sizeof h);
  std::vector<Ack> acks;
  parseBatchAcks(read, acks);
  EXPECT_TRUE(acks.empty());
  std::vector<std::vector<uint8_t>> out;
  auto r = collectReplies(read, 3, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), EPROTO);
}

// Found by nft_netlink_fuzz: a length above INT_MAX passed mnl_nlmsg_ok (it
// compares as int) and the walk never ended.
TEST(NetlinkRepliesTest, LengthAboveIntMaxEndsTheRead) {
  auto read = errorMessage(5, 0);
  auto bad = errorMessage(5, -1);
  nlmsghdr h{0xdbdbdbdbu, NLMSG_ERROR, 0, 5, 0};
  std::memcpy(bad.data(), &h, sizeof h);
  bad.insert(bad.end(), read.begin(), read.end());
  std::vector<Ack> acks;
  parseBatchAcks(bad, acks);
  EXPECT_TRUE(acks.empty());
  std::vector<std::vector<uint8_t>> out;
  auto r = collectReplies(bad, 5, out);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);  // nothing complete in this read
  EXPECT_TRUE(out.empty());
}

// Found by nft_netlink_fuzz (UBSan): an ack with error INT_MIN was negated.
// The kernel sends 0 or -errno; anything else is a malformed ack, EPROTO.
TEST(NetlinkRepliesTest, AnErrorOutsideTheErrnoRangeIsEproto) {
  for (int bad : {INT_MIN, -4096, 1, INT_MAX}) {
    auto read = errorMessage(9, bad);
    std::vector<Ack> acks;
    parseBatchAcks(read, acks);
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].error, EPROTO) << bad;
    std::vector<std::vector<uint8_t>> out;
    auto r = collectReplies(read, 9, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), EPROTO) << bad;
  }
}

}  // namespace
}  // namespace palisade::datapath::nft
