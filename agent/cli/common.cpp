#include "agent/cli/common.h"

#include <algorithm>
#include <cctype>
#include <ostream>

namespace palisade::agent::cli {

LoadedState loadState(const std::vector<std::string>& paths, std::ostream& err) {
  policy::ManifestSet set = policy::readManifests(paths);
  for (const std::string& note : set.notes) err << "note: " << note << "\n";
  for (const policy::Diagnostic& d : set.errors) err << "warning: " << d.format() << "\n";
  if (!set.errors.empty()) {
    err << "warning: " << set.errors.size()
        << " invalid object(s) left out; `palisade check` lists them\n";
  }
  return LoadedState{policy::ClusterState::fromManifests(set), set.errors.size()};
}

std::optional<policy::Protocol> parseProtocolArg(std::string_view text) {
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return policy::parseProtocol(upper);
}

NamedEnd podEnd(const policy::ClusterState& state, policy::PodId id) {
  return NamedEnd{policy::FlowEnd::ofPod(id), state.podName(id)};
}

Result<NamedEnd> resolveEnd(const policy::ClusterState& state, std::string_view text) {
  if (std::optional<policy::IpAddress> ip = policy::IpAddress::parse(text)) {
    NamedEnd named;
    named.label = std::string(text);
    if (std::optional<policy::PodId> pod = state.findPodByIp(*ip)) {
      named.end = policy::FlowEnd{*pod, *ip};
      named.label = state.podName(*pod) + " (" + ip->toString() + ")";
    } else {
      named.end = policy::FlowEnd::ofAddress(*ip);
    }
    return named;
  }
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size() ||
      text.find('/', slash + 1) != std::string_view::npos) {
    return Error(0, "\"" + std::string(text) + "\" is neither NS/POD nor an IP address");
  }
  std::string_view ns = text.substr(0, slash);
  std::string_view name = text.substr(slash + 1);
  std::optional<policy::PodId> pod = state.findPod(ns, name);
  if (!pod) {
    return Error(0, "unknown pod " + std::string(text) + " (no Pod " + std::string(name) +
                        " in namespace " + std::string(ns) + " in the manifests)");
  }
  return podEnd(state, *pod);
}

}  // namespace palisade::agent::cli
