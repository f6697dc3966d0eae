#include "probes/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace rebound {

namespace latency_bins {

uint32_t index_of(double latency_ms) {
  const double us = std::max(0.0, std::round(latency_ms * 1000));
  const uint64_t v = std::min<uint64_t>(static_cast<uint64_t>(std::min(us, 4.2e9)), UINT32_MAX);
  constexpr uint64_t sub_count = 1u << (kHalfMagnitude + 1);
  const int bucket = v < sub_count ? 0 : std::bit_width(v) - (kHalfMagnitude + 1);
  const uint64_t sub = v >> bucket;  // in [half, sub_count) past the first bucket
  return static_cast<uint32_t>((static_cast<uint64_t>(bucket + 1) << kHalfMagnitude) + sub - (sub_count >> 1));
}

double midpoint_ms(uint32_t index) {
  constexpr uint32_t half = 1u << kHalfMagnitude;
  int bucket = static_cast<int>(index >> kHalfMagnitude) - 1;
  uint64_t sub = (index & (half - 1)) + half;
  if (bucket < 0) {  // the first bucket's lower half: 0 .. 127 us, exact
    bucket = 0;
    sub -= half;
  }
  const double low = static_cast<double>(sub << bucket);
  const double width = static_cast<double>(uint64_t{1} << bucket);
  return (low + (width - 1) / 2) / 1000;
}

}  // namespace latency_bins

SparseHistogram SparseHistogram::from_bins(std::span<uint32_t> bins) {
  std::sort(bins.begin(), bins.end());
  // Twice over the sorted bins: first to count the entries, then to fill exactly that many (one allocation).
  auto each_entry = [&bins](auto&& f) {
    for (size_t i = 0; i < bins.size();) {
      const uint32_t bin = bins[i];
      size_t run = 0;
      for (; i < bins.size() && bins[i] == bin && run < UINT16_MAX; ++i) ++run;
      f(Bin{static_cast<uint16_t>(std::min(bin, latency_bins::kCount - 1)), static_cast<uint16_t>(run)});
    }
  };
  size_t n = 0;
  each_entry([&n](Bin) { ++n; });
  SparseHistogram h;
  h.bins_.reserve(n);
  each_entry([&h](Bin b) { h.bins_.push_back(b); });
  return h;
}

uint64_t SparseHistogram::total() const {
  uint64_t n = 0;
  for (const auto& b : bins_) n += b.count;
  return n;
}

std::optional<double> SparseHistogram::percentile(double p) const {
  const uint64_t n = total();
  if (n == 0) return std::nullopt;
  const uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(n))), 1, n);
  uint64_t seen = 0;
  for (const auto& b : bins_) {
    seen += b.count;
    if (seen >= rank) return latency_bins::midpoint_ms(b.bin);
  }
  return latency_bins::midpoint_ms(bins_.back().bin);
}

void LatencyHistogram::add(double latency_ms, uint64_t count) {
  counts_[latency_bins::index_of(latency_ms)] += count;
  total_ += count;
}

void LatencyHistogram::add(const SparseHistogram& h) {
  for (const auto& b : h.bins()) {
    counts_[b.bin] += b.count;
    total_ += b.count;
  }
}

std::optional<double> LatencyHistogram::percentile(double p) const {
  if (total_ == 0) return std::nullopt;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
  rank = std::clamp<uint64_t>(rank, 1, total_);
  uint64_t seen = 0;
  for (uint32_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return latency_bins::midpoint_ms(i);
  }
  return latency_bins::midpoint_ms(latency_bins::kCount - 1);
}

}  // namespace rebound
