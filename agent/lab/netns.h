#pragma once
// Network-namespace plumbing for the lab: entering a named namespace on the
// calling thread (sockets and netlink sockets keep the namespace they were
// created in, so the thread can go back right after), running a program
// inside one, and per-namespace sysctls.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/base/fd.h"
#include "proto/base/result.h"

namespace palisade::agent::lab {

/// A thread's stay in another network namespace: enter() moves the calling
/// thread into /run/netns/<name>; the destructor moves it back to the
/// namespace it came from. Keep the guard in the Result for the scope:
///   auto guard = NetnsGuard::enter(ns);
///   if (!guard) return guard.error();
class NetnsGuard {
 public:
  static Result<NetnsGuard> enter(const std::string& name);
  ~NetnsGuard();
  NetnsGuard(NetnsGuard&&) noexcept = default;  // the moved-from guard goes nowhere
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  explicit NetnsGuard(Fd orig) : orig_(std::move(orig)) {}
  Fd orig_;  // the namespace to go back to
};

/// What a program printed and how it ended.
struct RunResult {
  int status = -1;  // exit status; -1 when killed by a signal
  std::string out;  // stdout and stderr, interleaved
};

/// Runs argv[0] (searched in PATH) inside network namespace `netns` (the
/// caller's when empty), feeding `input` on stdin. An Error when it could not
/// be started at all (no such namespace, no pipes, no fork); exit status 127
/// when the program was not found.
Result<RunResult> runIn(const std::string& netns, const std::vector<std::string>& argv,
                        std::string_view input = {});

/// Same, failing with the program's output as the error when it exits non-zero.
Status runChecked(const std::string& netns, const std::vector<std::string>& argv,
                  std::string_view input = {});

/// Writes each /proc/sys/<key with dots as slashes> = value inside `netns`.
Status writeSysctls(const std::string& netns,
                    const std::vector<std::pair<std::string, std::string>>& settings);

/// Does /run/netns/<name> exist?
bool netnsExists(const std::string& name);

}  // namespace palisade::agent::lab
