// Decoding a pod LIST the way the reflector does: simdjson DOM parse of the
// page, then policy::decodeJson<Pod> per item (validation and defaulting included).
// Pods are realistic (~10 KB: managedFields, env, volumes, statuses).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include "policy/manifest/decode_json.h"
#include "tests/agent/k8s/k8s_objects.h"

namespace {

std::string podList(size_t n, size_t* avg_size) {
  std::string body =
      "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
      "\"12345\",\"continue\":\"abc\"},\"items\":[";
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    palisade::agent::testing::PodSpec p;
    p.ns = "team-" + std::to_string(i % 97);
    p.name = "app-" + std::to_string(i) + "-7d9f8b6c5d-x2k4q";
    p.ip = "10." + std::to_string(i / 65536 % 256) + "." + std::to_string(i / 256 % 256) + "." +
           std::to_string(i % 256);
    p.node = "node-" + std::to_string(i % 1400);
    p.labels = {{"app", "app-" + std::to_string(i % 300)},
                {"tier", "backend"},
                {"pod-template-hash", "7d9f8b6c5d"},
                {"team", "t" + std::to_string(i % 40)},
                {"version", "v1.2.3"}};
    p.ports = {{"http", 8080}, {"metrics", 9090}, {"grpc", 9000}};
    p.realistic = true;
    std::string pod = palisade::agent::testing::podJson(p);
    total += pod.size();
    if (i) body += ",";
    body += pod;
  }
  *avg_size = total / n;
  return body + "]}";
}

void BM_DecodePodList(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  size_t avg = 0;
  std::string body = podList(n, &avg);
  simdjson::dom::parser parser;
  size_t decoded = 0;
  for (auto _ : state) {
    simdjson::dom::element doc = parser.parse(body);
    for (simdjson::dom::element item : doc["items"].get_array()) {
      palisade::policy::Diagnostics diags;
      auto pod = palisade::policy::decodeJson<palisade::policy::Pod>(item, {}, diags);
      decoded += pod.has_value();
      benchmark::DoNotOptimize(pod);
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations() * n));
  state.SetBytesProcessed(int64_t(state.iterations() * body.size()));
  state.counters["avg_pod_bytes"] = double(avg);
  state.counters["valid"] = double(decoded) / double(state.iterations());
}
BENCHMARK(BM_DecodePodList)->Arg(500)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
