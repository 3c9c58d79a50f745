#pragma once
// Walking the netlink messages of one socket read. libmnl's mnl_nlmsg_ok
// compares (int)nlmsg_len with the bytes left, so a length above INT_MAX is
// negative there and passes; mnl_nlmsg_next then steps gigabytes ahead
// (found by nfq_message_fuzz and nft_netlink_fuzz: a crash, and a loop that
// never ends). Every walk over bytes from the kernel uses this check instead.
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

namespace palisade::datapath {

/// True when a whole message starts at `nlh` within the `len` bytes left.
inline bool nlmsgWithin(const nlmsghdr* nlh, int len) {
  return len >= static_cast<int>(sizeof(nlmsghdr)) && nlh->nlmsg_len >= sizeof(nlmsghdr) &&
         nlh->nlmsg_len <= static_cast<unsigned>(len);
}

}  // namespace palisade::datapath
