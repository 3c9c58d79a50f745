#pragma once
// Real probes: for every cell (source pod, target address:port) a socket is
// created inside the source pod's namespace and connected without blocking;
// every connection of the matrix is in flight at once and one epoll loop
// collects the answers. TCP passes on an established connection (a refusal
// or a timeout fails); UDP passes when the datagram "hostname\n" is answered.
#include <optional>
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"

namespace palisade::agent::lab {

struct ProbeTarget {
  IpAddress ip;
  int32_t port = 0;
};

struct ProbeCells {
  std::vector<std::vector<bool>> allowed;  // [source][target]
  std::vector<std::string> errors;         // cells that could not be probed at all
};

/// targets[i][j] empty: that cell is not probed (reported as not allowed).
/// `sources[i]` is the namespace of row i.
ProbeCells probeCells(const std::vector<std::string>& sources,
                      const std::vector<std::vector<std::optional<ProbeTarget>>>& targets,
                      Protocol protocol, int timeout_ms);

}  // namespace palisade::agent::lab
