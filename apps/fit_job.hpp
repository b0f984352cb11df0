// `lmbatch fit` in steps, shared by the single-process run (fit_command.cpp)
// and the MPI cluster run (cluster_fit.cpp): the parsed options, the job
// prepared from them (model, solver options, input, output layout,
// fingerprint), the output side (result file + journal) and the finish.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/journal.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/result_file.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::app {

struct FitArgs {
  std::string input, output, model;
  io::InputSpec spec;
  std::vector<double> x0_values, diag;
  std::vector<std::string> params;   // --params: the expression terms' parameters, in order
  std::vector<std::string> plugins;  // --model-plugin paths
  double ftol = 1.49012e-8, xtol = 1.49012e-8, gtol = 0.0, epsfcn = 0.0, factor = 100.0;
  int maxfev = 0;
  std::string jacobian = "analytic";
  int threads = 0, chunk_size = 1024;
  bool chunk_size_given = false;  // --chunk-size on the command line: taken as it is
  bool full_output = false, overwrite = false, resume = false;
  std::string compression = "integers";  // of the result datasets: integers, all (gzip) or none
  std::string part;  // --part i/N: a shard of a split run
  std::string summary_json, report_dir;
  double progress_interval = 3.0;
};

// Everything a run needs before it writes anything. Every rank of a cluster
// run prepares the same job (and so checks the input and options itself).
struct FitJob {
  FitArgs args;
  models::Model model;
  batch::BatchOptions options;
  io::InputSpec spec;
  std::unique_ptr<io::ProblemFile> input;
  io::OutputSpec out;
  io::Fingerprint fingerprint;  // what a resume must match
  std::size_t part_first = 0, part_end = 0;  // problems of this run (a --part shard: its range)
  std::string journal_path;
};

// Throws std::invalid_argument / io::Error for bad options and inputs.
FitJob prepare_fit(const FitArgs& args);

// The output side of a run: the result file and its journal.
struct FitOutput {
  io::ResultFile result;
  io::Journal journal;
};

// Creates the output (a fresh run) or rebuilds it from the journal (--resume);
// nullopt when --resume finds the output already complete. Sets
// job.options.first_problem to the first problem left to solve.
std::optional<FitOutput> open_output(FitJob& job);

// Each chunk goes to the journal (durable first) and to the HDF5 output.
// LMBATCH_INJECT_WRITE_FAILURE_AFTER=N makes the write after N chunks fail as
// a full disk would: the fault injection the reliability tests use.
class FileSink final : public batch::ResultSink {
 public:
  explicit FileSink(FitOutput& output) : output_(output) {
    if (const char* n = std::getenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER"))
      fail_after_ = std::strtol(n, nullptr, 10);
  }
  void write(const batch::Chunk& chunk) override;

 private:
  FitOutput& output_;
  long fail_after_ = -1, written_ = 0;
};

// After the run: the end attributes, the rename of the output, the journal's
// removal, the report and the summary (log and --summary-json). For an
// interrupted run: the message saying how to resume, and its exit status.
int finish_fit(FitJob& job, FitOutput& output, const batch::BatchSummary& summary,
               const char* signal_name, int signal_exit_status);

}  // namespace lmbatch::app
