#pragma once
// journal.json: the experiment as resolved, every sample, every step, the metrics and the verdict.
#include <nlohmann/json.hpp>

#include "experiments/experiment.hpp"
#include "experiments/runner.hpp"

namespace rebound {

// 2: metrics gain time to heal (first_impact_ms, healed_at_ms, time_to_heal_ms, heal_is_recovery, under_fault_ms,
// steps[] per lasting step) and the phases `degraded` and `healed`; `slo` may hold heal_within. Readers
// (`rebound report`) take version 1 journals as well: every new field is optional.
constexpr int kJournalSchemaVersion = 2;

nlohmann::json experiment_to_json(const Experiment& experiment);
// The journal as a tree, but for a load probe's bucket rows (60,000 in ten minutes): its "buckets" is null here,
// write_journal (reports/journal_writer.hpp) streams the rows from `result` into the file, and make_html reads
// them from `result` too. A journal read back from its file has them all.
nlohmann::json make_journal(const Experiment& experiment, const RunResult& result);
// A step's detail in one line for the reports ("connections 35, toxic_connections 17, ..."): its numbers,
// flags and short strings; long values (paths) and nested ones are left to the journal.
std::string step_detail_line(const nlohmann::json& detail);
// A step's "what it did" column: its effect line (journal "effect"), then its detail line. A step that stopped
// processes (process.stop: "stopped" and "resumed" in its detail) adds how long it held them and whom it resumed
// ("...; held 5.0 s, then resumed them (web 4242, web 4243)"); `held_ms` is applied to reverted.
std::string step_what_it_did(const std::string& effect, const nlohmann::json& detail,
                             std::optional<double> held_ms = std::nullopt);
// A criterion's measured value and limit as the reports for people show them ("354.6 ms", "51.52%",
// "holds"); `holds` is the verdict of a criterion without a unit (a steady-state check).
// A missing value of a criterion that was measured says what did not happen: "did not recover" (recover_within),
// "did not heal" (heal_within), else "none".
std::string criterion_value_text(const std::optional<double>& value, const std::string& unit, bool holds,
                                 const std::string& name = "");
std::string criterion_limit_text(double limit, const std::string& unit);
// "pass", "FAIL", or "not measured" for a criterion the run stopped before measuring.
std::string criterion_result_text(bool passed, bool measured);

}  // namespace rebound
