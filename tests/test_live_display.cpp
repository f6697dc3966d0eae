// The live display as a user watches it in a terminal: every line fits the window (no wrap), a resize is
// followed, and the block leaves no stale line behind, checked in a real terminal (tmux) at three widths.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "experiments/progress.hpp"
#include "helpers.hpp"

namespace {

size_t count_lines_with(const std::string& screen, const std::string& needle) {
  std::istringstream in(screen);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// Widest line of the live block in columns (capture-pane -J joins a wrapped line back into one). Event lines
// above the block may wrap: they are printed once, never redrawn.
size_t widest_block_line(const std::string& screen) {
  std::istringstream in(screen);
  size_t widest = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find("  phase ") != std::string::npos || line.rfind("  probe ", 0) == 0 ||
        line.rfind("  active faults:", 0) == 0)
      widest = std::max(widest, rebound::visible_columns(line));
  return widest;
}

// A tmux server of the test's own (its own socket, so it inherits this process's environment), one window.
class Tmux {
 public:
  Tmux(int columns, const std::string& command)
      : socket_("rebound-test-" + std::to_string(getpid()) + "-" + std::to_string(columns)) {
    test::sh(tmux() + " new-session -d -s t -x " + std::to_string(columns) + " -y 50 '" + command + "'");
  }
  ~Tmux() { std::system((tmux() + " kill-server 2>/dev/null").c_str()); }
  std::string capture(bool history = false) const {
    return test::sh(tmux() + " capture-pane -p -J -t t" + (history ? " -S -" : ""));
  }
  void resize(int columns) const { test::sh(tmux() + " resize-window -t t -x " + std::to_string(columns)); }

 private:
  std::string tmux() const { return "tmux -L " + socket_ + " -f /dev/null"; }
  std::string socket_;
};

// A run whose probe fails with a long reason while its target is stopped for 3 s.
std::string write_experiment(const test::TempDir& dir, pid_t victim) {
  std::string path = dir.path() + "/live.toml";
  std::ofstream(path) << "name = \"a-long-experiment-name-so-that-the-header-line-runs-past-narrow-windows\"\n"
                         "[[targets]]\nname = \"victim\"\npid = " << victim << "\n"
                         "[[probes]]\nname = \"victim-is-running-and-answers\"\ntype = \"command\"\n"
                         "argv = [\"/bin/sh\", \"-c\", \"if grep -q stopped /proc/" << victim << "/status; then echo "
                         "the victim is stopped and this reason is long enough to run past the edge of any "
                         "narrow terminal window >&2; exit 1; fi\"]\ninterval = \"100ms\"\n"
                         "[steady_state]\nwindow = \"500ms\"\n"
                         "[[method]]\nname = \"stop-victim\"\ntype = \"process.stop\"\ntarget = \"victim\"\n"
                         "duration = \"3s\"\n"
                         "[slo]\nrecover_within = \"2s\"\nstable_for = \"300ms\"\n";
  return path;
}

struct Watched {
  size_t widest = 0;            // the widest line seen while the block was on screen
  size_t most_blocks = 0;       // the most "active faults" lines seen at once (2 or more: a stale block)
  bool saw_failing_probe = false;
  std::string final_screen;     // the whole history once rebound exited
};

Watched watch(const Tmux& tmux, int resize_to_at_fault = 0) {
  Watched w;
  bool resized = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string screen = tmux.capture();
    if (screen.find("rebound exited") != std::string::npos) break;
    if (screen.find("active faults: stop-victim") != std::string::npos && resize_to_at_fault && !resized) {
      tmux.resize(resize_to_at_fault);
      resized = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a redraw or two at the new width
      continue;
    }
    if (!resize_to_at_fault || resized) w.widest = std::max(w.widest, widest_block_line(screen));
    w.most_blocks = std::max(w.most_blocks, count_lines_with(screen, "active faults:"));
    w.saw_failing_probe |= screen.find("victim-is-running") != std::string::npos &&
                           screen.find(" fail ") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  w.final_screen = tmux.capture(true);
  return w;
}

}  // namespace

TEST_CASE("live display: each line is cut to the terminal's width with an ellipsis", "[progress]") {
  CHECK(rebound::visible_columns("\x1b[31mfail\x1b[0m ok") == 7);
  CHECK(rebound::visible_columns("≤ 3 s") == 5);
  CHECK(rebound::fit_to_columns("short", 10) == "short");
  std::string cut = rebound::fit_to_columns("\x1b[1mheader\x1b[0m and a long tail", 10);
  CHECK(rebound::visible_columns(cut) == 10);
  CHECK(cut.find("…") != std::string::npos);
  CHECK(cut.substr(cut.size() - 4) == "\x1b[0m");  // a cut inside a style does not colour what follows
  CHECK(rebound::visible_columns(rebound::fit_to_columns("ééééééééééééé", 5)) == 5);
}

TEST_CASE("live display in tmux at 60 80 and 120 columns: no wrapped line and no stale line after failing samples",
          "[progress][integration]") {
  const int columns = GENERATE(60, 80, 120);
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "600"});
  std::string toml = write_experiment(dir, victim.pid());
  std::string command = test::bin("rebound") + " run " + toml + " --report-dir " + dir.path() + "/r --state-dir " +
                        dir.path() + "/state; echo rebound exited $?; sleep 600";
  Tmux tmux(columns, command);
  Watched w = watch(tmux);
  INFO("width " << columns << ", final screen:\n" << w.final_screen);
  REQUIRE(w.final_screen.find("rebound exited") != std::string::npos);
  CHECK(w.saw_failing_probe);
  CHECK(w.widest > 0);
  CHECK(w.widest < static_cast<size_t>(columns));
  CHECK(w.most_blocks == 1);
  // Once rebound is done the block is gone: no probe or fault line of it is left in the scrollback.
  CHECK(count_lines_with(w.final_screen, "active faults:") == 0);
  CHECK(count_lines_with(w.final_screen, "samples ") == 0);
  CHECK(w.final_screen.find("stop-victim") != std::string::npos);  // the run's own report lines are there
}

TEST_CASE("live display follows a resize of the terminal from 120 to 60 columns mid-run", "[progress][integration]") {
  test::TempDir dir;
  test::Child victim({"/bin/sleep", "600"});
  std::string toml = write_experiment(dir, victim.pid());
  std::string command = test::bin("rebound") + " run " + toml + " --report-dir " + dir.path() + "/r --state-dir " +
                        dir.path() + "/state; echo rebound exited $?; sleep 600";
  Tmux tmux(120, command);
  Watched w = watch(tmux, 60);
  INFO("final screen:\n" << w.final_screen);
  REQUIRE(w.final_screen.find("rebound exited") != std::string::npos);
  CHECK(w.widest > 0);
  CHECK(w.widest < 60);  // every block drawn after the resize fits the narrower window
  CHECK(w.most_blocks == 1);
  CHECK(count_lines_with(w.final_screen, "active faults:") == 0);
}
