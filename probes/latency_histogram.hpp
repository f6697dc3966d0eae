#pragma once
// Latency histograms in the manner of HdrHistogram: values in microseconds, log-linear bins of 128 sub-bins per
// power of two. A value is reported as its bin's midpoint, within 0.4% of the true value (better than two
// significant digits) and exact to the microsecond below 256 us. Values up to about 70 minutes; larger ones are
// counted in the last bin.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rebound {

namespace latency_bins {
inline constexpr int kHalfMagnitude = 7;                  // 128 sub-bins in each half power of two
inline constexpr uint32_t kCount = (25u + 1u) << kHalfMagnitude;  // up to 2^32 us
uint32_t index_of(double latency_ms);
double midpoint_ms(uint32_t index);  // the value a bin stands for
}  // namespace latency_bins

// The few bins one 10 ms bucket of requests fills: (bin, count) sorted by bin, 4 bytes a bin, in one allocation of
// exactly its size (a ten-minute run keeps 60,000 of them: 20 requests in 18 bins are 72 bytes).
class SparseHistogram {
 public:
  struct Bin {
    uint16_t bin = 0;    // < latency_bins::kCount
    uint16_t count = 0;  // a bin with more values is repeated
  };
  static_assert(sizeof(Bin) == 4);
  // From the bin indexes of the values, in any order; sorts `bins` in place.
  static SparseHistogram from_bins(std::span<uint32_t> bins);
  const std::vector<Bin>& bins() const { return bins_; }
  uint64_t total() const;
  // Nearest rank (p in 0..100) as the bin's midpoint; nullopt when empty.
  std::optional<double> percentile(double p) const;

 private:
  std::vector<Bin> bins_;
};

// Every bin, for merging buckets over a phase and reading percentiles.
class LatencyHistogram {
 public:
  LatencyHistogram() : counts_(latency_bins::kCount, 0) {}
  void add(double latency_ms, uint64_t count = 1);
  void add(const SparseHistogram& h);
  uint64_t total() const { return total_; }
  // Nearest rank (p in 0..100) as the bin's midpoint; nullopt when empty.
  std::optional<double> percentile(double p) const;

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
};

}  // namespace rebound
