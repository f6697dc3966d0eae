#pragma once
// report.html: one self-contained file (inline CSS and SVG, no scripts, no external assets), made from a
// journal alone so that `rebound report` can re-render old runs. Everything from a user's file or a probe's
// output is escaped.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/analysis.hpp"

namespace rebound {

// `live`: the run's series, in the journal's probe order, for what make_journal leaves to them (a load probe's
// bucket rows); nullptr for a journal read back from its file.
std::string make_html(const nlohmann::json& journal, const std::vector<ProbeSeries>* live = nullptr);
std::string html_escape(const std::string& text);

}  // namespace rebound
