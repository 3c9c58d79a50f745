#include "agent/daemon/metrics.h"

#include <cstdio>

#include "proto/base/version.h"

namespace palisade::agent {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::lock_guard lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++buckets_[i];
  sum_ += v;
  ++count_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

double Histogram::quantileBound(double q) const {
  std::lock_guard lock(mu_);
  uint64_t need = static_cast<uint64_t>(q * double(count_) + 0.999999), seen = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= need) return bounds_[i];
  }
  return 1e300;
}

static std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Histogram::render(std::string& out, const std::string& name) const {
  std::lock_guard lock(mu_);
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += buckets_[i];
    out += name + "_bucket{le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += buckets_.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  out += name + "_sum " + num(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

void metricHeader(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

Metrics::Metrics()
    : sync_duration(
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}) {}

void Metrics::setRulesetSize(const RulesetSize& size) {
  std::lock_guard lock(mu_);
  size_ = size;
}

RulesetSize Metrics::rulesetSize() const {
  std::lock_guard lock(mu_);
  return size_;
}

void Metrics::setDenied(std::map<std::string, std::pair<uint64_t, uint64_t>> denied) {
  std::lock_guard lock(mu_);
  denied_ = std::move(denied);
}

void Metrics::addCollector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(4096);
  metricHeader(out, "palisade_build_info", "gauge", "Agent build information.");
  out += std::string("palisade_build_info{version=\"") + version() + "\"} 1\n";
  metricHeader(out, "palisade_ready", "gauge", "1 once the first full sync was programmed.");
  out += "palisade_ready " + std::to_string(ready ? 1 : 0) + "\n";
  metricHeader(out, "palisade_sync_duration_seconds", "histogram",
               "Time from the oldest API event of a batch to the kernel's ack of its ruleset.");
  sync_duration.render(out, "palisade_sync_duration_seconds");
  metricHeader(out, "palisade_kernel_syncs_total", "counter", "Rulesets programmed, by kind.");
  out += "palisade_kernel_syncs_total{kind=\"delta\"} " + std::to_string(syncs_delta) + "\n";
  out += "palisade_kernel_syncs_total{kind=\"replace\"} " + std::to_string(syncs_replace) + "\n";
  out +=
      "palisade_kernel_syncs_total{kind=\"unchanged\"} " + std::to_string(syncs_unchanged) + "\n";
  metricHeader(out, "palisade_kernel_batch_errors_total", "counter",
               "Netlink batches the kernel rejected (the previous ruleset stayed in force).");
  out += "palisade_kernel_batch_errors_total " + std::to_string(kernel_batch_errors) + "\n";
  metricHeader(out, "palisade_checkpoint_writes_total", "counter", "Checkpoints written.");
  out += "palisade_checkpoint_writes_total " + std::to_string(checkpoint_writes) + "\n";
  metricHeader(out, "palisade_checkpoint_errors_total", "counter",
               "Checkpoint writes that failed.");
  out += "palisade_checkpoint_errors_total " + std::to_string(checkpoint_errors) + "\n";
  metricHeader(out, "palisade_objects_rejected_total", "counter",
               "API objects or manifests skipped because they failed validation.");
  out += "palisade_objects_rejected_total " + std::to_string(objects_rejected) + "\n";
  metricHeader(out, "palisade_resyncs_total", "counter", "Forced full resyncs (SIGHUP).");
  out += "palisade_resyncs_total " + std::to_string(resyncs) + "\n";
  metricHeader(out, "palisade_manifest_reloads_total", "counter", "Standalone manifest reloads.");
  out += "palisade_manifest_reloads_total " + std::to_string(manifest_reloads) + "\n";

  defence.render(out);

  std::lock_guard lock(mu_);
  metricHeader(out, "palisade_ruleset_revision", "gauge", "Revision of the programmed ruleset.");
  out += "palisade_ruleset_revision " + std::to_string(size_.revision) + "\n";
  metricHeader(out, "palisade_ruleset_size", "gauge", "Size of the programmed ruleset.");
  out += "palisade_ruleset_size{what=\"endpoints\"} " + std::to_string(size_.endpoints) + "\n";
  out += "palisade_ruleset_size{what=\"programs\"} " + std::to_string(size_.programs) + "\n";
  out += "palisade_ruleset_size{what=\"rules\"} " + std::to_string(size_.rules) + "\n";
  out +=
      "palisade_ruleset_size{what=\"set_elements\"} " + std::to_string(size_.set_elements) + "\n";
  metricHeader(out, "palisade_denied_packets_total", "counter",
               "Packets dropped by each program chain (nft counters).");
  for (const auto& [prog, v] : denied_)
    out +=
        "palisade_denied_packets_total{program=\"" + prog + "\"} " + std::to_string(v.first) + "\n";
  metricHeader(out, "palisade_denied_bytes_total", "counter",
               "Bytes dropped by each program chain (nft counters).");
  for (const auto& [prog, v] : denied_)
    out +=
        "palisade_denied_bytes_total{program=\"" + prog + "\"} " + std::to_string(v.second) + "\n";
  for (const auto& c : collectors_) c(out);
  return out;
}

}  // namespace palisade::agent
