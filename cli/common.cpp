#include "cli/common.hpp"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <map>
#include <spdlog/spdlog.h>

#include "system/fault_record.hpp"
#include "system/guardian.hpp"
#include "system/state_dir.hpp"

namespace fs = std::filesystem;

namespace rebound {

std::string bin_dir() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  // A build tree has the demo's programs beside rebound; an installed rebound has them in PREFIX/lib/rebound.
  const fs::path dir = self.parent_path(), installed = dir.parent_path() / "lib/rebound";
  if (!fs::exists(dir / "rebound-demo-service", ec) && fs::exists(installed / "rebound-demo-service", ec))
    return installed.string();
  return dir.string();
}

std::string now_stamp() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return stamp;
}

std::string default_report_dir() {
  std::string base = fmt::format("rebound-reports/{}", now_stamp());
  std::string dir = base;
  for (int i = 2; fs::exists(dir); ++i) dir = fmt::format("{}-{}", base, i);
  return dir;
}

std::vector<Loaded> load_all(const std::vector<std::string>& files, bool& all_valid,
                             const std::map<std::string, std::string>& vars) {
  std::vector<Loaded> out;
  all_valid = true;
  LoadOptions options{bin_dir()};
  options.vars = vars;
  std::map<std::string, std::string> names;
  for (const auto& f : files) {
    Loaded l{f, load_experiment(f, options)};
    if (l.result.experiment) {
      auto [it, fresh] = names.emplace(l.result.experiment->name, f);
      if (!fresh) {
        l.result.diagnostics.error(1, 1, "name",
                                   fmt::format("experiment '{}' is also defined in {}; give each experiment in one "
                                               "run its own name",
                                               it->first, it->second));
        l.result.experiment.reset();
      }
    }
    if (!l.result.experiment) {
      all_valid = false;
      std::cerr << l.result.diagnostics.format_all();
    }
    out.push_back(std::move(l));
  }
  return out;
}

std::optional<Suite> load_suite_or_say(const std::string& file) {
  auto loaded = load_suite(file, LoadOptions{bin_dir()});
  if (!loaded.ok()) {
    std::cerr << loaded.format_all();
    return std::nullopt;
  }
  return std::move(*loaded.suite);
}

std::optional<std::string> guarded_state_dir(const std::string& flag) {
  std::string dir = flag.empty() ? FaultRecorder::default_dir() : flag;
  if (auto ok = prepare_state_dir(dir); !ok) {
    std::cerr << "error: " << ok.error().message << "\nnothing was run\n";
    return std::nullopt;
  }
  auto guardian = start_guardian(dir);
  if (!guardian) {
    std::cerr << fmt::format("error: {}; without it a crash of rebound could leave a fault behind, so nothing was "
                             "run\n",
                             guardian.error().message);
    return std::nullopt;
  }
  spdlog::debug("guardian pid {} watches this rebound (state: {})", *guardian, dir);
  return dir;
}

std::string history_file(const RunFlags& flags) {
  return flags.history.empty() ? History::default_path() : flags.history;
}

std::unique_ptr<History> open_history_or_say(const std::string& path) {
  auto opened = History::open(path);
  if (!opened) {
    std::cerr << "error: " << opened.error().message << "\n";
    return nullptr;
  }
  return std::move(*opened);
}

}  // namespace rebound
