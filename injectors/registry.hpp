#pragma once
// The one table of step types: name -> factory that parses its own TOML table, plus how to
// recover a leftover record of it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/table_reader.hpp"
#include "config/variables.hpp"
#include "injectors/step.hpp"

namespace rebound {

enum class StepKind {
  instant_fault,  // happens at once (a kill); impact ends when it is applied
  lasting_fault,  // applied for a duration, then reverted; impact ends at the revert
  action,         // a command or a wait: not a fault
  change,         // a command users must not notice (a traffic switch, a deploy): its impact, from its start to its
                  // end, is measured and judged by the SLO as a fault's is
};
enum class DurationRule { forbidden, optional, required };
enum class TargetRule { forbidden, optional, required };

struct StepFactoryContext {
  const Variables& vars;
  const TargetSpec* target = nullptr;  // the step's target, when it names one
};

struct StepType {
  std::string name;
  std::string summary;
  StepKind kind;
  DurationRule duration;
  TargetRule target;
  std::vector<ParamDoc> params;
  std::function<std::unique_ptr<StepAction>(TableReader&, const StepFactoryContext&)> parse;
  // Undo a fault from its record's "undo" object; nullptr when the type leaves nothing to undo.
  // Returns a sentence saying what was done.
  std::function<Result<std::string>(const nlohmann::json& undo)> recover;
  // Whether this host can do it at all (privileges, program types, qdiscs); nullptr: always.
  std::function<Result<void>()> available = nullptr;
};

const std::vector<StepType>& step_registry();
const StepType* find_step_type(const std::string& name);
std::vector<std::string> step_type_names();
bool is_fault(const StepType& type);

// `count = N` or `count = "all"` (nullopt in `count`); false after recording an error.
bool parse_process_count(TableReader& reader, std::optional<int64_t>& count);
ParamDoc process_count_doc();
// The first `count` processes (lowest pids first), or all of them.
std::vector<ProcessInfo> first_processes(const std::vector<ProcessInfo>& processes, const std::optional<int64_t>& count);

// Parses "SIGKILL", "KILL", "kill" or 9.
std::optional<int> parse_signal(const toml::node& node);
std::string signal_name(int signal);

}  // namespace rebound
