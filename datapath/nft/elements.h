#pragma once
// Set and map elements written straight into a NEWSETELEM / DELSETELEM message
// with libmnl: no libnftnl object per element (a full sync writes hundreds of
// thousands of them), and every message sized by bytes, because the elements
// travel in ONE nested attribute whose length field is 16 bits:
//
//   nlmsghdr | nfgenmsg | TABLE | SET | ELEMENTS (nla_len: u16 ≤ 65535)
//                                       ├─ elem { KEY { VALUE } [FLAGS] }
//                                       ├─ elem { KEY { VALUE } KEY_END { VALUE } }
//                                       └─ elem { KEY { VALUE } DATA { VERDICT { CODE CHAIN } } }
//
// A nest past 64 KiB wraps its length and the kernel misparses the message
// (1,024 IPv6 dispatch entries are ~75 KB): ElementMessage refuses an element
// that would not fit, and the caller starts the next message.
#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

/// Writes a key in the kernel's register layout (network order; inet_proto .
/// inet_service as proto, 3 bytes padding, port, 2 bytes padding); returns its length.
uint32_t encodeKeyTo(KeyType key, U128 value, uint8_t out[16]);

class ElementMessage {
 public:
  /// `nlh` is a message header with room for 64 KiB more; writes the table and
  /// set names and opens the element list. A set created earlier in the same
  /// batch is named by its `set_id` instead: the kernel finds it by walking the
  /// batch's new sets from the newest, where a name walks every set of the table.
  ElementMessage(nlmsghdr* nlh, const std::string& table, const std::string& set,
                 uint32_t set_id = 0);

  /// Interval set, rbtree layout: a start element at r.first and, unless the
  /// range runs to the key's maximum, an end element (INTERVAL_END) at last + 1.
  bool addInterval(KeyType key, const Range& r);
  /// Concatenated interval set (pipapo): one element with KEY and KEY_END.
  bool addConcatRange(KeyType key, const Range& r);
  /// Hash set: one key.
  bool addKey(KeyType key, U128 value);
  /// Verdict map: key → jump chain; `chain` empty writes the key only (deletion).
  bool addJump(KeyType key, U128 address, const std::string& chain, bool go = false);

  /// Closes the element list; the message is complete.
  void finish();
  size_t count() const { return count_; }

 private:
  bool fits(size_t bytes) const;
  void putKey(uint16_t type, const uint8_t* data, uint32_t len);

  nlmsghdr* nlh_;
  nlattr* nest_;
  size_t count_ = 0;
};

}  // namespace palisade::datapath::nft
