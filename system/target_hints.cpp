#include "system/target_hints.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>
#include <sstream>
#include <tuple>
#include <unistd.h>

#include "config/diagnostics.hpp"
#include "config/user_regex.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

constexpr size_t kShown = 3;        // how many near misses a message lists
constexpr size_t kCompared = 200;   // how much of a command line the edit distance looks at (it is quadratic)
constexpr size_t kQuoted = 80;      // how much of a command line a message quotes

// What a regex would read as plain text: anchors dropped, escapes undone. Only for ranking near misses.
std::string literal_text(const std::string& pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) out += pattern[++i];
    else if (c != '^' && c != '$') out += c;
  }
  return out;
}

std::string in_quotes(const std::string& text) {
  return text.size() <= kQuoted ? fmt::format("\"{}\"", text) : fmt::format("\"{}...\"", text.substr(0, kQuoted));
}

// The command line with its first word reduced to its basename: "/usr/bin/python3 -m x" -> "python3 -m x".
std::string short_first_word(const std::string& cmdline) {
  const size_t end = cmdline.find(' ');
  const size_t slash = cmdline.rfind('/', end == std::string::npos ? std::string::npos : end);
  return slash == std::string::npos ? cmdline : cmdline.substr(slash + 1);
}

// The `kShown` entries of `texts` nearest to `wanted` by edit distance, each once.
std::vector<std::string> nearest(const std::string& wanted, std::vector<std::string> texts) {
  std::sort(texts.begin(), texts.end());
  texts.erase(std::unique(texts.begin(), texts.end()), texts.end());
  const std::string key = wanted.substr(0, kCompared);
  std::vector<std::pair<size_t, std::string>> scored;
  for (auto& t : texts)
    if (!t.empty()) scored.emplace_back(edit_distance(key, std::string_view(t).substr(0, kCompared)), std::move(t));
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < kShown; ++i) out.push_back(in_quotes(scored[i].second));
  return out;
}


std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The `kShown` command lines nearest to a pattern's text: those sharing the most of its words (the program by
// its name, not its path), then the fewest edits from the pattern to as much of the line as it is long (a
// pattern matches anywhere, so what follows does not count). Lines sharing no word are not shown.
std::vector<std::string> nearest_lines(const std::string& wanted, std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  const auto wanted_words = words(wanted);
  const std::string key = wanted.substr(0, kCompared);
  std::vector<std::tuple<long, size_t, std::string>> scored;
  for (auto& line : lines) {
    const std::string shorter = short_first_word(line);
    const auto line_words = words(shorter);
    long shared = 0;
    for (const auto& w : wanted_words)
      if (std::find(line_words.begin(), line_words.end(), w) != line_words.end()) ++shared;
    if (shared == 0) continue;
    scored.emplace_back(-shared, edit_distance(key, std::string_view(shorter).substr(0, key.size())), std::move(line));
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < kShown; ++i) out.push_back(in_quotes(std::get<2>(scored[i])));
  return out;
}

// "python3" for "/usr/bin/python3 -m x".
std::string first_word_base(const std::string& cmdline) {
  const std::string first = cmdline.substr(0, cmdline.find(' '));
  const size_t slash = first.rfind('/');
  return slash == std::string::npos ? first : first.substr(slash + 1);
}

std::string cmdline_hint(const TargetSpec& spec, const std::vector<SeenProcess>& seen) {
  auto pattern = UserRegex::compile(spec.value);
  if (!pattern) return "";
  std::vector<std::string> lines;
  const SeenProcess* by_path = nullptr;
  for (const auto& p : seen) {
    lines.push_back(p.info.cmdline);
    const std::string shorter = short_first_word(p.info.cmdline);
    if (!by_path && shorter != p.info.cmdline && pattern->search(shorter)) by_path = &p;
  }
  std::string out;
  auto near = nearest_lines(literal_text(spec.value), lines);
  if (!near.empty()) out += fmt::format("; closest command lines: {}", fmt::join(near, ", "));
  if (by_path) {
    const std::string allow_path =
        spec.value.starts_with("^") ? fmt::format(" (e.g. cmdline = '^(\\S*/)?{}')", spec.value.substr(1)) : "";
    out += fmt::format("; hint: pid {} ({}) would match if its first word were {}: cmdline matches the whole "
                       "/proc/PID/cmdline, and rebound runs setup commands by their full path; use setup = \"NAME\" "
                       "for the process a background [[setup]] step started, or a regex that allows a path{}",
                       by_path->info.pid, in_quotes(by_path->info.cmdline), in_quotes(first_word_base(by_path->info.cmdline)),
                       allow_path);
  }
  return out;
}

std::string exe_hint(const TargetSpec& spec, const std::vector<SeenProcess>& seen) {
  std::vector<std::string> names;
  const SeenProcess* renamed = nullptr;
  for (const auto& p : seen) {
    names.push_back(p.exe);
    const std::string argv0 = first_word_base(p.info.cmdline);
    if (!renamed && p.exe != spec.value && (argv0 == spec.value || p.info.comm == spec.value)) renamed = &p;
  }
  std::string out;
  auto near = nearest(spec.value, names);
  if (!near.empty()) out += fmt::format("; closest executables: {}", fmt::join(near, ", "));
  if (renamed)
    out += fmt::format("; hint: pid {} ({}) was started as \"{}\" but its executable is \"{}\": exe is the name of "
                       "the file /proc/PID/exe points to, symbolic links resolved; use exe = \"{}\", or a cmdline",
                       renamed->info.pid, in_quotes(renamed->info.cmdline), spec.value, renamed->exe, renamed->exe);
  return out;
}

std::string setup_hint(const TargetSpec& spec) {
  auto root = spec.setup_process ? spec.setup_process->get() : std::nullopt;
  if (!root) return "";
  return fmt::format(" (setup step '{}' started pid {}, which has exited and left no process behind)", spec.value,
                     root->pid);
}

std::string exe_name(pid_t pid, const std::string& fallback) {
  std::error_code ec;
  auto exe = fs::read_symlink(fmt::format("/proc/{}/exe", pid), ec);
  if (ec) return fallback;
  std::string name = exe.filename().string();
  const std::string deleted = " (deleted)";
  if (name.ends_with(deleted)) name.resize(name.size() - deleted.size());
  return name;
}

}  // namespace

std::string target_name_hint(const std::string& name, const std::vector<TargetSpec>& targets) {
  std::vector<std::string> names;
  for (const auto& t : targets) names.push_back(t.name);
  if (names.empty())
    return fmt::format("; add a [[targets]] entry with name = \"{}\" and a way to find its processes (exe, cmdline, "
                       "pidfile, pid, cgroup or setup)",
                       name);
  const std::string suggestion = did_you_mean(name, names);
  if (!suggestion.empty()) return suggestion;
  return fmt::format(" (targets: {})", fmt::join(names, ", "));
}

std::string no_match_hint(const TargetSpec& spec, const std::vector<SeenProcess>& seen) {
  switch (spec.kind) {
    case TargetKind::cmdline: return cmdline_hint(spec, seen);
    case TargetKind::exe: return exe_hint(spec, seen);
    case TargetKind::setup: return setup_hint(spec);
    default: return "";
  }
}

std::string no_match_hint(const TargetSpec& spec) {
  if (spec.kind != TargetKind::cmdline && spec.kind != TargetKind::exe) return no_match_hint(spec, {});
  std::vector<SeenProcess> seen;
  std::error_code ec;
  for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;  // rebound's own command line holds the pattern: the nearest of all
    auto info = read_process(pid);
    if (!info || info->cmdline.empty()) continue;  // kernel threads have no command line
    seen.push_back({*info, spec.kind == TargetKind::exe ? exe_name(pid, info->comm) : ""});
  }
  return no_match_hint(spec, seen);
}

}  // namespace rebound
