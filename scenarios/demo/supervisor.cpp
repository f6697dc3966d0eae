// The demo's supervisor: runs a command and starts it again whenever it dies, like systemd's
// Restart=always. SIGTERM stops the child and the supervisor.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop = 0;
static void on_term(int) { g_stop = 1; }

int main(int argc, char** argv) {
  int restart_delay_ms = 100;
  int first = 1;
  if (argc > 2 && std::string(argv[1]) == "--restart-delay-ms") {
    restart_delay_ms = std::atoi(argv[2]);
    first = 3;
  }
  if (first < argc && std::string(argv[first]) == "--") ++first;
  if (first >= argc) {
    std::fprintf(stderr, "usage: %s [--restart-delay-ms N] -- command [args...]\n", argv[0]);
    return 2;
  }
  struct sigaction action {};
  action.sa_handler = on_term;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  while (!g_stop) {
    pid_t child = fork();
    if (child == 0) {
      execv(argv[first], argv + first);
      std::fprintf(stderr, "supervisor: cannot run %s: %s\n", argv[first], std::strerror(errno));
      _exit(127);
    }
    std::fprintf(stderr, "supervisor: started pid %d\n", child);
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
      if (g_stop) {
        kill(child, SIGTERM);
        kill(child, SIGCONT);
      }
    }
    if (g_stop) break;
    std::fprintf(stderr, "supervisor: pid %d ended (%s %d); restarting in %d ms\n", child,
                 WIFSIGNALED(status) ? "signal" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                 restart_delay_ms);
    usleep(static_cast<useconds_t>(restart_delay_ms) * 1000);
  }
  return 0;
}
