#pragma once
// Judges the answer of a Prometheus instant query (GET/POST /api/v1/query) against an expectation.
// Anything the probe cannot judge fails the sample with the reason: an error status, no series, a NaN value,
// a range vector or a string. Kept apart from the probe so that the judgement is tested without a server.
#include <string>
#include <string_view>

#include "probes/expectation.hpp"
#include "probes/probe.hpp"

namespace rebound {

// How a query's several series are judged (`series`):
//   all  (default) every series must hold; the reason names those that fail, or the range of values when all hold
//   any  at least one series must hold
//   each every series must hold, like all; the reason lists every series with its value and verdict
enum class SeriesMode { All, Any, Each };

// The verdict and the reason (values included); latency is the caller's. `status` is the HTTP status.
SampleResult judge_query_answer(std::string_view body, long status, const Expectation& expect, SeriesMode mode);

}  // namespace rebound
