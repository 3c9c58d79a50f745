#include "agent/cli/cmd_explain.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json.hpp>
#include <ostream>

#include "agent/cli/common.h"
#include "policy/evaluate/evaluate.h"
#include "policy/service/resolve.h"

namespace palisade::agent::cli {

const char* const kSelfTrafficNote =
    "a pod reaching itself: traffic to its own IP that never leaves the pod's network "
    "namespace is outside any enforcement point; hairpin through a Service is judged as shown";

namespace {

using policy::DirectionVerdict;

const char* outcomeName(DirectionVerdict::Outcome o) {
  switch (o) {
    case DirectionVerdict::Outcome::NotIsolated:
      return "not-isolated";
    case DirectionVerdict::Outcome::Allowed:
      return "allowed";
    case DirectionVerdict::Outcome::Denied:
      return "denied";
    case DirectionVerdict::Outcome::NotEnforced:
      return "not-enforced";
  }
  return "not-isolated";
}

boost::json::object directionJson(const DirectionVerdict& d) {
  boost::json::array isolated;
  for (const policy::PolicyName& p : d.isolated_by) isolated.emplace_back(p.str());
  boost::json::array allowed;
  for (const policy::RuleRef& r : d.allowed_by) {
    allowed.push_back(boost::json::object{{"policy", r.policy.str()}, {"rule", r.rule_index}});
  }
  boost::json::object o{{"outcome", outcomeName(d.outcome)},
                        {"reason", d.describe()},
                        {"isolated_by", std::move(isolated)},
                        {"allowed_by", std::move(allowed)}};
  if (!d.note.empty()) o["note"] = d.note;
  // The cluster tiers: the rule that decided, and the Pass rules on the way.
  auto rule = [](const policy::ClusterRuleRef& r) {
    return boost::json::object{{"tier", policy::tierName(r.tier)},
                               {"kind", policy::clusterPolicyKindName(r.kind)},
                               {"policy", r.policy},
                               {"rule", r.rule_index},
                               {"name", r.rule_name},
                               {"action", policy::actionName(r.action)}};
  };
  if (d.decided_by) o["decided_by"] = rule(*d.decided_by);
  if (!d.passed.empty()) {
    boost::json::array passed;
    for (const policy::ClusterRuleRef& r : d.passed) passed.push_back(rule(r));
    o["passed"] = std::move(passed);
  }
  return o;
}

bool samePod(const policy::FlowEnd& a, const policy::FlowEnd& b) {
  return a.pod && b.pod && *a.pod == *b.pod;
}

std::vector<std::string> verdictNotes(const policy::Verdict& v, const policy::FlowEnd& src,
                                      const policy::FlowEnd& dst, bool via_service) {
  std::vector<std::string> notes = v.notes;
  // The evaluator may already say it; one note is enough.
  bool already = std::any_of(notes.begin(), notes.end(), [](const std::string& n) {
    return n.find("network namespace") != std::string::npos ||
           n.find("hairpin") != std::string::npos;
  });
  if (samePod(src, dst) && !already) {
    notes.emplace_back(via_service ? "hairpin: the pod reaches itself through its Service; "
                                     "the kernel judges it as shown"
                                   : kSelfTrafficNote);
  }
  return notes;
}

void printVerdict(std::ostream& out, const policy::Verdict& v, const std::string& src,
                  const std::string& dst, const std::vector<std::string>& notes,
                  const std::string& indent) {
  out << indent << "egress of " << src << ": " << v.egress.describe() << "\n";
  out << indent << "ingress of " << dst << ": " << v.ingress.describe() << "\n";
  for (const std::string& n : notes) out << indent << "note: " << n << "\n";
}

std::string verdictWord(bool allowed) { return allowed ? "ALLOWED" : "DENIED"; }

std::string flowText(const std::string& src, const std::string& dst, policy::Protocol p,
                     int32_t port) {
  return src + " -> " + dst + " " + policy::protocolName(p) + "/" + std::to_string(port);
}

int explainService(const policy::ClusterState& state, const ExplainOptions& opts,
                   const NamedEnd& src, const std::string& ns, const std::string& name,
                   policy::Protocol protocol, std::ostream& out, std::ostream& err) {
  policy::ServiceResolution r = policy::resolveService(state, ns, name, opts.port, protocol);
  if (!r.error.empty()) {
    err << "palisade explain: " << r.error << "\n";
    return kExitUsage;
  }
  boost::json::array backends;
  std::string head = flowText(src.label, opts.to, protocol, opts.port);
  if (opts.output == "text") {
    out << head << " (" << policy::serviceTypeName(r.type) << (r.headless ? ", headless" : "")
        << "): " << r.backends.size() << " backend(s)\n";
    for (const std::string& n : r.notes) out << "  note: " << n << "\n";
  }
  for (const policy::ServiceBackend& b : r.backends) {
    std::string label =
        b.pod ? state.podName(*b.pod) : (b.address ? b.address->toString() : b.hostname);
    std::string where = label;
    if (b.pod && b.address) where += " " + b.address->toString();
    bool judged = (b.pod || b.address) && b.port != 0;
    boost::json::object jb{
        {"backend", label}, {"port", b.port}, {"ready", b.ready}, {"note", b.note}};
    if (b.address) jb["address"] = b.address->toString();
    if (!b.hostname.empty()) jb["hostname"] = b.hostname;
    if (opts.output == "text") {
      out << "  backend " << where << " " << policy::protocolName(b.protocol) << "/" << b.port;
      if (!b.note.empty()) out << " (" << b.note << ")";
    }
    if (!judged) {
      if (opts.output == "text") out << ": not judged\n";
      jb["judged"] = false;
      backends.push_back(std::move(jb));
      continue;
    }
    policy::FlowEnd dst{b.pod, b.address};
    policy::Verdict v = policy::evaluate(state, src.end, dst, b.protocol, b.port);
    std::vector<std::string> notes = verdictNotes(v, src.end, dst, true);
    if (opts.output == "text") {
      out << ": " << verdictWord(v.allowed) << "\n";
      printVerdict(out, v, src.label, label, notes, "    ");
    }
    jb["judged"] = true;
    jb["allowed"] = v.allowed;
    jb["egress"] = directionJson(v.egress);
    jb["ingress"] = directionJson(v.ingress);
    boost::json::array jn;
    for (const std::string& n : notes) jn.emplace_back(n);
    jb["notes"] = std::move(jn);
    backends.push_back(std::move(jb));
  }
  if (opts.output == "json") {
    boost::json::array jn;
    for (const std::string& n : r.notes) jn.emplace_back(n);
    boost::json::object doc{
        {"from", src.label},
        {"to", opts.to},
        {"protocol", policy::protocolName(protocol)},
        {"port", opts.port},
        {"service", boost::json::object{{"name", r.service},
                                        {"type", policy::serviceTypeName(r.type)},
                                        {"headless", r.headless}}},
        {"notes", std::move(jn)},
        {"backends", std::move(backends)}};
    out << boost::json::serialize(doc) << "\n";
  }
  return kExitOk;
}

}  // namespace

CLI::App* addExplainCommand(CLI::App& app, ExplainOptions& opts) {
  CLI::App* sub = app.add_subcommand("explain", "Verdict and reasons for one flow");
  sub->add_option("-f,--filename", opts.files, "Manifest files or directories")->required();
  sub->add_option("--from", opts.from, "NS/POD or IP")->required();
  sub->add_option("--to", opts.to, "NS/POD, IP or svc/NS/NAME")->required();
  sub->add_option("--port", opts.port, "Destination port")->required()->check(CLI::Range(1, 65535));
  sub->add_option("--protocol", opts.protocol, "TCP, UDP or SCTP")->capture_default_str();
  sub->add_option("-o,--output", opts.output, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  return sub;
}

int runExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err) {
  std::optional<policy::Protocol> protocol = parseProtocolArg(opts.protocol);
  if (!protocol) {
    err << "palisade explain: unknown protocol \"" << opts.protocol << "\" (TCP, UDP or SCTP)\n";
    return kExitUsage;
  }
  policy::ClusterState state = loadState(opts.files, err).state;
  Result<NamedEnd> src = resolveEnd(state, opts.from);
  if (!src) {
    err << "palisade explain: --from: " << src.error().str() << "\n";
    return kExitUsage;
  }
  if (auto svc = policy::parseServiceRef(opts.to)) {
    return explainService(state, opts, *src, svc->first, svc->second, *protocol, out, err);
  }
  Result<NamedEnd> dst = resolveEnd(state, opts.to);
  if (!dst) {
    err << "palisade explain: --to: " << dst.error().str() << "\n";
    return kExitUsage;
  }
  policy::Verdict v = policy::evaluate(state, src->end, dst->end, *protocol, opts.port);
  std::vector<std::string> notes = verdictNotes(v, src->end, dst->end, false);
  if (opts.output == "json") {
    boost::json::array jn;
    for (const std::string& n : notes) jn.emplace_back(n);
    boost::json::object doc{{"from", src->label},
                            {"to", dst->label},
                            {"protocol", policy::protocolName(*protocol)},
                            {"port", opts.port},
                            {"allowed", v.allowed},
                            {"egress", directionJson(v.egress)},
                            {"ingress", directionJson(v.ingress)},
                            {"notes", std::move(jn)}};
    out << boost::json::serialize(doc) << "\n";
    return kExitOk;
  }
  out << flowText(src->label, dst->label, *protocol, opts.port) << ": " << verdictWord(v.allowed)
      << "\n";
  printVerdict(out, v, src->label, dst->label, notes, "  ");
  return kExitOk;
}

}  // namespace palisade::agent::cli
