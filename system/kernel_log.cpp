#include "system/kernel_log.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

#include <string>

namespace rebound {

Result<KernelLog> KernelLog::from_now() {
  KernelLog log;
  log.fd_.reset(::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!log.fd_) return fail_errno("cannot read the kernel log /dev/kmsg");
  if (::lseek(log.fd_.get(), 0, SEEK_END) < 0) return fail_errno("cannot seek to the end of /dev/kmsg");
  return log;
}

OomKill parse_oom_kill(const std::string& text) {
  OomKill kill;
  const std::string marker = "oom-kill:";
  const size_t at = text.find(marker);
  if (at == std::string::npos) return kill;
  std::string fields = text.substr(at + marker.size());
  auto field = [&](const std::string& key) -> std::string {
    for (size_t from = 0;;) {
      const size_t found = fields.find(key + "=", from);
      if (found == std::string::npos) return "";
      if (found == 0 || fields[found - 1] == ',') {
        const size_t start = found + key.size() + 1, end = fields.find(',', start);
        return fields.substr(start, end == std::string::npos ? std::string::npos : end - start);
      }
      from = found + 1;
    }
  };
  kill.command = field("task");
  kill.oom_memcg = field("oom_memcg");
  kill.task_memcg = field("task_memcg");
  try {
    kill.pid = static_cast<pid_t>(std::stol(field("pid")));
  } catch (const std::exception&) {
    return OomKill{};
  }
  return kill;
}

std::vector<OomKill> KernelLog::oom_kills() {
  std::vector<OomKill> kills;
  if (!fd_) return kills;
  char record[8192];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), record, sizeof record - 1);
    if (n < 0 && errno == EPIPE) continue;  // records were overwritten before we read them: go on with the rest
    if (n <= 0) break;
    // "PRIORITY,SEQUENCE,TIME,FLAGS;TEXT\n"
    std::string line(record, static_cast<size_t>(n));
    const size_t semicolon = line.find(';');
    if (semicolon == std::string::npos) continue;
    std::string text = line.substr(semicolon + 1);
    if (const size_t eol = text.find('\n'); eol != std::string::npos) text.resize(eol);
    OomKill kill = parse_oom_kill(text);
    if (kill.pid > 0) kills.push_back(kill);
  }
  return kills;
}

}  // namespace rebound
