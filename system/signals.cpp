#include "system/signals.hpp"

#include <atomic>
#include <csignal>

namespace rebound {

namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_resized{false};
void on_signal(int signal) { g_signal.store(signal); }
void on_resize(int) { g_resized.store(true); }
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

void install_resize_handler() {
  struct sigaction action {};
  action.sa_handler = on_resize;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGWINCH, &action, nullptr);
}

bool take_resize() { return g_resized.exchange(false); }

}  // namespace rebound
