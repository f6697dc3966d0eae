#pragma once
// The kernel's log (/dev/kmsg) from a point on: which processes the OOM killer killed while a fault held.
#include <string>
#include <sys/types.h>
#include <vector>

#include "config/result.hpp"
#include "system/fd.hpp"

namespace rebound {

struct OomKill {
  pid_t pid = 0;
  std::string command;     // the kernel's name for it (comm)
  std::string oom_memcg;   // the memory cgroup whose limit was hit ("/" for the whole machine)
  std::string task_memcg;  // the killed process's memory cgroup
};

class KernelLog {
 public:
  // Opens /dev/kmsg positioned at its end: only records written from now on are read.
  static Result<KernelLog> from_now();
  // The OOM kills logged since from_now() or the last call.
  std::vector<OomKill> oom_kills();

 private:
  Fd fd_;
};

// Parses one kmsg record's text, the kernel's summary line of a kill ("oom-kill:constraint=CONSTRAINT_MEMCG,...,
// oom_memcg=/a,task_memcg=/a/b,task=python3,pid=123,uid=0"); pid 0 when it is not one.
OomKill parse_oom_kill(const std::string& text);

}  // namespace rebound
