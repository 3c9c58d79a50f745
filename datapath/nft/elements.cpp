#include "datapath/nft/elements.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>

#include "datapath/nft/batch.h"  // keyMaxValue

namespace palisade::datapath::nft {
namespace {

// Room kept below the 16-bit nest length for the element being measured.
constexpr size_t kNestLimit = 65535;

/// The most bytes one element of each shape takes (attribute headers included).
constexpr size_t kKeyAttr = 2 * MNL_ATTR_HDRLEN + 16;  // KEY { VALUE (≤ 16) }
constexpr size_t kFlagsAttr = MNL_ATTR_HDRLEN + 4;     // FLAGS u32
constexpr size_t kElemHdr = MNL_ATTR_HDRLEN;           // the element's own nest

}  // namespace

uint32_t encodeKeyTo(KeyType key, U128 v, uint8_t out[16]) {
  switch (key) {
    case KeyType::Ipv4:
      for (int i = 0; i < 4; ++i) out[i] = uint8_t(v >> (8 * (3 - i)));
      return 4;
    case KeyType::Ipv6:
      for (int i = 0; i < 16; ++i) out[i] = uint8_t(v >> (8 * (15 - i)));
      return 16;
    case KeyType::ProtoService:
      out[0] = uint8_t(v >> 16);
      out[1] = out[2] = out[3] = 0;
      out[4] = uint8_t(v >> 8);
      out[5] = uint8_t(v);
      out[6] = out[7] = 0;
      return 8;
  }
  return 0;
}

ElementMessage::ElementMessage(nlmsghdr* nlh, const std::string& table, const std::string& set,
                               uint32_t set_id)
    : nlh_(nlh) {
  mnl_attr_put_strz(nlh_, NFTA_SET_ELEM_LIST_TABLE, table.c_str());
  if (set_id != 0)
    mnl_attr_put_u32(nlh_, NFTA_SET_ELEM_LIST_SET_ID, htonl(set_id));
  else
    mnl_attr_put_strz(nlh_, NFTA_SET_ELEM_LIST_SET, set.c_str());
  nest_ = mnl_attr_nest_start(nlh_, NFTA_SET_ELEM_LIST_ELEMENTS);
}

bool ElementMessage::fits(size_t bytes) const {
  size_t used = reinterpret_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh_)) -
                reinterpret_cast<const char*>(nest_);
  return used + bytes <= kNestLimit;
}

void ElementMessage::putKey(uint16_t type, const uint8_t* data, uint32_t len) {
  nlattr* k = mnl_attr_nest_start(nlh_, type);
  mnl_attr_put(nlh_, NFTA_DATA_VALUE, len, data);
  mnl_attr_nest_end(nlh_, k);
}

bool ElementMessage::addInterval(KeyType key, const Range& r) {
  if (!fits(2 * kElemHdr + 2 * kKeyAttr + kFlagsAttr)) return false;
  uint8_t buf[16];
  uint32_t len = encodeKeyTo(key, r.first, buf);
  nlattr* e = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
  putKey(NFTA_SET_ELEM_KEY, buf, len);
  mnl_attr_nest_end(nlh_, e);
  if (r.last != keyMaxValue(key)) {
    encodeKeyTo(key, r.last + 1, buf);
    e = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
    mnl_attr_put_u32(nlh_, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
    putKey(NFTA_SET_ELEM_KEY, buf, len);
    mnl_attr_nest_end(nlh_, e);
  }
  ++count_;
  return true;
}

bool ElementMessage::addConcatRange(KeyType key, const Range& r) {
  if (!fits(kElemHdr + 2 * kKeyAttr)) return false;
  uint8_t buf[16];
  nlattr* e = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
  putKey(NFTA_SET_ELEM_KEY, buf, encodeKeyTo(key, r.first, buf));
  putKey(NFTA_SET_ELEM_KEY_END, buf, encodeKeyTo(key, r.last, buf));
  mnl_attr_nest_end(nlh_, e);
  ++count_;
  return true;
}

bool ElementMessage::addKey(KeyType key, U128 value) {
  if (!fits(kElemHdr + kKeyAttr)) return false;
  uint8_t buf[16];
  nlattr* e = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
  putKey(NFTA_SET_ELEM_KEY, buf, encodeKeyTo(key, value, buf));
  mnl_attr_nest_end(nlh_, e);
  ++count_;
  return true;
}

bool ElementMessage::addJump(KeyType key, U128 address, const std::string& chain, bool go) {
  // DATA { VERDICT { CODE u32, CHAIN "name\0" } }
  size_t data = 3 * MNL_ATTR_HDRLEN + 4 + MNL_ATTR_HDRLEN + MNL_ALIGN(chain.size() + 1);
  if (!fits(kElemHdr + kKeyAttr + (chain.empty() ? 0 : data))) return false;
  uint8_t buf[16];
  nlattr* e = mnl_attr_nest_start(nlh_, NFTA_LIST_ELEM);
  putKey(NFTA_SET_ELEM_KEY, buf, encodeKeyTo(key, address, buf));
  if (!chain.empty()) {
    nlattr* d = mnl_attr_nest_start(nlh_, NFTA_SET_ELEM_DATA);
    nlattr* v = mnl_attr_nest_start(nlh_, NFTA_DATA_VERDICT);
    mnl_attr_put_u32(nlh_, NFTA_VERDICT_CODE,
                     htonl(static_cast<uint32_t>(go ? NFT_GOTO : NFT_JUMP)));
    mnl_attr_put_strz(nlh_, NFTA_VERDICT_CHAIN, chain.c_str());
    mnl_attr_nest_end(nlh_, v);
    mnl_attr_nest_end(nlh_, d);
  }
  mnl_attr_nest_end(nlh_, e);
  ++count_;
  return true;
}

void ElementMessage::finish() { mnl_attr_nest_end(nlh_, nest_); }

}  // namespace palisade::datapath::nft
