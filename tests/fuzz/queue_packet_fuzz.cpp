// libFuzzer target: the NFQUEUE packet parser reads packet headers straight
// from the kernel, i.e. from whoever sent the packet. Any input must yield a
// result or a ParseError, within the bytes given (ASan checks the bounds).
#include <cstddef>
#include <cstdint>

#include "datapath/queue/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace palisade::datapath::queue;
  PacketInfo info;
  ParseError e = parsePacket({data, size}, info);
  // Exercise the formatter on whatever was read, and the invariants callers rely on.
  (void)formatPacket(info);
  if (e == ParseError::None) {
    if (info.src.family != 4 && info.src.family != 6) __builtin_trap();
    if (info.l3_length > size) __builtin_trap();
    if (info.has_ports && info.has_icmp) __builtin_trap();
  }
  return 0;
}
