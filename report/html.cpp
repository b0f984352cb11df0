#include "lmbatch/report/html.hpp"

#include <sstream>

namespace lmbatch::report {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

void table(std::ostringstream& o, const HtmlTable& t, const std::string& cls) {
  o << "<table class=\"" << cls << "\">\n<thead><tr>";
  for (const auto& h : t.header) o << "<th>" << html_escape(h) << "</th>";
  o << "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    o << "<tr>";
    for (std::size_t k = 0; k < row.size(); ++k) {
      const bool num = k < t.numeric.size() && t.numeric[k];
      o << (num ? "<td class=\"num\">" : "<td>") << html_escape(row[k]) << "</td>";
    }
    o << "</tr>\n";
  }
  o << "</tbody></table>\n";
}

void key_values(std::ostringstream& o, const std::vector<std::pair<std::string, std::string>>& kv,
                const std::string& cls) {
  o << "<table class=\"" << cls << "\"><tbody>\n";
  for (const auto& [k, v] : kv)
    o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  o << "</tbody></table>\n";
}

constexpr const char* kStyle = R"(
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 24px; color: #111; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
p.sub { color: #444; margin-top: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #eee; }
table.kv th { background: #f4f4f4; font-weight: normal; color: #333; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td { white-space: pre-wrap; }
.figures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; border: 1px solid #ddd; padding: 6px; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #333; margin-top: 4px; }
ul.notes { font-size: 13px; color: #333; }
)";

}  // namespace

std::string render_html(const PageContent& page) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<title>" << html_escape(page.title) << "</title>\n<style>" << kStyle
    << "</style>\n</head>\n<body>\n";
  o << "<h1>" << html_escape(page.title) << "</h1>\n<p class=\"sub\">" << html_escape(page.subtitle)
    << "</p>\n";
  o << "<h2 id=\"provenance\">Provenance</h2>\n";
  key_values(o, page.provenance, "kv provenance");
  o << "<h2 id=\"summary\">Summary</h2>\n";
  table(o, page.summary, "summary");
  o << "<h2 id=\"ier\">Status (ier)</h2>\n";
  table(o, page.ier, "ier");
  for (const auto& [name, figures] : page.sections) {
    if (figures.empty()) continue;
    o << "<h2>" << html_escape(name) << "</h2>\n<div class=\"figures\">\n";
    for (const auto& f : figures) {
      o << "<figure><img src=\"" << html_escape(f.file) << "\" alt=\"" << html_escape(f.alt)
        << "\" width=\"" << f.width << "\" height=\"" << f.height << "\">";
      if (!f.caption.empty()) o << "<figcaption>" << html_escape(f.caption) << "</figcaption>";
      o << "</figure>\n";
    }
    o << "</div>\n";
  }
  if (!page.notes.empty()) {
    o << "<h2>Notes</h2>\n<ul class=\"notes\">\n";
    for (const auto& n : page.notes) o << "<li>" << html_escape(n) << "</li>\n";
    o << "</ul>\n";
  }
  o << "<h2 id=\"attributes\">All attributes of the result file</h2>\n";
  key_values(o, page.attributes, "kv attributes");
  o << "</body>\n</html>\n";
  return o.str();
}

}  // namespace lmbatch::report
