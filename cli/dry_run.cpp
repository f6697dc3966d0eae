#include "cli/dry_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>

#include "probes/load_probe.hpp"

namespace rebound {
namespace {

std::string describe_processes(const std::vector<ProcessInfo>& processes) {
  std::vector<std::string> parts;
  for (const auto& p : processes) parts.push_back(fmt::format("pid {} ({})", p.pid, p.comm));
  return fmt::format("{}", fmt::join(parts, ", "));
}

int print_targets(const Experiment& ex) {
  int status = 0;
  std::cout << "targets:\n";
  for (const auto& t : ex.targets) {
    if (auto pending = not_started_yet(t); !pending.empty()) {
      std::cout << fmt::format("  {:<14} {} \"{}\" -> {}\n", t.name, to_string(t.kind), t.value, pending);
      continue;
    }
    auto r = resolve_target(t);
    if (r) {
      std::cout << fmt::format("  {:<14} {} \"{}\" -> {}\n", t.name, to_string(t.kind), t.value, describe_processes(*r));
    } else if (!ex.setup.empty()) {
      std::cout << fmt::format("  {:<14} {} \"{}\" -> not resolved now ({}); setup steps may start it\n", t.name,
                               to_string(t.kind), t.value, r.error().message);
    } else {
      std::cout << fmt::format("  {:<14} error: {}\n", t.name, r.error().message);
      status = exit_code(Verdict::error);
    }
  }
  return status;
}

// What a step's target resolves to now (each step resolves it again when it starts); empty when it does not.
std::vector<ProcessInfo> print_step_target(const TargetSpec& target) {
  if (auto pending = not_started_yet(target); !pending.empty()) {
    std::cout << fmt::format("           target {} -> {}\n", target.name, pending);
    return {};
  }
  TargetDraw draw;
  auto r = resolve_target(target, &draw);
  if (!r) {
    std::cout << fmt::format("           target {}: not resolved now ({})\n", target.name, r.error().message);
    return {};
  }
  std::cout << fmt::format("           target {} -> {}{}\n", target.name, describe_processes(*r),
                           draw.drawn ? fmt::format(" ({})", draw.how) : "");
  return *r;
}

// The method's steps, each checked against this host (its BPF programs go through the verifier, unattached).
int print_method(const Experiment& ex) {
  int status = 0;
  for (const auto& s : ex.method) {
    std::cout << fmt::format("  method +{:<6} {:<14} {:<14} {}{} {}\n", format_duration(s.start), s.name, s.type->name,
                             s.target.empty() ? "" : "target " + s.target,
                             s.duration ? " for " + format_duration(*s.duration) : "", s.action->describe().dump());
    std::vector<ProcessInfo> processes;
    if (!s.target.empty()) processes = print_step_target(*ex.find_target(s.target));
    if (s.follow)
      std::cout << fmt::format("           follows its target: new matches join the fault (looks every {}, and at "
                               "each fork or exec where the proc connector allows)\n",
                               format_duration(s.follow_interval));
    Result<void> ok;
    if (s.type->available) ok = s.type->available();
    if (ok) ok = s.action->preflight();
    bool planned = false;
    if (ok && (s.target.empty() || !processes.empty())) {
      if (auto plan = s.action->plan(processes); !plan) ok = plan.error();
      else if ((planned = !plan->empty())) std::cout << fmt::format("           would: {}\n", *plan);
    }
    if (!ok) {
      std::cout << fmt::format("           cannot run on this host: {}\n", ok.error().message);
      status = exit_code(Verdict::error);
    } else if (s.type->available && !planned) {
      std::cout << "           programs loaded through the verifier: ok (not attached)\n";
    }
  }
  return status;
}

// "p50 <= 200ms" for each latency bound that is set.
std::string latency_bounds(std::optional<double> p50, std::optional<double> p95, std::optional<double> p99) {
  std::string out;
  for (auto [name, v] : {std::pair{"p50", p50}, std::pair{"p95", p95}, std::pair{"p99", p99}})
    if (v) out += fmt::format(", {} <= {}", name, format_duration(Millis(*v)));
  return out;
}

// The rules the verdict will apply: steady-state bounds, the SLO and the guards.
void print_verdict_rules(const Experiment& ex) {
  const auto& t = ex.steady_state.tolerance;
  std::cout << fmt::format("steady state: {} with success >= {:.0f}%{}\n", fmt::join(ex.steady_state.probes, ", "),
                           t.min_success_ratio * 100, latency_bounds(t.max_p50_ms, t.max_p95_ms, t.max_p99_ms));
  const auto& s = ex.slo;
  std::cout << "slo:\n";
  if (s.recover_within) std::cout << fmt::format("  recover_within  {}\n", format_duration(*s.recover_within));
  if (s.heal_within) std::cout << fmt::format("  heal_within     {} (under the fault)\n", format_duration(*s.heal_within));
  std::cout << fmt::format("  stable_for      {}\n", format_duration(s.stable_for));
  if (s.max_error_ratio) std::cout << fmt::format("  max_error_ratio {:.2f}% of requests\n", *s.max_error_ratio * 100);
  auto ms = [](const std::optional<Millis>& m) { return m ? std::optional<double>(m->count()) : std::nullopt; };
  if (auto b = latency_bounds(ms(s.max_p50), ms(s.max_p95), ms(s.max_p99)); !b.empty())
    std::cout << fmt::format("  latency         {}\n", b.substr(2));
  std::cout << fmt::format("  with --baseline: at most {:.0f}% slower than the baseline run\n",
                           s.max_recovery_regression * 100);
  if (s.max_trend)
    std::cout << fmt::format("  max_trend       fails when the trend of the last runs crosses the SLO within {} runs\n",
                             *s.max_trend);
  if (ex.guards.empty()) std::cout << "guards: none\n";
  else std::cout << "guards (abort the run and revert every fault):\n";
  for (const auto& g : ex.guards)
    std::cout << fmt::format("  {:<14} probe {}: more than {:.0f}% failed over {} (at least {} samples)\n", g.name,
                             g.probe, g.rule.max_failure_ratio * 100, format_duration(Millis(g.rule.window_ms)),
                             g.rule.min_samples);
}

}  // namespace

int dry_run(const Experiment& ex) {
  std::cout << fmt::format("experiment {} ({}): valid\n", ex.name, ex.file);
  int status = print_targets(ex);
  std::cout << "probes:\n";
  for (const auto& p : ex.probes) {
    // A load probe sends on its own schedule: its rate, not the interval it does not use.
    const auto* load = dynamic_cast<const LoadProbe*>(p.probe.get());
    const std::string schedule = load ? fmt::format("{:g} requests/s", load->spec().rate_per_s)
                                      : fmt::format("every {}", format_duration(p.interval));
    std::cout << fmt::format("  {:<14} {:<10} {}, timeout {}: {}\n", p.name, p.type, schedule,
                             format_duration(p.timeout), p.probe->describe().dump());
  }
  std::cout << "timeline:\n";
  for (const auto& s : ex.setup)
    std::cout << fmt::format("  setup      {}{}\n", fmt::join(s.argv, " "), s.background ? "  (background)" : "");
  std::cout << fmt::format("  baseline   sample for {}, steady state: {} with success >= {:.0f}%\n",
                           format_duration(ex.steady_state.window), fmt::join(ex.steady_state.probes, ", "),
                           ex.steady_state.tolerance.min_success_ratio * 100);
  status = std::max(status, print_method(ex));
  for (const auto& c : ex.rollbacks) std::cout << fmt::format("  rollback   {}\n", fmt::join(c.argv, " "));
  std::cout << fmt::format("  recovery   observe up to {} for the steady state to hold {}\n",
                           format_duration(ex.observe_for()), format_duration(ex.slo.stable_for));
  std::cout << fmt::format("  after      sample for {} and check the steady state again\n",
                           format_duration(ex.steady_state.window));
  for (const auto& c : ex.teardown) std::cout << fmt::format("  teardown   {}\n", fmt::join(c.argv, " "));
  print_verdict_rules(ex);
  std::cout << "dry run: nothing was injected\n";
  return status;
}

}  // namespace rebound
