#pragma once
// A command to run: argv (never a shell unless asked), timeout, expected exit code.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/captures.hpp"
#include "config/duration.hpp"
#include "config/table_reader.hpp"
#include "config/user_regex.hpp"
#include "config/variables.hpp"

namespace rebound {

struct CommandSpec {
  std::string name;
  std::vector<std::string> argv;
  bool shell = false;
  Millis timeout{30'000};
  std::optional<int64_t> expect_exit = 0;  // nullopt: any exit code is fine
  std::map<std::string, std::string> env;
  std::string cwd;
  // Setup only: keep running in the background until teardown.
  bool background = false;
  std::string ready_probe;  // setup only: wait until this probe passes
  Millis ready_timeout{10'000};
  // capture = { key = "regex with one group" }: values taken from stdout for later ${step.NAME.key}.
  std::vector<std::pair<std::string, UserRegex>> capture;
  // Where captured values live during a run; argv, env and cwd may hold ${step.NAME.key} until then.
  std::shared_ptr<CaptureStore> captures;
};

struct CommandParseOptions {
  bool allow_background = false;
  bool allow_expect_exit = true;
  bool allow_capture = false;  // foreground setup commands and command steps
};

// Reads argv, shell, timeout, expect_exit, env, cwd (and background, ready_probe, ready_timeout).
std::optional<CommandSpec> parse_command(TableReader& reader, const Variables& vars,
                                         const CommandParseOptions& options);
// Expands ${...} in one string value, recording an error against `key` if a variable is unknown.
std::optional<std::string> expand_value(TableReader& reader, const std::string& key, const std::string& text,
                                        const Variables& vars);
// In a command (in_command), a visible ${step.NAME.key} is kept for the run to expand.
std::optional<std::string> expand_value(TableReader& reader, const std::string& key, const std::string& text,
                                        const Variables& vars, bool in_command);

nlohmann::json to_json(const CommandSpec& spec);

// The spec with every ${step.NAME.key} in argv, env and cwd replaced by its captured value.
Result<CommandSpec> resolve_captures(const CommandSpec& spec);
// Applies the spec's capture patterns to a command's stdout and keeps the values; the error names the first
// pattern that did not match.
Result<std::map<std::string, std::string>> take_captures(const CommandSpec& spec, std::string_view out);

// The keys parse_command reads (with or without `timeout`, which probes take from their envelope).
std::vector<ParamDoc> command_param_docs(bool with_timeout);

}  // namespace rebound
