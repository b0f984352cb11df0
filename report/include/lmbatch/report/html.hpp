// The report's one HTML page: self-contained (inline CSS, no script, no
// network), the pictures referenced by relative file name.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace lmbatch::report {

std::string html_escape(const std::string& s);

struct Figure {
  std::string file;  // relative to the page
  std::string alt, caption;
  int width = 0, height = 0;
};

struct HtmlTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<bool> numeric;  // per column: right-aligned
};

struct PageContent {
  std::string title, subtitle;
  std::vector<std::pair<std::string, std::string>> provenance;  // key, value
  HtmlTable summary, ier;
  std::vector<std::pair<std::string, std::string>> attributes;  // every root attribute
  std::vector<std::pair<std::string, std::vector<Figure>>> sections;
  std::vector<std::string> notes;
};

std::string render_html(const PageContent& page);

}  // namespace lmbatch::report
