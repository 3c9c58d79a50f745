#include "agent/cli/cmd_check.h"

#include <CLI/CLI.hpp>
#include <ostream>
#include <set>

#include "agent/cli/common.h"
#include "policy/kinds/kinds.h"
#include "policy/manifest/cluster_policy_warnings.h"
#include "policy/manifest/reader.h"

namespace palisade::agent::cli {

CLI::App* addCheckCommand(CLI::App& app, CheckOptions& opts) {
  CLI::App* sub = app.add_subcommand("check", "Validate manifests; print every error");
  sub->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  return sub;
}

int runCheck(const CheckOptions& opts, std::ostream& out, std::ostream& err) {
  policy::ManifestSet set = policy::readManifests(opts.files);
  for (const std::string& note : set.notes) err << "note: " << note << "\n";
  for (const policy::Diagnostic& d : set.errors) out << d.format() << "\n";
  const std::vector<policy::Diagnostic> warnings = policy::clusterPolicyWarnings(set);
  for (const policy::Diagnostic& d : warnings) out << "warning: " << d.format() << "\n";
  size_t valid = 0;
  policy::Kinds::forEach([&]<class K>() { valid += (set.*K::kObjects).size(); });
  // Invalid objects count too (once, however many errors they have); errors
  // that belong to no object (an unreadable file) do not.
  std::set<std::pair<std::string, std::string>> invalid;
  for (const policy::Diagnostic& d : set.errors) {
    if (!d.object.empty()) invalid.emplace(d.kind, d.object);
  }
  out << valid + invalid.size() << " objects, " << set.errors.size() << " errors";
  if (!warnings.empty()) out << ", " << warnings.size() << " warnings";
  out << "\n";
  return set.errors.empty() ? kExitOk : kExitFailed;
}

}  // namespace palisade::agent::cli
