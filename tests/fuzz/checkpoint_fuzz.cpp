// libFuzzer target: the checkpoint file (agent/daemon/checkpoint.*) is read at
// start from --state-dir, where anything may have left any bytes. The path a
// restarting agent takes: readCheckpoint parses a palisade.agent.v1.Checkpoint,
// datapath/nft render() turns its ruleset into the table model (adopt diffs
// against it), and the queue's RulesetEvaluator answers flows from it. None
// may crash; a malformed ruleset (dangling ids) must be an Error from render,
// and whatever render accepts the evaluator must judge.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "agent/daemon/checkpoint.h"
#include "datapath/nft/render.h"
#include "policy/evaluate/ruleset_evaluator.h"

namespace {

using palisade::policy::IpAddress;
using palisade::policy::Protocol;

/// A private state directory for the run, removed when the process exits.
struct StateDir {
  std::string path =
      (std::filesystem::temp_directory_path() / "palisade-checkpoint-fuzz-XXXXXX").string();
  StateDir() {
    if (!::mkdtemp(path.data())) std::abort();
  }
  ~StateDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

const std::string& stateDir() {
  static const StateDir dir;
  return dir.path;
}

/// Addresses worth asking about: the endpoints' own (a few) and two outsiders.
std::vector<IpAddress> probeAddresses(const palisade::ir::Ruleset& rs) {
  std::vector<IpAddress> out{IpAddress::v4(0x0a000001), IpAddress::v6(0xfd00000000000000, 1)};
  for (int i = 0; i < rs.endpoints_size() && out.size() < 8; ++i) {
    const auto& e = rs.endpoints(i);
    if (e.ipv4_size() > 0) out.push_back(IpAddress::v4(e.ipv4(0)));
    if (e.ipv6_size() > 0) out.push_back(IpAddress::v6(e.ipv6(0).high(), e.ipv6(0).low()));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace palisade;
  {
    std::ofstream out(agent::checkpointPath(stateDir()), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto cp = agent::readCheckpoint(stateDir());
  if (!cp) {
    (void)cp.error().str();
    return 0;
  }
  if (!cp->has_value()) std::abort();  // the file is there
  const ir::Ruleset& rs = (*cp)->ruleset();
  for (auto deny : {datapath::nft::DenyAction::Drop, datapath::nft::DenyAction::Reject}) {
    datapath::nft::RenderOptions options;
    options.deny = deny;
    auto table = datapath::nft::render(rs, options);
    if (!table) {
      (void)table.error().str();
      return 0;
    }
  }
  // An invalid ruleset must be an Error here, before any packet is judged.
  auto created = policy::RulesetEvaluator::create(rs);
  if (!created) {
    (void)created.error().str();
    return 0;
  }
  const policy::RulesetEvaluator& evaluator = *created;
  const std::vector<IpAddress> addresses = probeAddresses(rs);
  for (const IpAddress& src : addresses) {
    for (const IpAddress& dst : addresses) {
      for (auto [protocol, port] : {std::pair{Protocol::TCP, 80},
                                    {Protocol::UDP, 53},
                                    {Protocol::SCTP, 9000},
                                    {Protocol::TCP, 0}}) {
        const bool allowed = evaluator.allows(src, dst, protocol, port);
        // With reasons or without, the same decision.
        if (evaluator.evaluate(src, dst, protocol, port).allowed != allowed) std::abort();
      }
    }
    (void)evaluator.endpointOf(src);
  }
  return 0;
}
