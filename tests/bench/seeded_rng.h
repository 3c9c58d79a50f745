#pragma once
// The synthetic cluster's random numbers.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace palisade::bench {

// Our own generator and integer mapping rather than <random>'s distributions, whose
// output differs between standard libraries: a seed must mean the same cluster everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  template <typename T, size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }
  template <typename T>
  const T& pick(const std::vector<T>& items) {
    return items[below(items.size())];
  }
  /// Standard normal (Box-Muller); namespace sizes are log-normal in real clusters.
  double normal() {
    return std::sqrt(-2.0 * std::log(1.0 - unit())) * std::cos(6.283185307 * unit());
  }

 private:
  uint64_t state_;
};

}  // namespace palisade::bench
