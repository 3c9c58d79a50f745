#pragma once
// Network-namespace plumbing for the lab: entering a named namespace on the
// calling thread (sockets and netlink sockets keep the namespace they were
// created in, so the thread can go back right after), running a program
// inside one, and per-namespace sysctls.
#include <string>
#include <string_view>
#include <vector>

#include "proto/base/result.h"

namespace palisade::agent::lab {

/// Enters /run/netns/<name> on this thread; the destructor returns to the
/// namespace the thread was in. Check ok() before relying on it.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  int orig_ = -1;
  std::string error_;
};

/// What a program printed and how it ended.
struct RunResult {
  int status = -1;  // exit status; -1 when it could not run or was killed
  std::string out;  // stdout and stderr, interleaved
};

/// Runs argv[0] (searched in PATH) inside network namespace `netns` (the
/// caller's when empty), feeding `input` on stdin.
RunResult runIn(const std::string& netns, const std::vector<std::string>& argv,
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
