#pragma once
// Metrics of the datapath's self-defence (DESIGN §11): the table flags the
// kernel gave us, drift found and repaired by cause, and whether the kernel
// holds what the agent believes is in force.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace palisade::datapath::nft {
class TableMonitor;
}

namespace palisade::agent {

class DefenceMetrics {
 public:
  std::atomic<int> table_owner{0}, table_persist{0};  // 1 when the table has the flag
  std::atomic<bool> kernel_in_sync{true};
  std::atomic<uint64_t> drift_checks{0};        // readbacks compared with the model
  std::atomic<uint64_t> drift_detected{0};      // checks that found a difference
  std::atomic<uint64_t> repair_errors{0};       // repairs the kernel refused
  std::atomic<int64_t> last_repair_unix_ms{0};  // 0: never

  /// One repaired difference of `cause` (drift.h's causes).
  void repaired(const std::string& cause);
  void render(std::string& out) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> repairs_;  // by cause
};

/// The table monitor's own counts: foreign commits it reported and reads
/// that lost events (each of those also asked for a check).
void renderMonitorMetrics(const datapath::nft::TableMonitor& monitor, std::string& out);

}  // namespace palisade::agent
