#include "agent/lab/enforce.h"

#include <set>
#include <thread>

#include "agent/lab/netns.h"
#include "datapath/nft/render.h"
#include "datapath/nft/text.h"

namespace palisade::agent::lab {

datapath::Result<NodeProgrammers> NodeProgrammers::open(const LabState& lab) {
  NodeProgrammers out;
  for (const LabNode& node : lab.nodes) {
    datapath::Result<std::unique_ptr<datapath::nft::Transport>> transport =
        datapath::Error(0, "not opened");
    // A short-lived thread enters the namespace, so the caller's stays put.
    std::thread t([&] {
      NetnsGuard guard(node.netns);
      if (!guard.ok()) {
        transport = datapath::Error(0, guard.error());
        return;
      }
      transport = datapath::nft::openMnlTransport();
    });
    t.join();
    if (!transport) return transport.error().context("netlink socket in " + node.netns);
    // No owner flag: the table must outlive this process (lab commands are
    // separate processes; `lab down` removes it with the namespace).
    datapath::nft::ProgrammerOptions options;
    out.programmers_.push_back(
        std::make_unique<datapath::nft::Programmer>(std::move(*transport), options));
    out.netns_.push_back(node.netns);
  }
  return out;
}

datapath::Status NodeProgrammers::sync(const std::vector<policy::ir::Ruleset>& rulesets, bool adopt,
                                       std::vector<std::string>* log) {
  for (size_t i = 0; i < programmers_.size() && i < rulesets.size(); ++i) {
    datapath::nft::Programmer& p = *programmers_[i];
    auto report = adopt && !p.current() ? p.adopt(rulesets[i]) : p.sync(rulesets[i]);
    if (report) {
      if (log != nullptr) log->push_back(netns_[i] + ": " + report->summary);
      continue;
    }
    // The netlink programmer is still being finished; until it programs
    // every ruleset, load the same rendering through nft(8) so that the lab
    // keeps enforcing, and say so.
    auto model = datapath::nft::render(rulesets[i], {});
    if (!model) return model.error().context(netns_[i]);
    std::string script =
        "table inet palisade\ndelete table inet palisade\n" + datapath::nft::renderText(*model);
    // This nft(8) takes symbolic priorities only on their own hooks: use numbers.
    for (auto [from, to] : {std::pair{"srcnat + 1", "101"}, std::pair{"srcnat - 5", "95"}}) {
      for (size_t at; (at = script.find(from)) != std::string::npos;) {
        script.replace(at, std::string_view(from).size(), to);
      }
    }
    if (auto s = runChecked(netns_[i], {"nft", "-f", "-"}, script); !s) {
      return report.error().context(netns_[i] +
                                    " (nft -f fallback also failed: " + s.error().str() + ")");
    }
    if (log != nullptr) {
      log->push_back(netns_[i] + ": programmer failed (" + report.error().str() +
                     "); loaded the same table with nft -f");
    }
  }
  return datapath::okStatus();
}

std::vector<policy::ir::Ruleset> compileNodes(const LabState& lab,
                                              const policy::ClusterState& state) {
  std::vector<policy::ir::Ruleset> out;
  for (const LabNode& node : lab.nodes) out.push_back(policy::compile(state, node.name));
  return out;
}

policy::ir::Ruleset restrictToNode(const policy::ir::Ruleset& all, const LabState& lab,
                                   size_t node) {
  std::set<IpAddress> local;
  for (const LabPod& p : lab.pods) {
    if (p.node == node) local.insert(p.ips.begin(), p.ips.end());
  }
  policy::ir::Ruleset out = all;
  out.clear_endpoints();
  for (const auto& e : all.endpoints()) {
    bool here = false;
    for (uint32_t v4 : e.ipv4()) here = here || local.count(IpAddress::v4(v4));
    for (const auto& v6 : e.ipv6()) here = here || local.count(IpAddress::v6(v6.high(), v6.low()));
    if (here) *out.add_endpoints() = e;
  }
  auto* info = out.mutable_node();
  info->Clear();
  info->set_name(lab.nodes[node].name);
  info->add_addresses_v4(lab.nodes[node].addr4.v4Value());
  auto* v6 = info->add_addresses_v6();
  v6->set_high(lab.nodes[node].addr6.high());
  v6->set_low(lab.nodes[node].addr6.low());
  v6->set_prefix_len(128);
  return out;
}

}  // namespace palisade::agent::lab
