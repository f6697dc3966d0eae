#include "reports/journal_writer.hpp"

#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <map>

#include "config/templates.hpp"
#include "reports/journal_buckets.hpp"

namespace rebound {

namespace {

// What to write instead of a value of the tree (found by its address): a load probe's rows.
using Splices = std::map<const nlohmann::json*, std::function<void(std::ostream&, int depth)>>;

void indent(std::ostream& out, int depth) {
  for (int i = 0; i < depth; ++i) out << "  ";
}

// nlohmann::json::dump(2), value by value, with the splices.
void write_value(std::ostream& out, const nlohmann::json& j, int depth, const Splices& splices) {
  if (auto s = splices.find(&j); s != splices.end()) return s->second(out, depth);
  if (!j.is_structured() || j.empty()) {
    out << j.dump();
    return;
  }
  out << (j.is_object() ? "{\n" : "[\n");
  size_t left = j.size();
  for (auto it = j.begin(); it != j.end(); ++it) {
    indent(out, depth + 1);
    if (j.is_object()) out << nlohmann::json(it.key()).dump() << ": ";
    write_value(out, it.value(), depth + 1, splices);
    out << (--left ? ",\n" : "\n");
  }
  indent(out, depth);
  out << (j.is_object() ? "}" : "]");
}

// The rows of one probe's series, one a line.
void write_rows(std::ostream& out, int depth, const ProbeSeries& series, const std::vector<std::string>& secrets) {
  bool first = true;
  for (const auto& s : series.samples) {
    if (!s.requests) continue;
    BucketRow row = bucket_row(s);
    if (!secrets.empty()) row.first_failure = mask_secrets(row.first_failure, secrets);
    out << (first ? "[\n" : ",\n");
    first = false;
    indent(out, depth + 1);
    out << to_json(row).dump();
  }
  if (first) {
    out << "[]";
    return;
  }
  out << "\n";
  indent(out, depth);
  out << "]";
}

}  // namespace

Result<void> write_journal(const std::string& path, const nlohmann::json& journal, const RunResult& result,
                           const std::vector<std::string>& secrets) {
  Splices splices;
  if (auto probes = journal.find("probes"); probes != journal.end() && probes->is_array())
    for (size_t i = 0; i < probes->size() && i < result.probes.size(); ++i) {
      const auto& p = (*probes)[i];
      if (auto b = p.find("buckets"); b != p.end() && b->is_null()) {
        const ProbeSeries& series = result.probes[i];
        splices[&*b] = [&series, &secrets](std::ostream& out, int depth) { write_rows(out, depth, series, secrets); };
      }
    }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  write_value(out, journal, 0, splices);
  out << "\n";
  out.close();
  if (!out) return fail(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return {};
}

}  // namespace rebound
