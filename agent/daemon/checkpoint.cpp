#include "agent/daemon/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "proto/base/fd.h"

namespace palisade::agent {

std::string checkpointPath(const std::string& state_dir) { return state_dir + "/ruleset.pb"; }

namespace {

Status writeAll(int fd, const std::string& data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error(errno, "writing " + path);
    }
    off += size_t(n);
  }
  return okStatus();
}

}  // namespace

Status writeCheckpoint(const std::string& state_dir,
                       const palisade::agent::v1::Checkpoint& checkpoint) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Error(ec.value(), "creating state dir " + state_dir);
  std::string data;
  if (!checkpoint.SerializeToString(&data)) return Error(0, "serializing checkpoint");
  const std::string path = checkpointPath(state_dir);
  const std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return Error(errno, "opening " + tmp);
  auto written = writeAll(fd.get(), data, tmp);
  if (written && ::fsync(fd.get()) != 0) written = Error(errno, "fsync " + tmp);
  fd.reset();  // closed before the rename publishes it
  if (!written) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Error(errno, "renaming " + tmp);
  // The rename is durable only once the directory entry is.
  if (Fd dir(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dir) {
    ::fsync(dir.get());
  }
  return okStatus();
}

Result<std::optional<palisade::agent::v1::Checkpoint>> readCheckpoint(
    const std::string& state_dir) {
  const std::string path = checkpointPath(state_dir);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<palisade::agent::v1::Checkpoint>();
    return Error(errno, "opening " + path);
  }
  palisade::agent::v1::Checkpoint cp;
  bool ok = cp.ParseFromFileDescriptor(fd.get());
  if (!ok || cp.format() != 1) return Error(0, "corrupt checkpoint " + path);
  return std::optional<palisade::agent::v1::Checkpoint>(std::move(cp));
}

}  // namespace palisade::agent
