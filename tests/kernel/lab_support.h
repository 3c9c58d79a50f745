#pragma once
// Shared by the lab kernel tests: root check, manifests in a temp dir, and a
// lab that is always torn down (RAII), each test with its own lab name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/lab/lab.h"
#include "agent/lab/netns.h"

namespace palisade::agent::lab::testing {

inline bool isRoot() { return geteuid() == 0; }

/// A temp dir holding manifest files; removed at the end.
class ManifestDir {
 public:
  explicit ManifestDir(const std::string& tag) {
    path_ = std::filesystem::temp_directory_path() /
            ("palisade-lab-" + tag + "-" + std::to_string(getpid()));
    std::filesystem::create_directories(path_);
  }
  ~ManifestDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

/// `lab up` on construction, `lab down` on destruction, whatever happened.
class ScopedLab {
 public:
  ScopedLab(const std::string& name, std::vector<std::string> files, int nodes) : name_(name) {
    UpOptions o{name, std::move(files), nodes, PALISADE_CLI_BINARY};
    std::ostringstream log;
    auto up = labUp(o, log);
    if (up) {
      lab_ = std::move(*up);
    } else {
      error_ = up.error().str() + "\n" + log.str();
    }
  }
  ~ScopedLab() {
    std::ostringstream log;
    (void)labDown(name_, log);
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const LabState& state() const { return lab_; }

 private:
  std::string name_;
  LabState lab_;
  std::string error_;
};

/// How many namespaces named pal-<lab>-* exist.
inline int countNetns(const std::string& lab) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    if (e.path().filename().string().rfind(netnsPrefix(lab), 0) == 0) ++n;
  }
  return n;
}

}  // namespace palisade::agent::lab::testing
