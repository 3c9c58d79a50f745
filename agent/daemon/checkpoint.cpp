#include "agent/daemon/checkpoint.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "proto/base/fd.h"
#include "proto/base/log.h"

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

std::string sha256(const std::string& data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1)
    return "";
  out.resize(len);
  return out;
}

}  // namespace

Status writeCheckpoint(const std::string& state_dir,
                       const palisade::agent::v1::Checkpoint& checkpoint) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Error(ec.value(), "creating state dir " + state_dir);
  palisade::agent::v1::Checkpoint on_disk = checkpoint;
  on_disk.set_format(kCheckpointFormat);
  on_disk.clear_ruleset();
  if (!checkpoint.ruleset().SerializeToString(on_disk.mutable_ruleset_data()))
    return Error(0, "serializing the checkpoint's ruleset");
  on_disk.set_ruleset_sha256(sha256(on_disk.ruleset_data()));
  std::string data;
  if (!on_disk.SerializeToString(&data)) return Error(0, "serializing checkpoint");
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
  if (!cp.ParseFromFileDescriptor(fd.get()))
    return Error(EBADMSG, "corrupt checkpoint " + path + ": not a Checkpoint message");
  if (cp.format() == 1) {
    logWarn("checkpoint has no checksum (format 1, an older agent's): using it",
            {{"path", path}, {"written_by", cp.agent_version()}});
  } else if (cp.format() == kCheckpointFormat) {
    if (cp.ruleset_sha256() != sha256(cp.ruleset_data()))
      return Error(EBADMSG, "corrupt checkpoint " + path + ": checksum mismatch (written by " +
                                cp.agent_version() + ")");
    if (!cp.mutable_ruleset()->ParseFromString(cp.ruleset_data()))
      return Error(EBADMSG, "corrupt checkpoint " + path + ": the ruleset does not parse");
    cp.clear_ruleset_data();
  } else {
    return Error(EBADMSG, "checkpoint " + path + " has format " + std::to_string(cp.format()) +
                              " (this agent reads 1 and " + std::to_string(kCheckpointFormat) +
                              ")");
  }
  return std::optional<palisade::agent::v1::Checkpoint>(std::move(cp));
}

}  // namespace palisade::agent
