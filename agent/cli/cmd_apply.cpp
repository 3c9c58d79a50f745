#include "agent/cli/cmd_apply.h"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "agent/cli/common.h"
#include "datapath/nft/probe.h"
#include "datapath/nft/programmer.h"
#include "datapath/nft/render.h"
#include "datapath/nft/text.h"
#include "policy/compile/compile.h"

namespace palisade::agent::cli {

namespace nft = ::palisade::datapath::nft;

Result<std::string> renderNftText(const ir::Ruleset& ruleset) {
  auto model = nft::render(ruleset);
  if (!model) return model.error().context("rendering the ruleset as nft");
  return nft::renderText(*model);
}

namespace {

/// The error, with the one hint an operator needs when it is a permission problem.
std::string explain(const Error& e) {
  std::string s = e.str();
  if (e.code() == EPERM && s.find("CAP_NET_ADMIN") == std::string::npos)
    s += " (programming nftables needs CAP_NET_ADMIN: run as root or grant the capability)";
  return s;
}

}  // namespace

int runApply(const ApplyOptions& opts, std::ostream& out, std::ostream& err) {
  auto transport = nft::openMnlTransport();
  if (!transport) {
    err << "palisade apply: " << explain(transport.error()) << "\n";
    return kExitFailed;
  }
  nft::ProgrammerOptions po;
  po.deny = opts.deny_action == "reject" ? nft::DenyAction::Reject : nft::DenyAction::Drop;
  po.log = [&err](std::string_view line) { err << line << "\n"; };

  if (opts.remove) {
    nft::Programmer prog(std::move(*transport), po);
    auto st = prog.deleteTable();
    if (!st) {
      err << "palisade apply --delete: " << explain(st.error()) << "\n";
      return kExitFailed;
    }
    out << "table inet palisade removed\n";
    return kExitOk;
  }
  if (opts.files.empty() || opts.node.empty()) {
    err << "palisade apply: -f and --node are required (or --delete)\n";
    return kExitUsage;
  }

  auto features = nft::probeFeatures();
  if (!features) {
    err << "palisade apply: " << explain(features.error()) << "\n";
    return kExitFailed;
  }
  err << "kernel features: " << features->summary() << "\n";
  if (!features->concat_intervals) {
    err << "palisade apply: this kernel lacks concatenated interval sets (port sets need them)\n";
    return kExitFailed;
  }
  po.table_flags = features->tableFlags();

  policy::ClusterState state = loadState(opts.files, err).state;
  if (state.findNode(opts.node) == nullptr)
    err << "note: no Node object named " << opts.node << " in the manifests\n";
  ir::Ruleset ruleset = policy::compile(state, opts.node);

  nft::Programmer prog(std::move(*transport), po);
  // adopt: an existing table is converged with one delta batch, never flushed.
  auto r = prog.adopt(ruleset);
  if (!r) {
    err << "palisade apply: " << explain(r.error()) << "\n";
    return kExitFailed;
  }
  out << "programmed table inet palisade for node " << opts.node << ": " << ruleset.endpoints_size()
      << " endpoints, " << ruleset.programs_size() << " programs (" << r->summary << ")\n";
  return kExitOk;
}

void addApplyCommand(CLI::App& app) {
  auto opts = std::make_shared<ApplyOptions>();
  CLI::App* sub = app.add_subcommand(
      "apply", "Program this network namespace's nftables once with the node's ruleset");
  sub->add_option("-f,--filename", opts->files, "Manifest files or directories");
  sub->add_option("--node", opts->node, "Node name whose pods are local");
  sub->add_option("--deny-action", opts->deny_action, "drop or reject")
      ->check(CLI::IsMember({"drop", "reject"}))
      ->capture_default_str();
  sub->add_flag("--delete", opts->remove, "Remove table inet palisade and exit");
  sub->callback([opts] {
    int code = runApply(*opts, std::cout, std::cerr);
    std::cout.flush();
    std::cerr.flush();
    std::exit(code);
  });
}

}  // namespace palisade::agent::cli
