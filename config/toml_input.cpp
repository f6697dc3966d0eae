#include "config/toml_input.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rebound {

static const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Result<std::string> read_input_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return fail_errno("cannot read the file");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail_errno("cannot read the file");
  if (S_ISDIR(st.st_mode)) return fail("this is a directory, not a file: give the path of a .toml file in it");
  if (!S_ISREG(st.st_mode))
    return fail(fmt::format("this is {}: rebound reads experiments and suites from regular files only",
                            file_kind(st.st_mode)));
  auto too_big = [](uint64_t size) {
    return fail(fmt::format("the file is {} bytes; experiment and suite files are limited to 1 MiB ({} bytes)", size,
                            kMaxInputFileBytes));
  };
  if (static_cast<uint64_t>(st.st_size) > kMaxInputFileBytes) return too_big(static_cast<uint64_t>(st.st_size));
  std::string text(kMaxInputFileBytes + 1, '\0');
  size_t have = 0;
  while (have < text.size()) {
    ssize_t n = ::read(fd, text.data() + have, text.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("cannot read the file");
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (have > kMaxInputFileBytes) return too_big(have);  // it grew while we read it
  text.resize(have);
  return text;
}

namespace {

struct Position {
  int line = 1, column = 1;
};

// Finds the first place where tables, arrays, inline tables and dotted keys together nest deeper than
// kMaxTomlNesting. Strings and comments are skipped; a dotted key's segments count one level each.
std::optional<Position> too_deep(std::string_view t) {
  Position at;
  int brackets = 0, dots = 0;
  auto advance = [&](size_t& i) {
    if (t[i] == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
    ++i;
  };
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == '#') {
      while (i < t.size() && t[i] != '\n') advance(i);
      continue;
    }
    if (c == '"' || c == '\'') {
      const bool triple = t.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''");
      const size_t quote_length = triple ? 3 : 1;
      for (size_t k = 0; k < quote_length; ++k) advance(i);
      while (i < t.size()) {
        if (c == '"' && t[i] == '\\' && i + 1 < t.size()) {
          advance(i);
          advance(i);
          continue;
        }
        if (triple ? t.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "'''") : t[i] == c) {
          for (size_t k = 0; k < quote_length; ++k) advance(i);
          break;
        }
        if (!triple && t[i] == '\n') break;  // an unterminated string: the parser reports it
        advance(i);
      }
      continue;
    }
    switch (c) {
      case '[':
      case '{': ++brackets; dots = 0; break;
      case ']':
      case '}': brackets = std::max(0, brackets - 1); dots = 0; break;
      case '.': ++dots; break;
      case '\n':
      case ',':
      case '=': dots = 0; break;
      default: break;
    }
    if (brackets + dots > kMaxTomlNesting) return at;
    advance(i);
  }
  return std::nullopt;
}

}  // namespace

std::optional<toml::table> parse_toml_bounded(std::string_view text, const std::string& path,
                                              Diagnostics& diagnostics) {
  if (text.size() > kMaxInputFileBytes) {
    diagnostics.error(0, 0, "file",
                      fmt::format("the text is {} bytes; experiment and suite files are limited to 1 MiB ({} bytes)",
                                  text.size(), kMaxInputFileBytes));
    return std::nullopt;
  }
  if (auto at = too_deep(text)) {
    diagnostics.error(at->line, at->column, "TOML syntax",
                      fmt::format("nested deeper than {} levels (tables, arrays, inline tables and the parts of "
                                  "dotted keys each count one); flatten the file",
                                  kMaxTomlNesting));
    return std::nullopt;
  }
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    diagnostics.error(static_cast<int>(where.line), static_cast<int>(where.column), "TOML syntax",
                      std::string(e.description()));
    return std::nullopt;
  }
}

bool is_suite_file(const std::string& path) {
  auto text = read_input_file(path);
  if (!text) return false;  // the experiment loader reports why it cannot be read
  Diagnostics ignored(path);
  auto root = parse_toml_bounded(*text, path, ignored);
  return root && root->contains("groups");
}

}  // namespace rebound
