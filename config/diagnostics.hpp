#pragma once
// Validation errors that name file, line, column and key, and suggest a fix.
#include <string>
#include <string_view>
#include <vector>

namespace rebound {

struct Diagnostic {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;      // dotted path such as "probes[0].url"
  std::string message;  // what is wrong and how to fix it
  std::string format() const;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void error(int line, int column, std::string key, std::string message);
  bool empty() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  const std::string& file() const { return file_; }
  // Errors from now on name this file (shared definitions come from another file than the experiment).
  void set_file(std::string file) { file_ = std::move(file); }
  std::string format_all() const;

 private:
  std::string file_;
  std::vector<Diagnostic> items_;
};

// The text itself when it is short, else its start and how long it is: a value quoted in a message
// ("aaaa… (50000000 characters)") never floods the terminal.
std::string clip(std::string_view text, size_t max = 60);

// Levenshtein distance: insertions, deletions and substitutions of one byte each.
size_t edit_distance(std::string_view a, std::string_view b);

// The closest candidate within a small edit distance, or "" when nothing is close.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

// "; did you mean 'x'?" or "" when nothing is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace rebound
