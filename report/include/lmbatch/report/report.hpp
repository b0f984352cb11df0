// `lmbatch report OUT.h5 -o DIR` and `lmbatch fit ... --report DIR`: PNG
// pictures of a result file and one HTML page that shows them with the run's
// provenance and summary tables (see docs/report.md).
//
// The library lmbatch_report reads result files only through io
// (io::ResultFileReader) and its status texts from engine (batch/status.hpp);
// it knows nothing of apps.
#pragma once

#include <string>

namespace lmbatch::report {

// Writes the report of the result file `result_file` into the directory
// `dir` (created if needed; files of an earlier report there are replaced):
// DIR/index.html, DIR/report.json (the manifest) and the PNG pictures.
// Returns 0 (the command's exit status). Throws io::Error when the result
// file cannot be read (naming the file and dataset) and std::runtime_error
// when DIR or a file in it cannot be written; `lmbatch` turns either into
// exit status 1. Reads the result file in blocks of rows, twice: memory is
// bounded by the displayed maps (at most 1024 cells a side), not by the
// file's size.
int write_report(const std::string& result_file, const std::string& dir);

}  // namespace lmbatch::report
