// `lmbatch fit`'s options: the file run's (io::FileFitOptions, shared with
// Python's fit_file and the cluster mode) plus what only the command does
// with a finished run (summary JSON, report, progress lines). The run itself
// is io/file_fit.hpp.
#pragma once

#include <string>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/file_fit.hpp"

namespace lmbatch::app {

struct FitArgs {
  io::FileFitOptions run;
  std::string compression = "integers";  // --compression, parsed into run.compression
  std::string summary_json, report_dir;
  double progress_interval = 3.0;
};

// The FitLog of the command: info and warnings through spdlog.
io::FitLog spdlog_fit_log();

// After the run: the summary log, the report and --summary-json for a
// complete run; for an interrupted one the message saying how to resume, and
// its exit status.
int report_outcome(const FitArgs& args, const io::FitJob& job, const io::FitOutcome& outcome,
                   const char* signal_name, int signal_exit_status);

}  // namespace lmbatch::app
