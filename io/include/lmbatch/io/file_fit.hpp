// The file-to-file fit: what `lmbatch fit IN -o OUT`, its MPI cluster mode
// and Python's lmbatch.fit_file all run. In steps, so that the cluster mode
// can put its ranks between them:
//
//   prepare_fit   model (plugins loaded), options checked, input opened and
//                 checked, output layout, fingerprint, --part range
//   open_output   the result file (.partial) and its journal; with --resume
//                 the journal's records replayed into a new .partial
//   FileSink      each finished chunk to the journal (first), then
//                 to the HDF5 output; tallies the whole output's summary
//   finish_fit    end attributes, rename to the real name, journal removed
//
// run_file_fit does all four for a single process. Nothing here logs: what a
// person should read goes to the caller's FitLog (the command logs it with
// spdlog, Python drops it), so the words are the same everywhere.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/journal.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/result_file.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::io {

// Everything a file-to-file fit takes: the command line's options and
// fit_file's keywords, one struct. The solver and engine options are
// batch.solver & co. (their list: batch/option_fields.hpp).
struct FileFitOptions {
  InputSpec input;                   // the input file and its datasets (--y, --x, --sigma, --x0)
  std::string output;                // the result file
  std::string model;                 // --model; may be empty when plugins are given (their sum)
  std::vector<std::string> params;   // --params: the expression terms' parameters, in order
  std::vector<std::string> plugins;  // --model-plugin paths (loading runs their code)
  std::vector<double> x0_values;     // --x0-values: starting values for every problem
  batch::BatchOptions batch;         // solver and engine options
  // Without an explicit chunk size, chunks of at most problems / (4 x
  // threads) (batch::balanced_chunk_size), so a small run uses every thread.
  bool chunk_size_given = false;
  Compression compression = Compression::integers;
  std::string part;        // --part i/N: a shard of a split run (empty: the whole file)
  bool overwrite = false;  // replace an existing output (and discard its journal)
  bool resume = false;     // finish an interrupted run from its journal
};

// Where the run's messages go: the command logs them, Python drops them.
struct FitLog {
  std::function<void(const std::string&)> info, warn;
  void say(const std::string& text) const {
    if (info) info(text);
  }
  void caution(const std::string& text) const {
    if (warn) warn(text);
  }
};

// Everything a run needs before it writes anything. Every rank of a cluster
// run prepares the same job (and so checks the input and options itself).
struct FitJob {
  FileFitOptions options;
  models::Model model;
  std::unique_ptr<ProblemFile> input;
  OutputSpec out;
  Fingerprint fingerprint;                   // what a resume must match
  std::size_t part_first = 0, part_end = 0;  // problems of this run (a --part shard: its range)
  std::string journal_path;
};

// Throws std::invalid_argument / io::Error for bad options and inputs.
FitJob prepare_fit(const FileFitOptions& options, const FitLog& log = {});

// The output side of a run: the result file, its journal and the tally of
// what they hold.
struct FitOutput {
  ResultFile result;
  Journal journal;
  batch::SummaryTally whole;  // every chunk in the output (a resume's replayed ones too)
  std::size_t recovered = 0;  // problems replayed from the journal (a resume)
};

// Creates the output (a fresh run) or rebuilds it from the journal (resume);
// nullopt when resume finds the output already complete. Sets
// job.options.batch.first_problem to the first problem left to solve.
std::optional<FitOutput> open_output(FitJob& job, const FitLog& log = {});

// Each chunk goes to the journal (first) and to the HDF5 output.
// LMBATCH_INJECT_WRITE_FAILURE_AFTER=N makes the write after N chunks fail as
// a full disk would: the fault injection the reliability tests use.
class FileSink final : public batch::ResultSink {
 public:
  explicit FileSink(FitOutput& output);
  void write(const batch::Chunk& chunk) override;

 private:
  FitOutput& output_;
  long fail_after_ = -1, written_ = 0;
};

// What a finished (or interrupted) run reports.
struct FitOutcome {
  std::string model;                              // the model's canonical specification
  std::vector<unsigned long long> leading_shape;  // of the input's y: the problems
  batch::BatchSummary session;  // this session: problems solved now, seconds, rate
  batch::BatchSummary whole;    // the whole output: status counts, median nfev, failures
  std::size_t recovered = 0;    // problems a resume took from the journal
  bool complete = false;        // the output is finished under its real name
  bool nothing_to_do = false;   // resume found the output already complete
};

// After the run: for a complete run the end attributes, the rename of the
// output and the journal's removal; for an interrupted one nothing (the
// journal stays for --resume). Fills the outcome's whole-output summary.
FitOutcome finish_fit(FitJob& job, FitOutput& output, const batch::BatchSummary& session);

// What run_file_fit lets its caller see and steer.
struct FitHooks {
  FitLog log;
  batch::ProgressCallback progress;                   // from the writer stage
  const std::atomic<bool>* stop_requested = nullptr;  // e.g. set by a SIGINT handler
};

// The pipeline over FileSink, then finish_fit, for a prepared job and its
// opened output (chunks balanced unless chunk_size_given).
FitOutcome run_fit(FitJob& job, FitOutput& output, const FitHooks& hooks = {});

// prepare_fit, open_output and run_fit: the whole single-process run.
FitOutcome run_file_fit(const FileFitOptions& options, const FitHooks& hooks = {});

}  // namespace lmbatch::io
