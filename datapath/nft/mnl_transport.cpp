// The real transport: one libmnl socket, batches sent whole, acks drained.
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "datapath/nft/netlink_replies.h"
#include "datapath/nft/transport.h"

namespace palisade::datapath::nft {
namespace {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using SocketPtr = std::unique_ptr<mnl_socket, SocketCloser>;

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
      parseBatchAcks({buf_.data(), size_t(n)}, acks);
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
      auto complete = collectReplies({buf_.data(), size_t(n)}, req->nlmsg_seq, out);
      if (!complete) return complete.error();
      if (*complete) return out;
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
