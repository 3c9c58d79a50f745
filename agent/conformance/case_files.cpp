#include "agent/conformance/case_files.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <fstream>
#include <ostream>
#include <sstream>

#include "agent/conformance/case_file.h"
#include "agent/conformance/cluster_case_file.h"
#include "agent/conformance/cluster_runner.h"

namespace palisade::agent::conformance {
namespace {

Result<std::string> readText(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(errno, "cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

CaseResult runMatrixCase(const std::string& path, const std::string& text, Prober* prober) {
  CaseResult r;
  r.path = path;
  Result<CaseFile> c = parseCaseText(text, path);
  if (!c) {
    r.detail = "cannot load case: " + c.error().str();
  } else if (prober == nullptr) {
    r.skipped = true;
    r.detail = "no prober for upstream-netpol cases";
  } else {
    r = runCase(*c, *prober);
  }
  return r;
}

CaseResult runFlowCase(const std::string& path, const std::string& text,
                       const CaseProbers& probers) {
  CaseResult r;
  r.path = path;
  Result<ClusterCaseFile> c = parseClusterCaseText(text, path);
  if (!c) {
    r.detail = "cannot load case: " + c.error().str();
  } else if (probers.flows == nullptr) {
    r.skipped = true;
    r.detail = probers.flows_missing;
  } else {
    r = runClusterCase(*c, *probers.flows);
  }
  return r;
}

}  // namespace

CaseFormat caseFormatOf(const std::string& text) {
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsMap() && root["topology"]) return CaseFormat::ClusterNetpol;
  } catch (const YAML::Exception&) {
    // Not YAML: the matrix loader says so, with yaml-cpp's position.
  }
  return CaseFormat::UpstreamNetpol;
}

int runCaseFiles(const std::vector<std::string>& paths, const CaseProbers& probers,
                 std::ostream& out) {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  for (const std::string& path : paths) {
    CaseResult r;
    r.path = path;
    if (Result<std::string> text = readText(path); !text) {
      r.detail = "cannot load case: " + text.error().str();
    } else if (caseFormatOf(*text) == CaseFormat::ClusterNetpol) {
      r = runFlowCase(path, *text, probers);
    } else {
      r = runMatrixCase(path, *text, probers.matrix);
    }
    if (r.skipped) {
      ++skipped;
      out << "SKIP " << path << ": " << r.detail << "\n";
    } else if (r.passed) {
      ++passed;
      out << "PASS " << path;
      if (!r.not_probed.empty()) out << " (" << r.not_probed << ")";
      out << "\n";
    } else {
      ++failed;
      out << "FAIL " << path << ": " << r.detail << "\n";
    }
  }
  out << passed << " passed, " << failed << " failed";
  if (skipped > 0) out << ", " << skipped << " skipped";
  out << "\n";
  return failed;
}

}  // namespace palisade::agent::conformance
