// libFuzzer target: one read of the NFQUEUE socket, as the consumer walks it
// (nlmsgWithin/mnl_nlmsg_next), each message through parsePacketMessage and the packet
// it carries through parsePacket. The kernel writes these messages, but their
// payload is the packet of whoever sent it. A parsed packet's payload must lie
// inside its message (ASan checks the reads).
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "datapath/netlink_walk.h"
#include "datapath/queue/nfq_messages.h"
#include "datapath/queue/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace palisade::datapath;
  using namespace palisade::datapath::queue;
  // The socket buffer is 4-byte aligned for nlmsghdr; the fuzzer's is not always.
  std::vector<uint32_t> aligned((size + 3) / 4);
  if (size > 0) std::memcpy(aligned.data(), data, size);
  const auto* base = reinterpret_cast<const uint8_t*>(aligned.data());
  int len = static_cast<int>(size);
  for (const auto* nlh = reinterpret_cast<const nlmsghdr*>(base); nlmsgWithin(nlh, len);
       nlh = mnl_nlmsg_next(nlh, &len)) {
    std::optional<RawPacket> raw = parsePacketMessage(nlh);
    if (!raw) continue;
    const auto* msg = reinterpret_cast<const uint8_t*>(nlh);
    if (!raw->payload.empty() && (raw->payload.data() < msg + NLMSG_HDRLEN ||
                                  raw->payload.data() + raw->payload.size() > msg + nlh->nlmsg_len))
      __builtin_trap();
    PacketInfo info;
    (void)parsePacket(raw->payload, info);
  }
  return 0;
}
