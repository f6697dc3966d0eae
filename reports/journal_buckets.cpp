#include "reports/journal_buckets.hpp"

namespace rebound {

namespace {

std::optional<double> number(const nlohmann::json& row, size_t i) {
  return row.is_array() && row.size() > i && row[i].is_number() ? std::optional<double>(row[i].get<double>())
                                                                : std::nullopt;
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

}  // namespace

nlohmann::json bucket_columns() {
  return {"t_ms", "end_ms", "requests", "failed", "max_latency_ms", "p50_ms", "p99_ms", "first_failure"};
}

BucketRow bucket_row(const Sample& s) {
  const RequestCounts& r = *s.requests;
  return {s.t_ms,
          s.end_ms,
          static_cast<double>(r.count),
          static_cast<double>(r.failures),
          s.latency_ms,
          r.latency.percentile(50),
          r.latency.percentile(99),
          r.failures ? s.reason : ""};
}

nlohmann::json to_json(const BucketRow& row) {
  return nlohmann::json::array({row.t_ms, row.end_ms, static_cast<uint64_t>(row.requests),
                                static_cast<uint64_t>(row.failed), row.max_latency_ms, opt(row.p50_ms),
                                opt(row.p99_ms), row.first_failure});
}

void for_each_bucket_row(const nlohmann::json& probe, const ProbeSeries* live,
                         const std::function<void(const BucketRow&)>& visit) {
  if (!probe.is_object()) return;
  if (auto it = probe.find("buckets"); it != probe.end() && it->is_array()) {
    for (const auto& row : *it) {
      BucketRow b;
      b.t_ms = number(row, 0).value_or(0);
      b.end_ms = number(row, 1).value_or(0);
      b.requests = number(row, 2).value_or(0);
      b.failed = number(row, 3).value_or(0);
      b.max_latency_ms = number(row, 4).value_or(0);
      b.p50_ms = number(row, 5);
      b.p99_ms = number(row, 6);
      if (row.is_array() && row.size() > 7 && row[7].is_string()) b.first_failure = row[7].get<std::string>();
      visit(b);
    }
    return;
  }
  if (!live) return;
  for (const auto& s : live->samples)
    if (s.requests) visit(bucket_row(s));
}

}  // namespace rebound
