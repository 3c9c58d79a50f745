#pragma once
// Real probes of single flows (the cluster-netpol prober): every attempt is a
// non-blocking socket made inside its source namespace (the thread enters
// each namespace once and comes back), all in flight at once, collected by
// one epoll loop until one deadline. So a step costs about one timeout
// however many of its flows are dropped.
//
//   TCP, SCTP  connected          allowed
//   UDP        the echo came back allowed
//   nothing by the deadline       denied (a silent drop)
//   RST, ABORT, ICMP unreachable  an error: a policy drop must be silent
#include <string>
#include <vector>

#include "agent/lab/lab_state.h"

namespace palisade::agent::lab {

struct FlowAttempt {
  std::string netns;  // the source pod's namespace
  IpAddress dst;
  Protocol protocol = Protocol::TCP;
  int32_t port = 0;
};

struct FlowAttemptResult {
  bool allowed = false;
  std::string error;  // non-empty: the answer was no verdict ("got RST: ...")
};

/// One result per attempt, in order.
std::vector<FlowAttemptResult> probeFlows(const std::vector<FlowAttempt>& attempts, int timeout_ms);

/// Can this kernel open SCTP sockets at all? (Asked once per process.)
bool sctpSocketsAvailable();

}  // namespace palisade::agent::lab
