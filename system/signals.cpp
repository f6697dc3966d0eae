#include "system/signals.hpp"

#include <atomic>
#include <csignal>

namespace rebound {

namespace {
std::atomic<int> g_signal{0};
void on_signal(int signal) { g_signal.store(signal); }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGHUP, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int interrupt_signal() { return g_signal.load(); }
void clear_interrupt() { g_signal.store(0); }

}  // namespace rebound
