#pragma once
// What the file fault tests share: the writer target, its log lines, and the step text.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace file_fault_test {

// The target: writes a small file (open, write, fsync, close) and reads a fixed one every 20 ms, one log line per
// round: "<n> ok fsync_ms=<ms> read ok" or "<n> err EIO read ok".
inline constexpr const char* kWriter = R"(import errno, os, sys, time
d, log = sys.argv[1], sys.argv[2]
i = 0
with open(log, "a", buffering=1) as out:
    while True:
        try:
            fd = os.open(os.path.join(d, "t%d.dat" % (i % 5)), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, b"x" * 100)
                t = time.monotonic()
                os.fsync(fd)
                res = "ok fsync_ms=%.1f" % ((time.monotonic() - t) * 1000)
            finally:
                os.close(fd)
        except OSError as e:
            res = "err " + errno.errorcode[e.errno]
        try:
            with open(os.path.join(d, "fixed.txt")) as f:
                f.read()
            r = "read ok"
        except OSError as e:
            r = "read err " + errno.errorcode[e.errno]
        out.write("%d %s %s\n" % (i, res, r))
        i += 1
        time.sleep(0.02)
)";

inline std::string fmt_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

inline size_t count_with(const std::vector<std::string>& lines, const std::string& needle) {
  size_t n = 0;
  for (const auto& l : lines) n += l.find(needle) != std::string::npos;
  return n;
}

inline std::vector<double> fsync_ms(const std::vector<std::string>& lines) {
  std::vector<double> out;
  for (const auto& l : lines)
    if (auto at = l.find("fsync_ms="); at != std::string::npos) out.push_back(std::stod(l.substr(at + 9)));
  return out;
}

inline double median(std::vector<double> v) {
  REQUIRE(!v.empty());
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline bool rebound_mount_on(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string l; std::getline(in, l);)
    if (l.find(" " + path + " ") != std::string::npos && l.find(" fuse.rebound ") != std::string::npos) return true;
  return false;
}

// Another process (not the target's): creates, writes and fsyncs a file; 0 or the errno, and the fsync's ms.
inline std::pair<int, double> other_write(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return {errno, 0};
  int err = ::write(fd, "other", 5) == 5 ? 0 : errno;
  auto t = std::chrono::steady_clock::now();
  if (!err && ::fsync(fd) != 0) err = errno;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
  ::close(fd);
  return {err, ms};
}

inline std::string step(const std::string& type, const std::string& path, const std::string& rest) {
  return "type = \"" + type + "\"\ntarget = \"writer\"\npath = \"" + path + "\"\n" + rest;
}

}  // namespace file_fault_test
