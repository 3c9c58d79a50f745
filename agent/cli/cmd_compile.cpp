#include "agent/cli/cmd_compile.h"

#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <ostream>

#include "agent/cli/common.h"
#include "policy/compile/compile.h"

// Hook for `-o nft`: the datapath side declares
//   std::string renderNftText(const ir::Ruleset&);
// in agent/cli/cmd_apply.h. Until that header exists the output is refused
// with a clear message instead of failing the build.
#if __has_include("agent/cli/cmd_apply.h")
#include "agent/cli/cmd_apply.h"
#define PALISADE_HAVE_NFT_TEXT 1
#else
#define PALISADE_HAVE_NFT_TEXT 0
#endif

namespace palisade::agent::cli {

CLI::App* addCompileCommand(CLI::App& app, CompileOptions& opts) {
  CLI::App* sub = app.add_subcommand("compile", "Print one node's compiled ruleset");
  sub->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  sub->add_option("--node", opts.node, "Node name (\"\" = every pod is local)")->required();
  sub->add_option("-o,--output", opts.output, "json or nft")
      ->check(CLI::IsMember({"json", "nft"}))
      ->capture_default_str();
  return sub;
}

int runCompile(const CompileOptions& opts, std::ostream& out, std::ostream& err) {
#if !PALISADE_HAVE_NFT_TEXT
  if (opts.output == "nft") {
    err << "palisade compile: -o nft is not available in this build (no nft renderer)\n";
    return kExitUsage;
  }
#endif
  policy::ClusterState state = loadState(opts.files, err);
  if (!opts.node.empty() && state.findNode(opts.node) == nullptr) {
    // Not fatal: pods name their node, Node objects are optional in manifests.
    err << "note: no Node object named " << opts.node << " in the manifests\n";
  }
  ir::Ruleset ruleset = policy::compile(state, opts.node);
#if PALISADE_HAVE_NFT_TEXT
  if (opts.output == "nft") {
    out << renderNftText(ruleset);
    return kExitOk;
  }
#endif
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.always_print_primitive_fields = false;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(ruleset, &json, print);
  if (!status.ok()) {
    err << "palisade compile: cannot print the ruleset: " << status.ToString() << "\n";
    return kExitFailed;
  }
  out << json;
  if (json.empty() || json.back() != '\n') out << "\n";
  return kExitOk;
}

}  // namespace palisade::agent::cli
