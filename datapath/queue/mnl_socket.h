#pragma once
// The one owner of a libmnl netlink socket (STYLE.md, "C libraries"): closing
// it closes its fd, so whoever watches that fd (an asio descriptor) must give
// it up first.
#include <libmnl/libmnl.h>

#include <memory>

namespace palisade::datapath::queue {

struct MnlSocketClose {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

}  // namespace palisade::datapath::queue
