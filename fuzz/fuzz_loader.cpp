// libFuzzer target for everything that reads a user's file before anything runs: the experiment loader and
// its validation (probes, steps, targets, regexes, durations), the suite loader (which loads the experiments
// it lists) and the suite detection of `rebound validate`. Built by -DREBOUND_FUZZ=ON with clang; run by
// scripts/fuzz.sh. A crash, a sanitizer report or a timeout is a bug: keep the input in tests/fuzz-regressions/.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <unistd.h>

#include "experiments/loader.hpp"
#include "gameday/suite.hpp"
#include "config/toml_input.hpp"

namespace {

std::string work_dir;

void write(const std::string& path, const char* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char pattern[] = "/tmp/rebound-fuzz-XXXXXX";
  if (!mkdtemp(pattern)) std::abort();
  work_dir = pattern;
  // An experiment that fuzzed suites can list (file = "e.toml").
  const std::string valid = "name = \"e\"\n[[probes]]\nname = \"h\"\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n";
  write(work_dir + "/e.toml", valid.data(), valid.size());
  std::atexit([] {
    ::unlink((work_dir + "/e.toml").c_str());
    ::unlink((work_dir + "/input.toml").c_str());
    ::rmdir(work_dir.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const rebound::LoadOptions options{"/opt/rebound"};
  const std::string path = work_dir + "/input.toml";
  auto experiment = rebound::load_experiment_text(text, path, options);
  if (!experiment.experiment && experiment.diagnostics.empty()) std::abort();  // rejected without saying why
  write(path, text.data(), text.size());
  if (rebound::is_suite_file(path)) {
    auto suite = rebound::load_suite(path, options);
    if (!suite.ok() && suite.format_all().empty()) std::abort();
  } else {
    auto from_file = rebound::load_experiment(path, options);
    if (!from_file.experiment && from_file.diagnostics.empty()) std::abort();
  }
  return 0;
}
