#pragma once
// `palisade apply -f PATH... --node NAME [--deny-action drop|reject]`: compiles
// the node's ruleset and programs it into the current network namespace once
// (table inet palisade, adopted when it exists), then exits. `--delete`
// removes the table. Needs CAP_NET_ADMIN; the other commands stay dry-run.
//
// Also the nft text renderer behind `palisade compile -o nft`.
#include <iosfwd>
#include <string>
#include <vector>

#include "proto/base/result.h"
#include "proto/ir.h"

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct ApplyOptions {
  std::vector<std::string> files;
  std::string node;
  std::string deny_action = "drop";
  bool remove = false;  // --delete
};

/// Registers `apply`; its callback runs the command and exits with its code.
void addApplyCommand(CLI::App& app);

/// The command itself (for tests): returns the exit code.
int runApply(const ApplyOptions& opts, std::ostream& out, std::ostream& err);

/// The nft syntax of `ruleset` as `nft -f` loads it (table inet palisade), or
/// why the ruleset cannot be rendered.
Result<std::string> renderNftText(const ir::Ruleset& ruleset);

}  // namespace palisade::agent::cli
