// rebound report: re-renders HTML reports from journals.
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.hpp"
#include "experiments/analysis.hpp"
#include "reports/html.hpp"
#include "reports/report_writer.hpp"

namespace fs = std::filesystem;

namespace rebound {
namespace {

// The file of one journal among several: its experiment and when it ran (NAME-20260101T090000.123Z.html), so
// that runs of one experiment never overwrite each other; -2, -3... if two still meet.
std::string report_file(const std::string& out, const nlohmann::json& j, const std::string& path,
                        std::set<std::string>& used) {
  std::string name = j["experiment"].value("name", fs::path(path).stem().string());
  std::string when;
  for (char c : j.value("started_at", std::string()))
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.') when += c;
  std::string base = fmt::format("{}/{}{}{}", out, name, when.empty() ? "" : "-", when);
  std::string file = base + ".html";
  for (int i = 2; !used.insert(file).second; ++i) file = fmt::format("{}-{}.html", base, i);
  return file;
}

// OUT is the file for one journal, a folder for several.
int cmd_report(const std::vector<std::string>& journals, const std::string& out) {
  if (out.empty()) {
    std::cerr << "error: say where the report goes: --html OUT\n";
    return exit_code(Verdict::error);
  }
  std::error_code ec;
  if (journals.size() > 1) fs::create_directories(out, ec);
  int status = 0;
  std::set<std::string> used;
  for (const auto& path : journals) {
    std::ifstream in(path);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!in || j.is_discarded() || !j.contains("schema_version")) {
      std::cerr << fmt::format("error: {} is not a rebound journal\n", path);
      status = exit_code(Verdict::error);
      continue;
    }
    std::string target = journals.size() > 1 ? report_file(out, j, path, used) : out;
    if (auto w = write_text_file(target, make_html(j)); !w) {
      std::cerr << "error: " << w.error().message << "\n";
      status = exit_code(Verdict::error);
    } else {
      std::cout << target << "\n";
    }
  }
  return status;
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto journals = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* report = app.add_subcommand("report", "Re-render HTML reports from journals");
  report->add_option("journals", *journals, "journal.json files")->required();
  report->add_option("--html", *out, "the HTML file (one journal) or folder (several)")->required();
  return {report, [journals, out] { return cmd_report(*journals, *out); }};
}

}  // namespace rebound
