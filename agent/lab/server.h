#pragma once
// The lab's one server process (`palisade lab serve`): a listening socket for
// every declared TCP and UDP container port, opened inside each pod's
// namespace (the thread enters it per socket and comes back), all served from
// one epoll loop. TCP: accept and close (the probe only needs the handshake);
// UDP: echo each datagram to its sender.
#include <atomic>
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
  /// Serves until `stop` becomes true (checked at least every 200 ms).
  void run(const std::atomic<bool>& stop);
  size_t socketCount() const { return sockets_.size(); }

 private:
  struct Socket {
    Fd fd;
    bool tcp;
  };
  std::vector<Socket> sockets_;
  Fd epoll_;
};

/// `palisade lab serve --name LAB`: opens the sockets, writes <state>/ready,
/// serves until SIGTERM/SIGINT. Returns the process exit code.
int serveMain(const std::string& lab_name);

}  // namespace palisade::agent::lab
