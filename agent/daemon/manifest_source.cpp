#include "agent/daemon/manifest_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>

#include "policy/manifest/reader.h"
#include "proto/base/log.h"

namespace palisade::agent {

ManifestSource::ManifestSource(std::string dir, Reconciler& reconciler, Metrics& metrics,
                               std::chrono::milliseconds debounce)
    : dir_(std::move(dir)), reconciler_(reconciler), metrics_(metrics), debounce_(debounce) {}

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
  if (!std::filesystem::is_directory(dir_)) {
    logError("manifest directory unreadable; keeping the current state", {{"dir", dir_}});
    return;
  }
  auto set = policy::readManifests({dir_});
  for (const auto& d : set.errors) {
    ++metrics_.objects_rejected;
    logWarn("skipping invalid manifest object", {{"error", d.format()}});
  }
  ++metrics_.manifest_reloads;
  logInfo("manifests loaded", {{"dir", dir_},
                               {"pods", set.pods.size()},
                               {"policies", set.policies.size()},
                               {"namespaces", set.namespaces.size()},
                               {"rejected", set.errors.size()}});
  set.errors.clear();
  reconciler_.replaceAll(std::move(set));
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
