// The real transport: one libmnl socket, batches sent whole, acks drained.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "datapath/nft/transport.h"

namespace palisade::datapath::nft {
namespace {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using SocketPtr = std::unique_ptr<mnl_socket, SocketCloser>;

/// The kernel's extended ack text (NLMSGERR_ATTR_MSG), if any.
std::string extAckMessage(const nlmsghdr* nlh) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  size_t off = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
  const char* base = static_cast<const char*>(mnl_nlmsg_get_payload(nlh)) + off;
  int len = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(MNL_NLMSG_HDRLEN + off);
  const auto* attr = reinterpret_cast<const nlattr*>(base);
  while (len > 0 && mnl_attr_ok(attr, len)) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) return mnl_attr_get_str(attr);
    attr = mnl_attr_next(attr);
    len = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(reinterpret_cast<const char*>(attr) -
                                                              reinterpret_cast<const char*>(nlh));
  }
  return "";
}

class MnlTransport final : public Transport {
 public:
  explicit MnlTransport(SocketPtr s) : sock_(std::move(s)), buf_(1 << 20) {}

  Result<std::vector<Ack>> sendBatch(std::span<const uint8_t> batch) override {
    // A batch is one skb: the send buffer must hold it whole.
    int size = static_cast<int>(batch.size() + 65536);
    if (size > sndbuf_) {
      if (setsockopt(mnl_socket_get_fd(sock_.get()), SOL_SOCKET, SO_SNDBUFFORCE, &size,
                     sizeof size) == 0 ||
          setsockopt(mnl_socket_get_fd(sock_.get()), SOL_SOCKET, SO_SNDBUF, &size, sizeof size) ==
              0)
        sndbuf_ = size;
    }
    if (mnl_socket_sendto(sock_.get(), batch.data(), batch.size()) < 0)
      return Error(errno, "sending batch of " + std::to_string(batch.size()) + " bytes");
    std::vector<Ack> acks;
    const int fd = mnl_socket_get_fd(sock_.get());
    for (;;) {
      ssize_t n = recv(fd, buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        return Error(errno, "reading batch acks");
      }
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data());
      int len = static_cast<int>(n);
      while (mnl_nlmsg_ok(nlh, len)) {
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          acks.push_back(Ack{err->msg.nlmsg_seq, -err->error, extAckMessage(nlh)});
        }
        nlh = mnl_nlmsg_next(nlh, &len);
      }
    }
    return acks;
  }

  Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t> msg) override {
    if (mnl_socket_sendto(sock_.get(), msg.data(), msg.size()) < 0)
      return Error(errno, "sending request");
    const auto* req = reinterpret_cast<const nlmsghdr*>(msg.data());
    std::vector<std::vector<uint8_t>> out;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(sock_.get(), buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error(errno, "reading reply");
      }
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf_.data());
      int len = static_cast<int>(n);
      while (mnl_nlmsg_ok(nlh, len)) {
        if (nlh->nlmsg_seq != req->nlmsg_seq) {  // a stale ack of an earlier batch
          nlh = mnl_nlmsg_next(nlh, &len);
          continue;
        }
        if (nlh->nlmsg_type == NLMSG_DONE) return out;
        if (nlh->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
          if (err->error == 0) return out;
          return Error(-err->error, "request");
        }
        const auto* p = reinterpret_cast<const uint8_t*>(nlh);
        out.emplace_back(p, p + nlh->nlmsg_len);
        if (!(nlh->nlmsg_flags & NLM_F_MULTI)) return out;
        nlh = mnl_nlmsg_next(nlh, &len);
      }
    }
  }

  uint32_t portId() const override { return mnl_socket_get_portid(sock_.get()); }

 private:
  SocketPtr sock_;
  std::vector<uint8_t> buf_;
  int sndbuf_ = 0;
};

}  // namespace

Result<std::unique_ptr<Transport>> openMnlTransport() {
  SocketPtr s(mnl_socket_open(NETLINK_NETFILTER));
  if (!s) return Error(errno, "opening netfilter netlink socket");
  if (mnl_socket_bind(s.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return Error(errno, "binding netfilter netlink socket");
  int one = 1;
  // Capped acks keep error replies small; extended acks carry the kernel's reason.
  mnl_socket_setsockopt(s.get(), NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s.get(), NETLINK_EXT_ACK, &one, sizeof one);
  int rcv = 8 << 20;
  setsockopt(mnl_socket_get_fd(s.get()), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  return std::unique_ptr<Transport>(new MnlTransport(std::move(s)));
}

}  // namespace palisade::datapath::nft
