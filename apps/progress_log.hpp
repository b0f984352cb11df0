// Progress and the final summary of a batch run, through spdlog.
#pragma once

#include <chrono>
#include <string>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/file_fit.hpp"

namespace lmbatch::app {

// A line every `interval` seconds (done/total, fits/s, ETA, status counts);
// on a terminal one line updated in place instead.
class ProgressLog {
 public:
  // lines_only: never the in-place line (e.g. under mpirun, whose output
  // forwarding looks like a terminal but ends up in a log file).
  explicit ProgressLog(double interval_seconds = 3.0, bool quiet = false, bool lines_only = false);
  void operator()(const batch::Progress& p);
  void finish();  // ends the in-place line on a terminal

 private:
  double interval_;
  bool quiet_, tty_;
  double last_ = -1e300;
  bool drew_line_ = false;
};

// "1: 9990, 2: 3, 5: 7" for the non-zero statuses.
std::string status_counts_text(const batch::StatusCounts& counts);

// Logs the final summary: the whole output's statuses with their sentences
// (batch/status.hpp), median nfev and first failures; this run's time and rate.
void log_summary(const io::FitOutcome& outcome, const leastsq::Options& options, int n,
                 bool analytic);

// The summary as JSON (for --summary-json): the whole output's counts, this
// run's seconds and rate.
std::string summary_json(const io::FitOutcome& outcome, const std::string& model,
                         const std::string& input, const std::string& output);

}  // namespace lmbatch::app
