#pragma once
// report.html: one self-contained file (inline CSS and SVG, no scripts, no external assets), made from a
// journal alone so that `rebound report` can re-render old runs. Everything from a user's file or a probe's
// output is escaped.
#include <nlohmann/json.hpp>
#include <string>

namespace rebound {

std::string make_html(const nlohmann::json& journal);
std::string html_escape(const std::string& text);

}  // namespace rebound
