#include "agent/cli/cmd_compile.h"

#include <google/protobuf/util/json_util.h>

#include <CLI/CLI.hpp>
#include <ostream>

#include "agent/cli/cmd_apply.h"
#include "agent/cli/common.h"
#include "policy/compile/compile.h"

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

int printRuleset(const ir::Ruleset& ruleset, const std::string& output, std::ostream& out,
                 std::ostream& err) {
  if (output == "nft") {
    Result<std::string> text = renderNftText(ruleset);
    if (!text) {
      // Nothing on stdout: a half-printed table would load as a different ruleset.
      err << "palisade compile: " << text.error().str() << "\n";
      return kExitFailed;
    }
    out << *text;
    return kExitOk;
  }
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

int runCompile(const CompileOptions& opts, std::ostream& out, std::ostream& err) {
  policy::ClusterState state = loadState(opts.files, err).state;
  if (!opts.node.empty() && state.findNode(opts.node) == nullptr) {
    // Not fatal: pods name their node, Node objects are optional in manifests.
    err << "note: no Node object named " << opts.node << " in the manifests\n";
  }
  return printRuleset(policy::compile(state, opts.node), opts.output, out, err);
}

}  // namespace palisade::agent::cli
