#pragma once
// `palisade check -f PATH...`: validate manifests as the API server would.
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct CheckOptions {
  std::vector<std::string> files;
};

/// Registers the subcommand; `opts` receives the parsed flags.
CLI::App* addCheckCommand(CLI::App& app, CheckOptions& opts);

/// Prints every diagnostic on `out`, notes on `err`, then "N objects, M errors".
/// Returns 1 when any object is invalid, else 0.
int runCheck(const CheckOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace palisade::agent::cli
