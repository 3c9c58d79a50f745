#pragma once
// The lab's one server process (`palisade lab serve`): a listening socket for
// every declared TCP and UDP container port, opened inside each pod's
// namespace (the thread enters it per socket and comes back), all served from
// one epoll loop. TCP (and SCTP): accept and close (the probe only needs the
// handshake); UDP: echo each datagram to its sender. The cluster-netpol
// prober (lab_flow_prober.h) runs one in-process and adds listeners per step.
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"
#include "proto/base/fd.h"

namespace palisade::agent::lab {

class Server {
 public:
  Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Opens every socket. SCTP ports are skipped (no SCTP sockets on this kernel).
  Status open(const LabState& lab);
  /// Opens listeners in `netns` for `ports`: bound to `address` (a reply then
  /// leaves from the address the client asked for, even in a namespace with
  /// several), or dual-stack on every address when none is given. SCTP is
  /// opened too (an error where the kernel has no SCTP sockets). Not while
  /// run() is serving: stop it first.
  Status listen(const std::string& netns, const std::optional<IpAddress>& address,
                const std::vector<LabPort>& ports);
  /// Serves until `stop` becomes true (checked at least every 200 ms, and at
  /// once after wake()).
  void run(const std::atomic<bool>& stop);
  /// Makes run() look at its `stop` flag now (from any thread).
  void wake();
  size_t socketCount() const { return sockets_.size(); }

 private:
  struct Socket {
    Fd fd;
    bool stream;  // TCP or SCTP: accept; UDP: echo
  };
  Status ensureEpoll();
  std::vector<Socket> sockets_;
  Fd epoll_;
  Fd wake_;  // eventfd in epoll_
};

/// `palisade lab serve --name LAB`: opens the sockets, writes <state>/ready,
/// serves until SIGTERM/SIGINT. Returns the process exit code.
int serveMain(const std::string& lab_name);

}  // namespace palisade::agent::lab
