// The demo's supervisor: runs a command and starts it again whenever it dies, like systemd's
// Restart=always. SIGTERM stops the child and the supervisor. With --memory-max it first moves itself into a
// memory cgroup of its own with that limit (like systemd's MemoryMax=), which it removes when it ends.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop = 0;
static void on_term(int) { g_stop = 1; }

// A memory cgroup for this process: cgroup v2 where its memory controller is on, else the v1 memory hierarchy.
static std::string enter_memory_cgroup(const std::string& bytes) {
  namespace fs = std::filesystem;
  const std::string name = "/rebound-demo-" + std::to_string(getpid());
  std::string folder, limit_file;
  for (const char* v2 : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    std::ifstream controllers(std::string(v2) + "/cgroup.subtree_control");
    std::string all((std::istreambuf_iterator<char>(controllers)), {});
    if (all.find("memory") != std::string::npos) {
      folder = v2 + name;
      limit_file = "memory.max";
      break;
    }
  }
  if (folder.empty() && fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes")) {
    folder = "/sys/fs/cgroup/memory" + name;
    limit_file = "memory.limit_in_bytes";
  }
  std::error_code ec;
  if (folder.empty() || !fs::create_directory(folder, ec)) return "";
  std::ofstream(folder + "/" + limit_file) << bytes;
  if (limit_file == "memory.limit_in_bytes") std::ofstream(folder + "/memory.swappiness") << 0;
  else std::ofstream(folder + "/memory.swap.max") << 0;
  std::ofstream(folder + "/cgroup.procs") << getpid();
  std::fprintf(stderr, "supervisor: in memory cgroup %s (limit %s bytes)\n", folder.c_str(), bytes.c_str());
  return folder;
}

int main(int argc, char** argv) {
  int restart_delay_ms = 100;
  std::string memory_max;
  int first = 1;
  for (; first + 1 < argc; first += 2) {
    const std::string flag = argv[first];
    if (flag == "--restart-delay-ms") restart_delay_ms = std::atoi(argv[first + 1]);
    else if (flag == "--memory-max") memory_max = argv[first + 1];
    else break;
  }
  if (first < argc && std::string(argv[first]) == "--") ++first;
  if (first >= argc) {
    std::fprintf(stderr, "usage: %s [--restart-delay-ms N] [--memory-max BYTES] -- command [args...]\n", argv[0]);
    return 2;
  }
  std::string cgroup;
  if (!memory_max.empty() && (cgroup = enter_memory_cgroup(memory_max)).empty()) {
    std::fprintf(stderr, "supervisor: cannot make a memory cgroup (run as root on a host with the memory controller)\n");
    return 1;
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
  if (!cgroup.empty()) {
    // Leave the cgroup for its parent so that the now empty folder can go.
    std::ofstream(cgroup.substr(0, cgroup.rfind('/')) + "/cgroup.procs") << getpid();
    rmdir(cgroup.c_str());
  }
  return 0;
}
