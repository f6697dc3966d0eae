#pragma once
// A load probe's 10 ms buckets as the journal's rows ("bucket_columns": t_ms, end_ms, requests, failed,
// max_latency_ms, p50_ms, p99_ms, first_failure). A ten-minute run has 60,000 of them, so they are never a tree in
// memory: the journal file gets them streamed from the run's series (journal_writer), the HTML reads them from the
// series, and `rebound report` from a journal read back.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "experiments/analysis.hpp"

namespace rebound {

struct BucketRow {
  double t_ms = 0, end_ms = 0;
  double requests = 0, failed = 0;
  double max_latency_ms = 0;
  std::optional<double> p50_ms, p99_ms;
  std::string first_failure;  // "" when none failed
};

// The journal's "bucket_columns".
nlohmann::json bucket_columns();
// A load probe's bucket record (Sample::requests set) as a row.
BucketRow bucket_row(const Sample& s);
nlohmann::json to_json(const BucketRow& row);

// Visits a journal probe's rows in order: those of its "buckets" array (a journal read back), or, when the journal
// leaves them to the run (make_journal's null placeholder), those of `live`, the probe's series; nothing when neither.
void for_each_bucket_row(const nlohmann::json& probe, const ProbeSeries* live,
                         const std::function<void(const BucketRow&)>& visit);

}  // namespace rebound
