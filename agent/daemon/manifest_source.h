#pragma once
// Standalone mode: the reconcile loop fed from a directory of manifests,
// reloaded when anything under it changes (inotify, debounced). A document
// that fails to parse keeps its last good version in force (manifest_last_good.h
// says at which grain) and is reported like a rejected API object: a log line
// naming the file, line, object and field, palisade_objects_rejected_total,
// and the file as stale in palisade_manifest_stale_files and staleFiles().
// An unreadable directory keeps the previous state; a deleted file removes
// its objects.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/daemon/manifest_last_good.h"
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
  /// Reloads now (SIGHUP). Not concurrently with itself (the watcher thread
  /// and the signal loop each call it; a mutex orders them).
  void reload();

  /// Files with rejected documents after the last reload, sorted (for /status).
  std::vector<StaleFile> staleFiles() const;

 private:
  /// What the metrics collector reads; shared so that it may outlive us
  /// (Metrics has no way to remove a collector).
  struct Report {
    mutable std::mutex mu;
    std::vector<StaleFile> stale;
  };

  void run();
  void addWatches();

  std::string dir_;
  Reconciler& reconciler_;
  Metrics& metrics_;
  std::chrono::milliseconds debounce_;
  std::mutex reload_mu_;  // orders reload() calls; guards last_good_
  LastGoodManifests last_good_;
  std::shared_ptr<Report> report_ = std::make_shared<Report>();
  Fd inotify_fd_;
  Fd wake_fd_;  // eventfd: stop
  std::thread thread_;
};

/// Prometheus text for the stale files: palisade_manifest_stale_files and,
/// per file, palisade_manifest_file_rejected_documents / _kept_objects.
void renderStaleFiles(const std::vector<StaleFile>& stale, std::string& out);

}  // namespace palisade::agent
