#pragma once
// Transport: the only I/O of the programmer. The real one is a libmnl
// NETLINK_NETFILTER socket; tests use a fake that scripts acks.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "proto/base/result.h"

namespace palisade::datapath::nft {

/// One kernel answer to a batch message: error 0 = success, else a positive errno.
struct Ack {
  uint32_t seq = 0;
  int error = 0;
  std::string message;  // extended ack text, when the kernel gave one
};

class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends one batch and returns every ack received for it. Netlink handles a
  /// batch inside sendmsg(), so all acks are queued when it returns.
  virtual Result<std::vector<Ack>> sendBatch(std::span<const uint8_t> batch) = 0;
  /// Sends one request (a dump or a get) and returns each reply message, whole
  /// (header included), up to NLMSG_DONE. A kernel error becomes an Error.
  virtual Result<std::vector<std::vector<uint8_t>>> request(std::span<const uint8_t> msg) = 0;
  /// The socket's port id (owner of tables created with the owner flag).
  virtual uint32_t portId() const = 0;
};

/// A NETLINK_NETFILTER socket in the calling thread's network namespace.
/// EPERM here means no CAP_NET_ADMIN.
Result<std::unique_ptr<Transport>> openMnlTransport();

}  // namespace palisade::datapath::nft
