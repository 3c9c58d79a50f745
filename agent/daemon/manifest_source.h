#pragma once
// Standalone mode: the reconcile loop fed from a directory of manifests,
// reloaded when anything under it changes (inotify, debounced). A reload with
// invalid objects keeps the valid ones; an unreadable directory keeps the
// previous state.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "agent/daemon/metrics.h"
#include "agent/daemon/reconciler.h"
#include "proto/base/fd.h"

namespace palisade::agent {

class ManifestSource {
 public:
  ManifestSource(std::string dir, Reconciler& reconciler, Metrics& metrics,
                 std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~ManifestSource();
  /// Loads once, then watches.
  Status start();
  void stop();
  /// Reloads now (SIGHUP).
  void reload();

 private:
  void run();
  void addWatches();

  std::string dir_;
  Reconciler& reconciler_;
  Metrics& metrics_;
  std::chrono::milliseconds debounce_;
  Fd inotify_fd_;
  Fd wake_fd_;  // eventfd: stop
  std::thread thread_;
};

}  // namespace palisade::agent
