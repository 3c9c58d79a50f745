#pragma once
// `palisade compile -f PATH... --node NAME [-o json|nft]`: one node's
// ir::Ruleset, as protobuf JSON or as the nft text `palisade apply` would load.
#include <iosfwd>
#include <string>
#include <vector>

#include "proto/ir.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct CompileOptions {
  std::vector<std::string> files;
  std::string node;
  std::string output = "json";
};

CLI::App* addCompileCommand(CLI::App& app, CompileOptions& opts);

int runCompile(const CompileOptions& opts, std::ostream& out, std::ostream& err);

/// Prints a compiled ruleset as `output` ("json" or "nft"). A ruleset the nft
/// renderer refuses prints nothing on `out`, the reason on `err`, and returns
/// kExitFailed.
int printRuleset(const ir::Ruleset& ruleset, const std::string& output, std::ostream& out,
                 std::ostream& err);

}  // namespace palisade::agent::cli
