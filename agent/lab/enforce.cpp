#include "agent/lab/enforce.h"

#include <set>
#include <thread>

#include "agent/lab/netns.h"
#include "datapath/nft/probe.h"

namespace palisade::agent::lab {

Result<NodeProgrammers> NodeProgrammers::open(const LabState& lab, bool userspace_mode) {
  NodeProgrammers out;
  datapath::nft::QueueRules queue_rules;
  if (userspace_mode) {
    auto native = datapath::nft::probeQueueStatement();
    if (!native) return native.error().context("user-space mode");
    queue_rules.pending_pods = true;
    queue_rules.all_local_pods = true;
    queue_rules.target = queue::queueTarget({}, *native);
  }
  for (const LabNode& node : lab.nodes) {
    Result<std::unique_ptr<datapath::nft::Transport>> transport = Error(0, "not opened");
    // A short-lived thread enters the namespace, so the caller's stays put.
    std::thread t([&] {
      auto guard = NetnsGuard::enter(node.netns);
      if (!guard) {
        transport = guard.error();
        return;
      }
      transport = datapath::nft::openMnlTransport();
    });
    t.join();
    if (!transport) return transport.error().context("netlink socket in " + node.netns);
    // No owner flag: the table must outlive this process (lab commands are
    // separate processes; `lab down` removes it with the namespace).
    if (userspace_mode) {
      // The queue's socket is bound in the node's namespace, like the table's.
      Result<std::unique_ptr<queue::QueueService>> service = Error(0, "not started");
      std::thread q([&] {
        auto guard = NetnsGuard::enter(node.netns);
        if (!guard) {
          service = guard.error();
          return;
        }
        service = queue::QueueService::start({});
      });
      q.join();
      if (!service) return service.error().context("packet queue in " + node.netns);
      out.queues_.push_back(std::move(*service));
    }
    datapath::nft::ProgrammerOptions options;
    options.queue = queue_rules;
    out.programmers_.push_back(
        std::make_unique<datapath::nft::Programmer>(std::move(*transport), options));
    out.netns_.push_back(node.netns);
  }
  return out;
}

Status NodeProgrammers::sync(const std::vector<ir::Ruleset>& rulesets, bool adopt,
                             std::vector<std::string>* log) {
  for (size_t i = 0; i < programmers_.size() && i < rulesets.size(); ++i) {
    datapath::nft::Programmer& p = *programmers_[i];
    auto report = adopt && !p.current() ? p.adopt(rulesets[i]) : p.sync(rulesets[i]);
    if (!report) {
      // No fallback: the lab exists to prove what the real datapath enforces.
      return report.error().context("programming lab node " + netns_[i]);
    }
    if (log != nullptr) log->push_back(netns_[i] + ": " + report->summary);
    if (i < queues_.size()) queues_[i]->programmed(rulesets[i]);
  }
  return okStatus();
}

std::vector<ir::Ruleset> compileNodes(const LabState& lab, const policy::ClusterState& state) {
  std::vector<ir::Ruleset> out;
  for (const LabNode& node : lab.nodes) out.push_back(policy::compile(state, node.name));
  return out;
}

ir::Ruleset restrictToNode(const ir::Ruleset& all, const LabState& lab, size_t node) {
  std::set<IpAddress> local;
  for (const LabPod& p : lab.pods) {
    if (p.node == node) local.insert(p.ips.begin(), p.ips.end());
  }
  ir::Ruleset out = all;
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
  std::vector<IpAddress> addresses = {lab.nodes[node].addr4, lab.nodes[node].addr6};
  // A lab node hosting case nodes is each of them: their addresses are its own.
  addresses.insert(addresses.end(), lab.nodes[node].hosted.begin(), lab.nodes[node].hosted.end());
  for (const IpAddress& ip : addresses) {
    if (ip.isV4()) {
      info->add_addresses_v4(ip.v4Value());
      continue;
    }
    auto* v6 = info->add_addresses_v6();
    v6->set_high(ip.high());
    v6->set_low(ip.low());
    v6->set_prefix_len(128);
  }
  return out;
}

}  // namespace palisade::agent::lab
