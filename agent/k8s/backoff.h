#pragma once
// Exponential backoff with jitter for one reflector's reconnects.
//
// next() doubles from `initial` up to `max`; reset() starts over. Every wait
// is stretched by a random factor in [1, 1 + jitter) so that the agents of a
// cluster, all disconnected by the same API server restart, do not come back
// in lockstep. jittered() applies the same spread to a wait the server asked
// for (Retry-After): the server names a minimum, and thousands of agents
// retrying on the same second boundary would be the same thundering herd.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace palisade::agent::k8s {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter,
          uint64_t seed)
      : initial_(initial), max_(std::max(max, initial)), jitter_(jitter), rng_(seed) {}

  /// The next wait: the current step (initial, then doubled up to max), jittered.
  std::chrono::milliseconds next() {
    step_ = step_.count() == 0 ? initial_ : std::min(step_ * 2, max_);
    return jittered(step_);
  }
  /// `d` stretched by a random factor in [1, 1 + jitter).
  std::chrono::milliseconds jittered(std::chrono::milliseconds d) {
    if (jitter_ <= 0) return d;
    std::uniform_real_distribution<double> u(0.0, jitter_);
    return std::chrono::milliseconds(
        static_cast<int64_t>(static_cast<double>(d.count()) * (1.0 + u(rng_))));
  }
  /// After a success: the next failure waits `initial` again.
  void reset() { step_ = std::chrono::milliseconds(0); }
  /// The step the last next() used (0 after reset()).
  std::chrono::milliseconds step() const { return step_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  std::mt19937_64 rng_;
  std::chrono::milliseconds step_{0};
};

}  // namespace palisade::agent::k8s
