// The lab's two figures (issue 4): `lab up` of the upstream 3x3 grid (9 pods,
// 9 Services, one node) and one full 9x9 probe matrix on one protocol/port,
// through the pods and through their ClusterIPs, with everything allowed
// (bound by the kernel) and with a deny-all policy (bound by the timeout).
// Needs root; reports an error (not a figure) otherwise.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/lab/lab.h"
#include "agent/lab/plan.h"

namespace palisade::agent::lab {
namespace {

std::string gridManifest() {
  std::string m;
  const char* ns[] = {"x", "y", "z"};
  const char* pods[] = {"a", "b", "c"};
  for (int n = 0; n < 3; ++n) {
    m += "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + std::string(ns[n]) + "}\n---\n";
    for (int p = 0; p < 3; ++p) {
      std::string ip = "10.0." + std::to_string(n + 1) + "." + std::to_string(p + 1);
      m += "apiVersion: v1\nkind: Pod\nmetadata: {name: " + std::string(pods[p]) +
           ", namespace: " + ns[n] + ", labels: {pod: " + pods[p] + "}}\n" +
           "spec: {containers: [{name: c, ports: [{name: serve-80-tcp, containerPort: 80}]}]}\n" +
           "status: {podIP: " + ip + "}\n---\n";
      m += "apiVersion: v1\nkind: Service\nmetadata: {name: s-" + std::string(ns[n]) + "-" +
           pods[p] + ", namespace: " + ns[n] + "}\nspec: {selector: {pod: " + pods[p] +
           "}, ports: [{port: 80}]}\n---\n";
    }
  }
  return m;
}

constexpr const char* kDenyAll = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
)";

std::string writeFile(const std::string& name, const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path) << text;
  return path;
}

void BM_LabUp9Pods(benchmark::State& st) {
  if (geteuid() != 0) return st.SkipWithError("needs root");
  std::string model = writeFile("palisade-bench-grid.yaml", gridManifest());
  std::ostringstream log;
  for (auto _ : st) {
    auto lab = labUp({"bench-up", {model}, 1, PALISADE_CLI_BINARY}, log);
    st.PauseTiming();
    if (!lab) st.SkipWithError(lab.error().str().c_str());
    (void)labDown("bench-up", log);
    st.ResumeTiming();
    if (!lab) break;
  }
}
BENCHMARK(BM_LabUp9Pods)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

void probeMatrix(benchmark::State& st, Via via, bool deny) {
  if (geteuid() != 0) return st.SkipWithError("needs root");
  std::ostringstream log;
  (void)labDown("bench-probe", log);
  auto lab = labUp({"bench-probe",
                    {writeFile("palisade-bench-grid.yaml", gridManifest())},
                    1,
                    PALISADE_CLI_BINARY},
                   log);
  if (!lab) return st.SkipWithError(lab.error().str().c_str());
  if (deny) (void)labApply("bench-probe", {writeFile("palisade-bench-deny.yaml", kDenyAll)}, log);
  auto reloaded = loadState("bench-probe");
  std::vector<std::string> warnings;
  auto state = loadClusterState(*reloaded, &warnings);
  size_t allowed = 0;
  for (auto _ : st) {
    auto probe = labProbe(*reloaded, *state, policy::Protocol::TCP, 80, via, 250);
    allowed = 0;
    for (const auto& row : probe->allowed) {
      for (bool a : row) allowed += a;
    }
  }
  st.counters["allowed_cells"] = static_cast<double>(allowed);
  (void)labDown("bench-probe", log);
}

void BM_Probe9x9ViaPod(benchmark::State& st) { probeMatrix(st, Via::Pod, false); }
void BM_Probe9x9ViaService(benchmark::State& st) { probeMatrix(st, Via::Service, false); }
void BM_Probe9x9ViaServiceDenyX(benchmark::State& st) { probeMatrix(st, Via::Service, true); }
BENCHMARK(BM_Probe9x9ViaPod)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Probe9x9ViaService)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Probe9x9ViaServiceDenyX)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(5);

}  // namespace
}  // namespace palisade::agent::lab

BENCHMARK_MAIN();
