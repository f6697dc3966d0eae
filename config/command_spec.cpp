#include "config/command_spec.hpp"

#include <fmt/format.h>

namespace rebound {

std::optional<std::string> expand_value(TableReader& reader, const std::string& key, const std::string& text,
                                        const Variables& vars) {
  return expand_value(reader, key, text, vars, false);
}

std::optional<std::string> expand_value(TableReader& reader, const std::string& key, const std::string& text,
                                        const Variables& vars, bool in_command) {
  std::string unknown;
  auto out = vars.expand(text, unknown, in_command);
  if (out) return out;
  if (!Variables::is_capture(unknown)) {
    reader.error(key, fmt::format("unknown variable ${{{}}} (known: {}, ${{var.NAME}}, ${{env.NAME}})", unknown,
                                  vars.names()));
  } else if (!in_command) {
    reader.error(key, fmt::format("${{{}}} is a value captured while the experiment runs: it can be used only in a "
                                  "command's argv, env or cwd",
                                  unknown));
  } else {
    std::string known;
    for (const auto& ref : vars.visible_captures()) known += (known.empty() ? "${step." : ", ${step.") + ref + "}";
    reader.error(key, fmt::format("${{{}}} is not captured before this command: an earlier [[setup]] or command step "
                                  "named as in step.NAME.key needs capture = {{ key = \"regex\" }} (captured before "
                                  "here: {})",
                                  unknown, known.empty() ? "none" : known));
  }
  return std::nullopt;
}

namespace {

// env = { NAME = "value" }
bool parse_env(TableReader& reader, const Variables& vars, CommandSpec& spec) {
  const toml::table* env = reader.table("env");
  if (!env) return true;
  bool ok = true;
  for (const auto& [k, v] : *env) {
    if (!v.is_string()) {
      reader.error("env", fmt::format("environment variable {} must be a string", k.str()));
      ok = false;
    } else if (auto expanded = expand_value(reader, "env", *v.value<std::string>(), vars, true)) {
      spec.env[std::string(k.str())] = *expanded;
    } else {
      ok = false;
    }
  }
  return ok;
}

// capture = { key = "regex with one group" }
bool parse_capture(TableReader& reader, CommandSpec& spec) {
  const toml::table* table = reader.table("capture");
  if (!table) return true;
  bool ok = true;
  if (spec.name.empty()) {
    reader.error("capture", "a command that captures needs a name, which later commands use as ${step.NAME.key}: "
                            "add name = \"...\"");
    ok = false;
  }
  for (const auto& [k, v] : *table) {
    std::string key(k.str());
    auto pattern = v.value<std::string>();
    if (!v.is_string() || !pattern) {
      reader.error("capture", fmt::format("capture.{} must be a string: a regex with one group, e.g. 'pid=(\\d+)'",
                                          clip(key)));
      ok = false;
      continue;
    }
    auto re = UserRegex::compile(*pattern);
    if (!re) {
      reader.error("capture", fmt::format("capture.{}: {}", clip(key), re.error().message));
      ok = false;
    } else if (re->groups() != 1) {
      reader.error("capture", fmt::format("capture.{} has {} groups: put exactly one (...) around the value to keep",
                                          clip(key), re->groups()));
      ok = false;
    } else {
      spec.capture.emplace_back(key, std::move(*re));
    }
  }
  return ok;
}

}  // namespace

std::optional<CommandSpec> parse_command(TableReader& reader, const Variables& vars,
                                         const CommandParseOptions& options) {
  CommandSpec spec;
  bool ok = true;
  spec.name = reader.string("name").value_or("");
  if (auto argv = reader.strings("argv", true)) {
    if (argv->empty()) {
      reader.error("argv", "argv is empty: give the program and its arguments, e.g. argv = [\"curl\", \"-f\", URL]");
      ok = false;
    }
    for (const auto& arg : *argv) {
      auto expanded = expand_value(reader, "argv", arg, vars, true);
      if (!expanded) ok = false;
      else spec.argv.push_back(*expanded);
    }
  } else {
    ok = false;
  }
  spec.shell = reader.boolean("shell").value_or(false);
  if (spec.shell && spec.argv.size() > 1) {
    reader.error("argv", "with shell = true, argv holds one string: the shell command line");
    ok = false;
  }
  if (auto t = reader.duration("timeout")) spec.timeout = *t;
  const toml::node* expect = options.allow_expect_exit ? reader.node("expect_exit") : nullptr;
  if (expect) {
    const toml::node* n = expect;
    if (n->is_string() && *n->value<std::string>() == "any") {
      spec.expect_exit.reset();
    } else if (auto code = reader.integer("expect_exit")) {
      spec.expect_exit = *code;
    } else {
      ok = false;
    }
  }
  if (!parse_env(reader, vars, spec)) ok = false;
  if (auto cwd = reader.string("cwd")) {
    if (auto expanded = expand_value(reader, "cwd", *cwd, vars, true)) spec.cwd = *expanded;
    else ok = false;
  }
  if (options.allow_background) {
    spec.background = reader.boolean("background").value_or(false);
    spec.ready_probe = reader.string("ready_probe").value_or("");
    if (auto t = reader.duration("ready_timeout")) spec.ready_timeout = *t;
  }
  if (options.allow_capture && !parse_capture(reader, spec)) ok = false;
  if (spec.background && !spec.capture.empty()) {
    reader.error("capture", "a background command's output goes to its log, not to rebound: capture needs a "
                            "foreground command (drop background = true, or capture in a separate step)");
    ok = false;
  }
  spec.captures = vars.capture_store();
  if (!ok) return std::nullopt;
  return spec;
}

std::vector<ParamDoc> command_param_docs(bool with_timeout) {
  std::vector<ParamDoc> docs = {
      {"argv", "string array", "", "program and arguments; no shell unless shell = true"},
      {"shell", "bool", "false", "run argv[0] with /bin/sh -c"},
      {"expect_exit", "integer or \"any\"", "0", "expected exit code"},
      {"env", "table", "{}", "extra environment variables"},
      {"cwd", "string", "rebound's working directory", "the folder the command runs in"},
  };
  // capture is documented with the command step and [[setup]], where it is allowed.
  if (with_timeout) docs.insert(docs.begin() + 2, {"timeout", "duration", "30s", "the command is killed after this long"});
  return docs;
}

nlohmann::json to_json(const CommandSpec& spec) {
  nlohmann::json j{{"argv", spec.argv}, {"shell", spec.shell}, {"timeout_ms", spec.timeout.count()}};
  if (!spec.name.empty()) j["name"] = spec.name;
  j["expect_exit"] = spec.expect_exit ? nlohmann::json(*spec.expect_exit) : nlohmann::json("any");
  if (!spec.env.empty()) j["env"] = spec.env;
  if (!spec.cwd.empty()) j["cwd"] = spec.cwd;
  if (spec.background) j["background"] = true;
  if (!spec.ready_probe.empty()) j["ready_probe"] = spec.ready_probe;
  for (const auto& [key, re] : spec.capture) j["capture"][key] = re.pattern();
  return j;
}

Result<CommandSpec> resolve_captures(const CommandSpec& spec) {
  if (!spec.captures) return spec;
  CommandSpec out = spec;
  for (auto& arg : out.argv) {
    auto v = expand_captures(arg, *spec.captures);
    if (!v) return v.error();
    arg = *v;
  }
  for (auto& [k, value] : out.env) {
    auto v = expand_captures(value, *spec.captures);
    if (!v) return v.error();
    value = *v;
  }
  auto cwd = expand_captures(out.cwd, *spec.captures);
  if (!cwd) return cwd.error();
  out.cwd = *cwd;
  return out;
}

Result<std::map<std::string, std::string>> take_captures(const CommandSpec& spec, std::string_view out) {
  std::map<std::string, std::string> got;
  for (const auto& [key, re] : spec.capture) {
    auto value = re.first_group(out);
    if (!value)
      return fail(fmt::format("capture.{}: /{}/ did not match the output ({})", key, clip(re.pattern()),
                              out.empty() ? "it was empty" : "first line: " + clip(out.substr(0, out.find('\n')))));
    got[key] = *value;
    if (spec.captures) spec.captures->set(spec.name + "." + key, *value);
  }
  return got;
}

}  // namespace rebound
