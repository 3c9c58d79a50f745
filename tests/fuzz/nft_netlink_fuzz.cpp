// libFuzzer target: what the kernel answers on the nftables netlink socket.
// The input is a series of socket reads, each [u16 length][bytes]:
//   first byte even: every read is a batch's acks (parseBatchAcks);
//   first byte odd:  the reads answer readTable's and then readCounters'
//                    requests in turn (collectReplies, then libnftnl's parsers
//                    and readback.cpp's table/set/element/chain decoding).
// Neither may crash or read past a message; readTable either returns a table
// or an Error (ASan and UBSan judge the rest). Requests are numbered from 1, so replies can match
// them.
#include <linux/netlink.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "datapath/nft/netlink_replies.h"
#include "datapath/nft/readback.h"
#include "datapath/nft/transport.h"

namespace {

using palisade::Error;
using palisade::Result;
using namespace palisade::datapath::nft;

/// The reads of the input, each copied to its own 4-byte aligned buffer (as the socket's).
class Reads {
 public:
  Reads(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool next(std::vector<uint8_t>& out) {
    if (off_ + 2 > size_) return false;
    size_t len = size_t(data_[off_]) | size_t(data_[off_ + 1]) << 8;
    off_ += 2;
    len = std::min(len, size_ - off_);
    out.assign(data_ + off_, data_ + off_ + len);
    off_ += len;
    return true;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t off_ = 0;
};

/// A Transport whose socket reads are the fuzz input: the real reply parsing
/// (collectReplies, parseBatchAcks) on bytes the kernel might have sent.
class InputTransport final : public Transport {
 public:
  explicit InputTransport(Reads& reads) : reads_(reads) {}

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t>) override {
    std::vector<Ack> acks;
    std::vector<uint8_t> buf;
    if (reads_.next(buf)) parseBatchAcks(buf, acks);
    return acks;
  }

  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t> msg) override {
    uint32_t seq = 0;
    std::memcpy(&seq, msg.data() + offsetof(nlmsghdr, nlmsg_seq), sizeof seq);
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> buf;
    while (reads_.next(buf)) {
      auto complete = collectReplies(buf, seq, out);
      if (!complete) return complete.error();
      if (*complete) return out;
    }
    return Error(EIO, "input exhausted");
  }

  uint32_t portId() const override { return 1; }

 private:
  Reads& reads_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Reads reads(data + 1, size - 1);
  InputTransport transport(reads);
  if ((data[0] & 1) == 0) {
    std::vector<uint8_t> buf;
    std::vector<Ack> acks;
    while (reads.next(buf)) {
      size_t before = acks.size();
      parseBatchAcks(buf, acks);
      // An ack is at least a header and an nlmsgerr.
      if ((acks.size() - before) * (sizeof(nlmsghdr) + sizeof(nlmsgerr)) > buf.size())
        __builtin_trap();
    }
    return 0;
  }
  uint32_t seq = 1;
  (void)readTable(transport, "palisade", seq);
  (void)readCounters(transport, "palisade", seq);
  return 0;
}
