// libFuzzer target: the kubeconfig parser (yaml-cpp, then our reading of the
// current context, server address and credentials) and base64Decode (its
// *-data fields). Any bytes give a ClusterConfig or an Error, never a crash or
// an exception out. The input is written as <dir>/config, beside a ca.pem and
// a tok file, so relative certificate/token paths resolve to those.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "agent/k8s/config.h"

namespace {

/// A private directory for the run, removed when the process exits.
struct WorkDir {
  std::filesystem::path path;
  WorkDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "palisade-kubeconfig-fuzz-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) std::abort();
    path = tmpl;
    std::ofstream(path / "ca.pem")
        << "-----BEGIN CERTIFICATE-----\nCAFILE\n-----END CERTIFICATE-----\n";
    std::ofstream(path / "tok") << "t0k\n";
  }
  ~WorkDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::filesystem::path& workDir() {
  static const WorkDir dir;
  return dir.path;
}

bool validPort(const std::string& port) {
  if (port.empty() || port.size() > 5) return false;
  for (char c : port)
    if (c < '0' || c > '9') return false;
  const int n = std::stoi(port);
  return n >= 1 && n <= 65535;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace palisade::agent::k8s;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // Every 4 significant characters give at most 3 bytes.
  if (auto decoded = base64Decode(text); decoded && decoded->size() > size * 3 / 4 + 1)
    std::abort();

  const std::string path = (workDir() / "config").string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  auto config = kubeconfigConfig(path);
  if (!config) {
    (void)config.error().str();
    return 0;
  }
  // What the client connects to: a host and a port number, or it is an Error.
  if (config->host.empty() || !validPort(config->port)) std::abort();
  return 0;
}
