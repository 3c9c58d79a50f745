#pragma once
// The agent's Prometheus metrics. The reconcile loop updates its own values
// here; the API reflectors' counters and the kernel's deny counters are read
// at scrape time through collectors, so the hot paths only touch atomics.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/daemon/defence_metrics.h"

namespace palisade::agent {

/// A cumulative histogram with fixed bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  void render(std::string& out, const std::string& name) const;
  uint64_t count() const;
  /// The smallest bound with at least q of the observations (tests, status).
  double quantileBound(double q) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> buckets_;  // per bound, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct RulesetSize {
  uint64_t revision = 0, endpoints = 0, programs = 0, rules = 0, set_elements = 0;
};

class Metrics {
 public:
  Metrics();

  Histogram sync_duration;  // event received → kernel acked
  std::atomic<uint64_t> syncs_delta{0}, syncs_replace{0}, syncs_unchanged{0};
  std::atomic<uint64_t> kernel_batch_errors{0};
  std::atomic<uint64_t> checkpoint_writes{0}, checkpoint_errors{0};
  std::atomic<uint64_t> objects_rejected{0};  // failed validation (skipped)
  std::atomic<uint64_t> resyncs{0};
  std::atomic<uint64_t> manifest_reloads{0};
  std::atomic<bool> ready{false};
  DefenceMetrics defence;  // drift and repair (defence_metrics.h)

  void setRulesetSize(const RulesetSize& size);
  RulesetSize rulesetSize() const;
  /// Packets and bytes dropped per program chain (from nft counters).
  void setDenied(std::map<std::string, std::pair<uint64_t, uint64_t>> denied);

  /// Appends more exposition text at scrape time (reflector stats).
  void addCollector(std::function<void(std::string&)> collector);
  std::string render() const;

 private:
  mutable std::mutex mu_;
  RulesetSize size_;
  std::map<std::string, std::pair<uint64_t, uint64_t>> denied_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

/// "# HELP"/"# TYPE" header helper for collectors.
void metricHeader(std::string& out, const char* name, const char* type, const char* help);

}  // namespace palisade::agent
