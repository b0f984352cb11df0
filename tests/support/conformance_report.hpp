// Collects per-run conformance results and, when LMBATCH_CONFORMANCE_REPORT
// names a directory, writes them there as Markdown (docs/conformance.md is
// assembled from these files).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace lmbatch::test {

class ConformanceReport {
 public:
  explicit ConformanceReport(std::string name, std::string header)
      : name_(std::move(name)), header_(std::move(header)) {}
  void row(const std::string& line) { rows_.push_back(line); }
  void summary(const std::string& line) { summary_.push_back(line); }
  ~ConformanceReport() {
    for (const auto& s : summary_) std::printf("%s: %s\n", name_.c_str(), s.c_str());
    const char* dir = std::getenv("LMBATCH_CONFORMANCE_REPORT");
    if (!dir) return;
    const std::string path = std::string(dir) + "/" + name_ + ".md";
    if (FILE* f = std::fopen(path.c_str(), "w")) {
      for (const auto& s : summary_) std::fprintf(f, "- %s\n", s.c_str());
      std::fprintf(f, "\n%s\n", header_.c_str());
      for (const auto& r : rows_) std::fprintf(f, "%s\n", r.c_str());
      std::fclose(f);
    }
  }

 private:
  std::string name_, header_;
  std::vector<std::string> rows_, summary_;
};

inline std::string format(const char* fmt, auto... args) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

}  // namespace lmbatch::test
