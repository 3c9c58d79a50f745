#include "datapath/nft/netlink_replies.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "datapath/netlink_walk.h"

namespace palisade::datapath::nft {
namespace {

/// The nlmsgerr of an NLMSG_ERROR message, when the message is long enough to hold one.
const nlmsgerr* errorOf(const nlmsghdr* nlh) {
  if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(nlmsgerr)) return nullptr;
  return static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
}

/// The kernel's extended ack text (NLMSGERR_ATTR_MSG), if any. The attributes
/// follow the nlmsgerr and, unless capped (NLM_F_CAPPED), the echoed request.
std::string extAckMessage(const nlmsghdr* nlh, const nlmsgerr* err) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t off = MNL_NLMSG_HDRLEN + sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    if (err->msg.nlmsg_len < sizeof(nlmsghdr)) return "";
    off += MNL_ALIGN(err->msg.nlmsg_len - sizeof(nlmsghdr));
  }
  if (off >= nlh->nlmsg_len) return "";
  const char* end = reinterpret_cast<const char*>(nlh) + nlh->nlmsg_len;
  for (const auto* attr = reinterpret_cast<const nlattr*>(reinterpret_cast<const char*>(nlh) + off);
       mnl_attr_ok(attr, static_cast<int>(end - reinterpret_cast<const char*>(attr)));
       attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) != NLMSGERR_ATTR_MSG) continue;
    // NUL-terminated by the kernel; not trusted to be.
    const auto* text = static_cast<const char*>(mnl_attr_get_payload(attr));
    return std::string(text, strnlen(text, mnl_attr_get_payload_len(attr)));
  }
  return "";
}

/// The errno an ack carries: the kernel sends 0 or -errno (errno 1..4095);
/// anything else is a malformed ack, and negating INT_MIN would be undefined.
int errnoOf(const nlmsgerr* err) {
  if (err->error <= 0 && err->error >= -4095) return -err->error;
  return EPROTO;
}

}  // namespace

void parseBatchAcks(std::span<const uint8_t> buf, std::vector<Ack>& acks) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int len = static_cast<int>(buf.size());
  for (; nlmsgWithin(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    if (nlh->nlmsg_type != NLMSG_ERROR) continue;
    const nlmsgerr* err = errorOf(nlh);
    if (!err) continue;
    acks.push_back(Ack{err->msg.nlmsg_seq, errnoOf(err), extAckMessage(nlh, err)});
  }
}

Result<bool> collectReplies(std::span<const uint8_t> buf, uint32_t seq,
                            std::vector<std::vector<uint8_t>>& out) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
  int len = static_cast<int>(buf.size());
  for (; nlmsgWithin(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
    if (nlh->nlmsg_seq != seq) continue;  // a stale ack of an earlier batch
    if (nlh->nlmsg_type == NLMSG_DONE) return true;
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      const nlmsgerr* err = errorOf(nlh);
      if (!err) return Error(EPROTO, "request: truncated error message");
      if (err->error == 0) return true;
      return Error(errnoOf(err), "request");
    }
    const auto* p = reinterpret_cast<const uint8_t*>(nlh);
    out.emplace_back(p, p + nlh->nlmsg_len);
    if (!(nlh->nlmsg_flags & NLM_F_MULTI)) return true;
  }
  return false;
}

}  // namespace palisade::datapath::nft
