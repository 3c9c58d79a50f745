#include "agent/daemon/manifest_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>

#include "policy/manifest/reader.h"
#include "proto/base/log.h"

namespace palisade::agent {

namespace {

/// A label value in the Prometheus text format: backslash, quote and newline escaped.
std::string labelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void renderStaleFiles(const std::vector<StaleFile>& stale, std::string& out) {
  metricHeader(out, "palisade_manifest_stale_files", "gauge",
               "Manifest files with documents rejected at the last reload (their last good "
               "versions stay in force).");
  out += "palisade_manifest_stale_files " + std::to_string(stale.size()) + "\n";
  metricHeader(out, "palisade_manifest_file_rejected_documents", "gauge",
               "Rejected documents of a stale manifest file at the last reload.");
  for (const StaleFile& f : stale)
    out += "palisade_manifest_file_rejected_documents{file=\"" + labelValue(f.file) + "\"} " +
           std::to_string(f.rejected) + "\n";
  metricHeader(out, "palisade_manifest_file_kept_objects", "gauge",
               "Last good objects of a stale manifest file kept in force.");
  for (const StaleFile& f : stale)
    out += "palisade_manifest_file_kept_objects{file=\"" + labelValue(f.file) + "\"} " +
           std::to_string(f.kept) + "\n";
}

ManifestSource::ManifestSource(std::string dir, Reconciler& reconciler, Metrics& metrics,
                               std::chrono::milliseconds debounce)
    : dir_(std::move(dir)), reconciler_(reconciler), metrics_(metrics), debounce_(debounce) {
  metrics_.addCollector([report = report_](std::string& out) {
    std::lock_guard lock(report->mu);
    renderStaleFiles(report->stale, out);
  });
}

ManifestSource::~ManifestSource() { stop(); }

void ManifestSource::addWatches() {
  constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                             IN_DELETE_SELF | IN_MODIFY;
  inotify_add_watch(inotify_fd_.get(), dir_.c_str(), kMask);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory()) inotify_add_watch(inotify_fd_.get(), it->path().c_str(), kMask);
  }
}

void ManifestSource::reload() {
  std::lock_guard reload_lock(reload_mu_);
  if (!std::filesystem::is_directory(dir_)) {
    logError("manifest directory unreadable; keeping the current state", {{"dir", dir_}});
    return;
  }
  policy::Diagnostics listing_errors;
  std::vector<FileManifests> files;
  for (std::string& path : policy::listManifestFiles(dir_, listing_errors)) {
    policy::ManifestSet set = policy::readManifestFile(path);
    files.push_back({std::move(path), std::move(set)});
  }
  const bool complete = listing_errors.empty();
  ManifestMerge merged = last_good_.update(std::move(files), complete, std::move(listing_errors));
  for (const RejectedDocument& r : merged.rejected) {
    ++metrics_.objects_rejected;
    const policy::Diagnostic& d = r.diagnostic;
    logWarn("rejected manifest document", {{"file", d.location.file},
                                           {"line", d.location.line},
                                           {"kind", d.kind},
                                           {"object", d.object},
                                           {"field", d.field},
                                           {"reason", d.message},
                                           {"outcome", r.outcome}});
  }
  for (const std::string& note : merged.in_force.notes) logDebug("manifest note", {{"note", note}});
  ++metrics_.manifest_reloads;
  const policy::ManifestSet& set = merged.in_force;
  size_t kept = 0;
  for (const StaleFile& f : merged.stale) kept += f.kept;
  logInfo("manifests loaded", {{"dir", dir_},
                               {"pods", set.pods.size()},
                               {"policies", set.policies.size()},
                               {"namespaces", set.namespaces.size()},
                               {"rejected", merged.rejected.size()},
                               {"stale_files", merged.stale.size()},
                               {"kept_last_good", kept}});
  {
    std::lock_guard lock(report_->mu);
    report_->stale = merged.stale;
  }
  merged.in_force.notes.clear();
  reconciler_.replaceAll(std::move(merged.in_force));
}

std::vector<StaleFile> ManifestSource::staleFiles() const {
  std::lock_guard lock(report_->mu);
  return report_->stale;
}

Status ManifestSource::start() {
  Fd inotify(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify) return Error(errno, "inotify_init1");
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return Error(errno, "eventfd");
  inotify_fd_ = std::move(inotify);
  wake_fd_ = std::move(wake);
  addWatches();
  reload();
  thread_ = std::thread([this] { run(); });
  return okStatus();
}

void ManifestSource::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof one);
    thread_.join();
  }
  inotify_fd_.reset();
  wake_fd_.reset();
}

void ManifestSource::run() {
  bool pending = false;
  char buf[16 * 1024];
  while (true) {
    pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    // While a change is pending, wait only the debounce: editors write a file
    // in several steps, and one reload should see the final content.
    int n = ::poll(fds, 2, pending ? int(debounce_.count()) : -1);
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents & POLLIN) return;
    if (n == 0 && pending) {
      pending = false;
      addWatches();  // new subdirectories
      reload();
      continue;
    }
    if (fds[0].revents & POLLIN) {
      while (::read(inotify_fd_.get(), buf, sizeof buf) > 0) {
      }
      pending = true;
    }
  }
}

}  // namespace palisade::agent
