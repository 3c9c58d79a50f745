#pragma once
// `palisade compile -f PATH... --node NAME [-o json|nft]`: one node's
// ir::Ruleset, as protobuf JSON (or nft text when the datapath provides it).
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
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

}  // namespace palisade::agent::cli
