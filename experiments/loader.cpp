#include "experiments/loader.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <set>

#include "config/templates.hpp"
#include "experiments/loader_captures.hpp"
#include "experiments/loader_follow.hpp"
#include "experiments/loader_slo.hpp"
#include "experiments/loader_targets.hpp"
#include "probes/registry.hpp"
#include "system/target_guard.hpp"
#include "config/toml_input.hpp"
#include "config/user_regex.hpp"

namespace fs = std::filesystem;

namespace rebound {

const TargetSpec* Experiment::find_target(const std::string& target_name) const {
  for (const auto& t : targets)
    if (t.name == target_name) return &t;
  return nullptr;
}

const ProbeDecl* Experiment::find_probe(const std::string& probe_name) const {
  for (const auto& p : probes)
    if (p.name == probe_name) return &p;
  return nullptr;
}

Millis Experiment::method_span() const {
  Millis end{0};
  for (const auto& s : method) end = std::max(end, s.start + s.duration.value_or(Millis(0)));
  return end;
}

Millis Experiment::observe_for() const {
  if (slo.observe_for) return *slo.observe_for;
  if (slo.recover_within) return *slo.recover_within * 2 + slo.stable_for;
  return slo.stable_for * 2;
}

bool Experiment::has_faults() const {
  for (const auto& s : method)
    if (is_fault(*s.type)) return true;
  return false;
}

namespace {

constexpr size_t kMaxNameLength = 200;

// Letters, digits, '.', '_' and '-', not starting with a punctuation mark: it names a report folder.
bool is_folder_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

class Loader {
 public:
  Loader(Diagnostics& d, Variables vars, const LoadOptions& options) : d_(d), vars_(std::move(vars)), options_(options) {}

  std::optional<Experiment> load(const toml::table& root, const std::string& path);

 private:
  // Calls f for every table of an array of tables ([[key]]).
  template <class F>
  void each_table(TableReader& parent, const std::string& key, F f) {
    const toml::node* n = parent.node(key);
    if (!n) return;
    const toml::array* a = n->as_array();
    if (!a) {
      parent.error(key, fmt::format("expected an array of tables: write [[{}]] for each entry, got {}", key,
                                    describe_node(*n)));
      return;
    }
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::table* t = (*a)[i].as_table();
      std::string path = fmt::format("{}[{}]", parent.key_path(key), i);
      if (!t) {
        const auto& where = (*a)[i].source().begin;
        d_.error(static_cast<int>(where.line), static_cast<int>(where.column), path,
                 fmt::format("expected a table, got {}", describe_node((*a)[i])));
        continue;
      }
      TableReader reader(*t, path, d_);
      f(reader, i);
    }
  }

  void unique_name(TableReader& r, std::set<std::string>& seen, const std::string& name, const char* what) {
    if (!seen.insert(name).second) r.error("name", fmt::format("another {} is already named '{}'", what, name));
  }

  std::optional<double> ratio(TableReader& r, const std::string& key) { return read_ratio(r, key); }

  void parse_target(TableReader& r, Experiment& ex);
  void parse_probe(TableReader& r, size_t index, Experiment& ex);
  void parse_steady_state(TableReader& r, Experiment& ex);
  void parse_step(TableReader& r, size_t index, Experiment& ex);
  void parse_guard(TableReader& r, size_t index, Experiment& ex);
  std::optional<CommandSpec> parse_phase_command(TableReader& r, const Experiment& ex, bool setup);
  void check_probe_ref(TableReader& r, const std::string& key, const std::string& name, const Experiment& ex);

  // Adds the suite's shared entries of `key` whose names the experiment does not define itself.
  template <class Parse>
  void shared_tables(const std::string& key, const std::set<std::string>& taken, Parse parse);

  Diagnostics& d_;
  Variables vars_;
  const LoadOptions& options_;
  std::set<std::string> target_names_, probe_names_, step_names_, guard_names_;
  SetupTargetRefs setup_refs_;  // checked once the [[setup]] steps are read
};

template <class Parse>
void Loader::shared_tables(const std::string& key, const std::set<std::string>& taken, Parse parse) {
  if (!options_.shared) return;
  const toml::array* entries = (*options_.shared)[key].as_array();
  if (!entries) return;
  const std::string own_file = d_.file();
  d_.set_file(options_.shared_file);
  for (size_t i = 0; i < entries->size(); ++i) {
    const toml::table* t = (*entries)[i].as_table();
    if (!t) continue;
    auto name = (*t)["name"].value<std::string>();
    if (name && taken.count(*name)) continue;  // the experiment's own definition wins
    TableReader reader(*t, fmt::format("{}[{}]", key, i), d_);
    parse(reader, i);
  }
  d_.set_file(own_file);
}

void Loader::check_probe_ref(TableReader& r, const std::string& key, const std::string& name, const Experiment& ex) {
  if (ex.find_probe(name)) return;
  std::vector<std::string> names;
  for (const auto& p : ex.probes) names.push_back(p.name);
  r.error(key, fmt::format("no probe named '{}'{}", name, did_you_mean(name, names)));
}

void Loader::parse_target(TableReader& r, Experiment& ex) {
  TargetSpec t;
  t.name = r.string("name", true).value_or("");
  if (!t.name.empty()) unique_name(r, target_names_, t.name, "target");
  int kinds = 0;
  if (r.has("pid")) {
    ++kinds;
    t.kind = TargetKind::pid;
    if (auto pid = r.integer("pid")) {
      if (auto problem = pid_range_problem(*pid); !problem.empty())
        r.error("pid", fmt::format("{} is not a process id: {}", *pid, problem));
      t.value = std::to_string(*pid);
    }
  }
  for (auto [key, kind] : {std::pair{"pidfile", TargetKind::pidfile}, {"exe", TargetKind::exe},
                           {"cmdline", TargetKind::cmdline}, {"cgroup", TargetKind::cgroup},
                           {"setup", TargetKind::setup}}) {
    if (!r.has(key)) continue;
    ++kinds;
    t.kind = kind;
    if (auto v = r.string(key)) {
      if (auto expanded = expand_value(r, key, *v, vars_)) t.value = *expanded;
    }
  }
  if (kinds == 0)
    r.error("name", "a target needs one of pid, pidfile, exe, cmdline, cgroup or setup (e.g. exe = \"nginx\")");
  if (kinds > 1) r.error("name", "a target takes exactly one of pid, pidfile, exe, cmdline, cgroup or setup");
  if (kinds == 1 && t.kind == TargetKind::setup) setup_refs_.add(r, ex.targets.size(), t);
  if (t.kind == TargetKind::cmdline && !t.value.empty()) {
    if (auto re = UserRegex::compile(t.value); !re) r.error("cmdline", re.error().message);
  }
  t.allow_init = r.boolean("allow_init").value_or(false);
  if (t.kind == TargetKind::cgroup && !t.value.empty() && !t.value.starts_with("/"))
    r.error("cgroup", "a cgroup must be an absolute path such as \"/sys/fs/cgroup/unified/my-service\"");
  if (auto max = r.integer("max_targets")) {
    if (*max < 1) r.error("max_targets", "max_targets must be at least 1");
    t.max_targets = *max;
    t.max_targets_set = true;
  }
  parse_blast_radius(r, t);
  r.finish();
  ex.targets.push_back(std::move(t));
}


void Loader::parse_probe(TableReader& r, size_t index, Experiment& ex) {
  ProbeDecl p;
  p.name = r.string("name", true).value_or(fmt::format("probe#{}", index));
  unique_name(r, probe_names_, p.name, "probe");
  auto type = r.string("type", true);
  if (auto interval = r.duration("interval")) {
    if (interval->count() < 10) r.error("interval", "the shortest probe interval is \"10ms\"");
    p.interval = *interval;
  }
  if (auto timeout = r.duration("timeout")) {
    if (timeout->count() <= 0) r.error("timeout", "a timeout must be longer than zero");
    p.timeout = *timeout;
  }
  if (!type) return;
  p.type = *type;
  const ProbeType* pt = find_probe_type(*type);
  if (!pt) {
    std::vector<std::string> names;
    for (const auto& t : probe_registry()) names.push_back(t.name);
    r.error("type", fmt::format("unknown probe type '{}'{} (probe types: {})", *type, did_you_mean(*type, names),
                                fmt::join(names, ", ")));
    return;
  }
  ProbeFactoryContext context{vars_, ex.targets, p.timeout};
  p.probe = pt->parse(r, context);
  r.finish();
  if (p.probe) ex.probes.push_back(std::move(p));
}

void Loader::parse_steady_state(TableReader& r, Experiment& ex) {
  auto& ss = ex.steady_state;
  if (auto names = r.strings("probes")) {
    for (const auto& n : *names) check_probe_ref(r, "probes", n, ex);
    ss.probes = *names;
  }
  if (auto w = r.duration("window")) {
    if (w->count() <= 0) r.error("window", "the steady-state window must be longer than zero, e.g. \"2s\"");
    ss.window = *w;
  }
  if (auto v = ratio(r, "min_success_ratio")) ss.tolerance.min_success_ratio = *v;
  if (auto v = r.duration("max_p50")) ss.tolerance.max_p50_ms = v->count();
  if (auto v = r.duration("max_p95")) ss.tolerance.max_p95_ms = v->count();
  if (auto v = r.duration("max_p99")) ss.tolerance.max_p99_ms = v->count();
  r.finish();
}

void Loader::parse_step(TableReader& r, size_t index, Experiment& ex) {
  StepDecl s;
  auto type = r.string("type", true);
  s.name = r.string("name").value_or(fmt::format("{}#{}", type.value_or("step"), index));
  unique_name(r, step_names_, s.name, "step");
  auto target = r.string("target");
  if (auto start = r.duration("start")) s.start = *start;
  const bool has_duration = r.has("duration");
  s.duration = r.duration("duration");
  s.allow_no_effect = r.boolean("allow_no_effect").value_or(false);
  if (!type) return;
  s.type = find_step_type(*type);
  if (!s.type) {
    r.error("type", fmt::format("unknown step type '{}'{} (run `rebound faults` for the list)", *type,
                                did_you_mean(*type, step_type_names())));
    return;
  }
  const bool needs_target = s.type->target == TargetRule::required;
  if (needs_target && !target) {
    r.error("target", fmt::format("missing required key: {} acts on a target; add target = \"<name of a "
                                  "[[targets]] entry>\"",
                                  s.type->name));
  } else if (s.type->target == TargetRule::forbidden && target) {
    r.error("target", fmt::format("step type {} takes no target; remove it", s.type->name));
  } else if (target) {
    if (!ex.find_target(*target))
      r.error("target", fmt::format("no target named '{}'{}", *target, target_name_hint(*target, ex.targets)));
    s.target = *target;
  }
  if (s.allow_no_effect && !is_fault(*s.type))
    r.error("allow_no_effect", fmt::format("{} is not a fault, so it has no effect to check; remove allow_no_effect",
                                           s.type->name));
  if (s.type->duration == DurationRule::forbidden && has_duration)
    r.error("duration", fmt::format("{} takes no duration; remove it", s.type->name));
  if (s.type->duration == DurationRule::required && !has_duration)
    r.error("duration", fmt::format("missing required key: {} needs a duration, e.g. duration = \"5s\"", s.type->name));
  StepFactoryContext context{vars_, target ? ex.find_target(*target) : nullptr};
  s.action = s.type->parse(r, context);
  parse_follow(r, s, context.target);
  r.finish();
  if (s.action) ex.method.push_back(std::move(s));
}

void Loader::parse_guard(TableReader& r, size_t index, Experiment& ex) {
  GuardSpec g;
  g.name = r.string("name").value_or(fmt::format("guard#{}", index));
  unique_name(r, guard_names_, g.name, "guard");
  if (auto probe = r.string("probe", true)) {
    check_probe_ref(r, "probe", *probe, ex);
    g.probe = *probe;
  }
  if (auto v = ratio(r, "max_failure_ratio")) g.rule.max_failure_ratio = *v;
  if (auto v = r.duration("window")) {
    if (v->count() <= 0) r.error("window", "a guard's window must be longer than zero, e.g. \"1s\"");
    g.rule.window_ms = v->count();
  }
  if (auto v = r.integer("min_samples")) {
    if (*v < 1) r.error("min_samples", "min_samples must be at least 1");
    g.rule.min_samples = static_cast<size_t>(std::max<int64_t>(*v, 1));
  }
  r.finish();
  ex.guards.push_back(std::move(g));
}

std::optional<CommandSpec> Loader::parse_phase_command(TableReader& r, const Experiment& ex, bool setup) {
  CommandParseOptions options;
  options.allow_background = setup;
  options.allow_capture = setup;
  auto spec = parse_command(r, vars_, options);
  if (spec && !spec->ready_probe.empty()) check_probe_ref(r, "ready_probe", spec->ready_probe, ex);
  r.finish();
  return spec;
}

std::optional<Experiment> Loader::load(const toml::table& root, const std::string& path) {
  Experiment ex;
  ex.file = path;
  TableReader top(root, "", d_);
  ex.name = top.string("name").value_or(fs::path(path).stem().string());
  if (!is_folder_name(ex.name))
    top.error("name", fmt::format("'{}' cannot name a report folder: use letters, digits, '.', '_' and '-'{}",
                                  clip(ex.name), ex.name.size() > kMaxNameLength
                                                     ? fmt::format(", at most {} characters", kMaxNameLength)
                                                     : ""));
  ex.title = top.string("title").value_or(ex.name);
  ex.description = top.string("description").value_or("");
  ex.tags = top.strings("tags").value_or(std::vector<std::string>{});

  // Order matters: probes and steps refer to targets, steady state and guards to probes.
  each_table(top, "targets", [&](TableReader& r, size_t) { parse_target(r, ex); });
  shared_tables("targets", target_names_, [&](TableReader& r, size_t) { parse_target(r, ex); });
  const CaptureScope captures(root);
  vars_.set_visible_captures(captures.for_probes());
  each_table(top, "probes", [&](TableReader& r, size_t i) { parse_probe(r, i, ex); });
  shared_tables("probes", probe_names_, [&](TableReader& r, size_t i) { parse_probe(r, i, ex); });
  if (!top.has("probes") && ex.probes.empty())
    top.error("probes", "no [[probes]]: add at least one probe so rebound can judge the steady state");
  if (const toml::table* ss = top.table("steady_state")) {
    TableReader r(*ss, "steady_state", d_);
    parse_steady_state(r, ex);
  }
  if (ex.steady_state.probes.empty())
    for (const auto& p : ex.probes) ex.steady_state.probes.push_back(p.name);
  each_table(top, "setup", [&](TableReader& r, size_t i) {
    vars_.set_visible_captures(captures.for_setup(i));
    if (auto c = parse_phase_command(r, ex, true)) ex.setup.push_back(std::move(*c));
  });
  setup_refs_.check(d_, ex.targets, ex.setup);
  each_table(top, "method", [&](TableReader& r, size_t i) {
    vars_.set_visible_captures(captures.for_method(i));
    parse_step(r, i, ex);
  });
  vars_.set_visible_captures(captures.for_cleanup());
  each_table(top, "rollbacks", [&](TableReader& r, size_t) {
    if (auto c = parse_phase_command(r, ex, false)) ex.rollbacks.push_back(std::move(*c));
  });
  each_table(top, "teardown", [&](TableReader& r, size_t) {
    if (auto c = parse_phase_command(r, ex, false)) ex.teardown.push_back(std::move(*c));
  });
  each_table(top, "guards", [&](TableReader& r, size_t i) { parse_guard(r, i, ex); });
  if (const toml::table* slo = top.table("slo")) {
    TableReader r(*slo, "slo", d_);
    parse_slo(r, ex);
  }
  top.finish();
  if (!d_.empty()) return std::nullopt;
  ex.captures = vars_.capture_store();
  return ex;
}

}  // namespace

LoadResult load_experiment_text(const std::string& text, const std::string& path, const LoadOptions& options) {
  LoadResult result{std::nullopt, Diagnostics(path)};
  auto root = parse_toml_bounded(text, path, result.diagnostics);
  if (!root) return result;
  auto templates = substitute_templates(*root, options.vars, result.diagnostics);
  if (!result.diagnostics.empty()) return result;
  Variables vars;
  std::error_code ec;
  vars.set("experiment_dir", fs::absolute(fs::path(path), ec).parent_path().string());
  vars.set("rebound_bin_dir", options.rebound_bin_dir);
  Loader loader(result.diagnostics, std::move(vars), options);
  result.experiment = loader.load(*root, path);
  if (result.experiment) {
    result.experiment->secrets = std::move(templates.secrets);
    result.experiment->variables = std::move(templates.values);
  }
  return result;
}

LoadResult load_experiment(const std::string& path, const LoadOptions& options) {
  auto text = read_input_file(path);
  if (!text) {
    LoadResult result{std::nullopt, Diagnostics(path)};
    result.diagnostics.error(0, 0, "file", text.error().message);
    return result;
  }
  return load_experiment_text(*text, path, options);
}

}  // namespace rebound
