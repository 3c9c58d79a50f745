#include "agent/daemon/defence_metrics.h"

#include "agent/daemon/metrics.h"
#include "datapath/nft/monitor.h"

namespace palisade::agent {

void DefenceMetrics::repaired(const std::string& cause) {
  std::lock_guard lock(mu_);
  ++repairs_[cause];
}

void DefenceMetrics::render(std::string& out) const {
  metricHeader(out, "palisade_table_flag", "gauge",
               "1 when table inet palisade has the kernel flag (owner: no other process may "
               "change it; persist: it outlives the agent for the next one to take over).");
  out += "palisade_table_flag{flag=\"owner\"} " + std::to_string(table_owner.load()) + "\n";
  out += "palisade_table_flag{flag=\"persist\"} " + std::to_string(table_persist.load()) + "\n";
  metricHeader(out, "palisade_kernel_in_sync", "gauge",
               "1 while the kernel holds what the agent believes is in force.");
  out += "palisade_kernel_in_sync " + std::to_string(kernel_in_sync ? 1 : 0) + "\n";
  metricHeader(out, "palisade_drift_checks_total", "counter",
               "Readbacks of the table compared with the programmed model.");
  out += "palisade_drift_checks_total " + std::to_string(drift_checks) + "\n";
  metricHeader(out, "palisade_drift_detected_total", "counter",
               "Checks that found the table changed behind the agent's back.");
  out += "palisade_drift_detected_total " + std::to_string(drift_detected) + "\n";
  metricHeader(out, "palisade_drift_repair_errors_total", "counter",
               "Repairs the kernel rejected (retried with a full resync).");
  out += "palisade_drift_repair_errors_total " + std::to_string(repair_errors) + "\n";
  metricHeader(out, "palisade_last_repair_timestamp_seconds", "gauge",
               "Unix time of the last repair (0: never).");
  out += "palisade_last_repair_timestamp_seconds " +
         std::to_string(double(last_repair_unix_ms) / 1000.0) + "\n";
  metricHeader(out, "palisade_drift_repairs_total", "counter",
               "Differences repaired, by cause (table_deleted, chain_flushed, chain_rules, "
               "chain_deleted, chain_changed, set_deleted, element_removed, foreign_element, "
               "foreign_object, table_flags).");
  std::lock_guard lock(mu_);
  for (const auto& [cause, n] : repairs_)
    out += "palisade_drift_repairs_total{cause=\"" + cause + "\"} " + std::to_string(n) + "\n";
}

void renderMonitorMetrics(const datapath::nft::TableMonitor& monitor, std::string& out) {
  metricHeader(out, "palisade_foreign_changes_total", "counter",
               "nftables commits by other processes that touched the table.");
  out += "palisade_foreign_changes_total " + std::to_string(monitor.foreignChanges()) + "\n";
  metricHeader(out, "palisade_nft_events_lost_total", "counter",
               "Reads of nftables events that found some lost (socket overrun); each one "
               "triggered a check of the table.");
  out += "palisade_nft_events_lost_total " + std::to_string(monitor.overruns()) + "\n";
}

}  // namespace palisade::agent
