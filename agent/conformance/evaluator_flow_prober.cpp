#include "agent/conformance/evaluator_flow_prober.h"

#include "policy/compile/compile.h"
#include "policy/evaluate/evaluate.h"
#include "policy/evaluate/ruleset_evaluator.h"

namespace palisade::agent::conformance {
namespace {

const char* word(bool allowed) { return allowed ? "allow" : "deny"; }

}  // namespace

FlowProbeReport EvaluatorFlowProber::probe(const policy::ClusterState& state,
                                           const std::vector<FlowProbe>& probes) {
  FlowProbeReport report;
  // One compile per step: every pod is local, as in the dry-run CLI.
  const ir::Ruleset ruleset = policy::compile(state, "");
  auto ir = policy::RulesetEvaluator::create(ruleset);
  if (!ir) report.errors.push_back("compiled ruleset is invalid: " + ir.error().str());
  for (const FlowProbe& p : probes) {
    policy::FlowEnd src = policy::FlowEnd::ofPod(p.src_pod);
    src.address = p.src;
    policy::FlowEnd dst = policy::FlowEnd::ofAddress(p.dst);
    dst.pod = p.dst_pod;
    const policy::Verdict v = policy::evaluate(state, src, dst, p.protocol, p.port);
    FlowOutcome out;
    out.allowed = v.allowed;
    out.egress = v.egress.describe();
    out.ingress = v.ingress.describe();
    if (ir) {
      // The kernel judges addresses: the compiled ruleset must decide the same.
      const policy::Verdict iv = ir->evaluate(p.src, p.dst, p.protocol, p.port);
      if (iv.allowed != v.allowed) {
        out.errors.push_back("ir evaluator disagrees: " + p.src.toString() + " -> " +
                             p.dst.toString() + " state " + word(v.allowed) + ", ir " +
                             word(iv.allowed) + " (ir egress: " + iv.egress.describe() +
                             "; ir ingress: " + iv.ingress.describe() + ")");
      }
    }
    report.outcomes.push_back(std::move(out));
  }
  return report;
}

}  // namespace palisade::agent::conformance
