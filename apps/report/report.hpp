// `lmbatch report OUT.h5 -o DIR` and `lmbatch fit ... --report DIR`: PNG
// pictures of a result file and one HTML page that shows them with the run's
// provenance and summary tables (see docs/report.md).
#pragma once

#include <string>

namespace lmbatch::app {

// Writes the report of the result file `result_file` into the directory
// `dir` (created if needed; files of an earlier report there are replaced):
// DIR/index.html, DIR/report.json (the manifest) and the PNG pictures.
// Returns kExitOk (0). Throws io::Error when the result file cannot be read
// (naming the file and dataset) and std::runtime_error when DIR or a file in
// it cannot be written; `lmbatch` turns either into exit status 1.
// Reads the result file in blocks of rows, twice: memory is bounded by the
// displayed maps (at most 1024 cells a side), not by the file's size.
int write_report(const std::string& result_file, const std::string& dir);

}  // namespace lmbatch::app
