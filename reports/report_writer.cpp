#include "reports/report_writer.hpp"

#include <cstring>
#include <fmt/format.h>
#include <fstream>

#include "config/templates.hpp"
#include "reports/html.hpp"
#include "reports/journal_writer.hpp"
#include "reports/markdown.hpp"

namespace rebound {

Result<void> write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return {};
}

Result<void> write_experiment_reports(const Experiment& ex, const RunResult& result, const nlohmann::json& journal,
                                      const std::string& dir) {
  if (auto w = write_journal(dir + "/journal.json", journal, result, ex.secrets); !w) return w;
  if (auto w = write_text_file(dir + "/report.html", make_html(journal, &result.probes)); !w) return w;
  return write_text_file(dir + "/summary.md", mask_secrets(make_markdown(ex, result), ex.secrets));
}

}  // namespace rebound
