#include "config/command_spec.hpp"

#include <fmt/format.h>

namespace rebound {

std::optional<std::string> expand_value(TableReader& reader, const std::string& key, const std::string& text,
                                        const Variables& vars) {
  std::string unknown;
  auto out = vars.expand(text, unknown);
  if (!out)
    reader.error(key, fmt::format("unknown variable ${{{}}} (known: {})", unknown, vars.names()));
  return out;
}

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
      auto expanded = expand_value(reader, "argv", arg, vars);
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
  if (const toml::table* env = reader.table("env")) {
    for (const auto& [k, v] : *env) {
      if (!v.is_string()) {
        reader.error("env", fmt::format("environment variable {} must be a string", k.str()));
        ok = false;
        continue;
      }
      spec.env[std::string(k.str())] = *v.value<std::string>();
    }
  }
  if (auto cwd = reader.string("cwd")) {
    if (auto expanded = expand_value(reader, "cwd", *cwd, vars)) spec.cwd = *expanded;
    else ok = false;
  }
  if (options.allow_background) {
    spec.background = reader.boolean("background").value_or(false);
    spec.ready_probe = reader.string("ready_probe").value_or("");
    if (auto t = reader.duration("ready_timeout")) spec.ready_timeout = *t;
  }
  if (!ok) return std::nullopt;
  return spec;
}

std::vector<ParamDoc> command_param_docs(bool with_timeout) {
  std::vector<ParamDoc> docs = {
      {"argv", "string array", "", "program and arguments; no shell unless shell = true"},
      {"shell", "bool", "false", "run argv[0] with /bin/sh -c"},
      {"expect_exit", "integer or \"any\"", "0", "expected exit code"},
      {"env", "table", "{}", "extra environment variables"},
      {"cwd", "string", "rebound's working directory", "working directory"},
  };
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
  return j;
}

}  // namespace rebound
