// The batch engine: a oneTBB pipeline that reads chunks of problems in order
// from a ProblemSource, solves each problem with MINPACK's LM on a per-thread
// workspace, and hands finished chunks in order to a ResultSink.
//
//   serial in-order read -> parallel solve (one chunk per task) -> serial in-order write
//
// At most `tokens` chunks are in flight, so memory is bounded by
// tokens x chunk_size problems whatever the number of problems. Each problem's
// result depends on its own data only, so results are bit-identical for any
// thread count. The engine knows no file format and does no logging: progress
// goes to a callback, errors propagate as exceptions from the source or sink.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/batch/loss.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "lmbatch/models/model.hpp"

namespace lmbatch::batch {

// Where problems come from. read() is called from one thread at a time, in
// order of `first`.
class ProblemSource {
 public:
  virtual ~ProblemSource() = default;
  virtual std::size_t problem_count() const = 0;
  virtual int samples() const = 0;  // m
  // Fills chunk.y (count x m) and the x, sigma, x0 inputs with their layouts.
  virtual void read(std::size_t first, int count, Chunk& chunk) = 0;
};

// Where results go. write() is called from one thread at a time, in order.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void write(const Chunk& chunk) = 0;
};

// Statuses reported per problem: leastsq's -2..8 plus the engine's -3, -5 and -6
// (-4, never written, is never reported by a solve).
inline constexpr int kMinStatus = -6;
inline constexpr int kMaxStatus = 8;
using StatusCounts = std::array<std::size_t, kMaxStatus - kMinStatus + 1>;

// The most starts per problem: /start's codes 10 + k stay an int8.
inline constexpr int kMaxStarts = 100;

// Where the read stage takes its next range of problems from when ranges are
// handed out from outside the process (cluster mode: a shared work queue
// across MPI ranks). next() is called from one thread at a time; it sets
// [first, first + count) with 1 <= count <= the run's chunk_size, or returns
// false when there is no more work for this process.
class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  virtual bool next(std::size_t& first, int& count) = 0;
};

struct Progress {
  std::size_t done = 0;   // problems of the run written so far (resumed ones included)
  std::size_t total = 0;  // problems in the run
  // Of `done`, the problems written before this call (a resumed run's): the
  // rate and the ETA are this call's, (done - done_at_start) / elapsed.
  std::size_t done_at_start = 0;
  double elapsed_seconds = 0.0;  // since this call started
  StatusCounts status_counts{};  // index: status - kMinStatus
};
using ProgressCallback = std::function<void(const Progress&)>;

enum class JacobianMode : std::uint8_t {
  analytic,  // the model's Jacobian: MINPACK lmder
  forward,   // forward differences: MINPACK lmdif (epsfcn applies)
};

// Where every problem starts from besides its own estimate (--x0-from): the
// fit of an aggregate spectrum of the whole input (batch/seeding.cpp).
enum class X0From : std::uint8_t { none, mean, sum, median };

// After the first pass, refit each pixel of an image from its neighbours'
// solutions (--refine neighbours; batch/refine.cpp).
enum class Refine : std::uint8_t { none, neighbours };

// Whether problems of one shape are solved side by side in SIMD lanes
// (leastsq/lanes.hpp; --simd): the same bits either way.
enum class Simd : std::uint8_t { off, automatic };

// Problems per pipeline item unless BatchOptions::chunk_size says otherwise;
// the result files' storage chunks hold at most as many (io/result_file.cpp).
inline constexpr int kDefaultChunkSize = 1024;

// The options of a batch run. The user-facing ones, with their names and
// help, are listed once in option_fields.hpp (the CLI, Python and the run's
// record walk that list); their defaults are scipy's.
struct BatchOptions {
  leastsq::Options solver{};  // scipy's defaults (solver.diag: see diag)
  // n positive scale factors (MINPACK mode 2), or empty: automatic (mode 1).
  // Owned here; the solve points solver.diag at it.
  std::vector<double> diag;
  JacobianMode jacobian = JacobianMode::analytic;
  // A robust loss rho on ((y - f) / sigma / f_scale)^2, scipy least_squares'
  // loss= and f_scale= (loss.hpp); linear: plain least squares.
  Loss loss = Loss::linear;
  double f_scale = 1.0;
  // Starts per problem: the first from the estimate (or x0, or x0_from's
  // seed), the others seeded perturbations of it; the lowest cost is kept
  // (ties: the earliest). 1: today's single start.
  int starts = 1;
  // none: each problem's own estimate (or x0). mean, sum, median: first fit
  // that aggregate of every problem's y, then start each problem from it with
  // its intensity-proportional parameters scaled to the problem's intensity.
  X0From x0_from = X0From::none;
  // neighbours: for y of two leading dimensions (an image), refit each pixel
  // from the solutions of its 8 neighbours whose cost per sample is lower,
  // keeping the lower cost; at most refine_passes passes, each reading only
  // the previous pass's results.
  Refine refine = Refine::none;
  int refine_passes = 3;
  // The image's width (the last of y's two leading dimensions), set by the
  // front ends from the input's shape; 0: not an image.
  std::size_t image_width = 0;
  bool full_output = false;  // also fvec, fjac, ipvt, qtf
  // Constraints by parameter name (constraints.hpp): "sigma=0:inf,center_2=50:80",
  // "sigma=1.5,c", "sigma_2=sigma_1"; empty: none.
  std::string bounds, fix, tie;
  int threads = 0;                     // worker threads; 0 = every core (negative: an error)
  int chunk_size = kDefaultChunkSize;  // problems per pipeline item
  Simd simd = Simd::automatic;
  int tokens = 0;             // chunks in flight; 0 = 2 x threads
  ProgressCallback progress;  // called from the writer stage after each chunk
  // Problems before first_problem are taken as done (a resumed run); the
  // pipeline reads, solves and writes [first_problem, end_problem), where
  // end_problem is capped at problem_count (a --part shard sets both).
  // range_begin <= first_problem is where the run's whole range starts (a
  // shard's first problem): progress counts [range_begin, end_problem).
  std::size_t range_begin = 0;
  std::size_t first_problem = 0;
  std::size_t end_problem = static_cast<std::size_t>(-1);
  // When set, the ranges come from this queue instead (first_problem and
  // end_problem are then ignored), and the sink receives chunks in the order
  // the queue handed them out.
  WorkQueue* work_queue = nullptr;
  // When set (e.g. by a SIGINT handler), no new chunk is read; the chunks in
  // flight are solved and written, then run() returns with interrupted = true.
  const std::atomic<bool>* stop_requested = nullptr;

  // Throws std::invalid_argument naming the option for a bad value (for a
  // model of n parameters): one check for the CLI, Python and batch::fit.
  void validate(int n) const;
};

struct BatchSummary {
  std::size_t problems = 0;  // problems solved and written by this run
  // The first problem not written: problem_count, unless interrupted.
  std::size_t next_problem = 0;
  bool interrupted = false;
  double seconds = 0.0;
  int threads = 0;
  StatusCounts status_counts{};
  double median_nfev = 0.0;
  // Of the problems, how many this process solved in SIMD lanes (--simd
  // auto), simd::lane_width() at a time.
  std::size_t lane_problems = 0;
  // Up to 10 problems that did not converge (status outside 1..4), lowest index first.
  std::vector<std::size_t> first_failures;
  std::size_t count(int status) const { return status_counts[status - kMinStatus]; }
};

// Tallies written chunks into a summary's statistics (status counts, median
// nfev, first failures) in bounded memory: what run() reports, and what a
// cluster run's writing rank reports for all ranks.
class SummaryTally {
 public:
  void add(const Chunk& chunk);
  const StatusCounts& status_counts() const { return status_counts_; }
  // Copies the statistics into summary (status_counts, median_nfev, first_failures).
  void fill(BatchSummary& summary) const;

 private:
  StatusCounts status_counts_{};
  std::vector<std::size_t> nfev_counts_;  // histogram: the median without every count
  std::size_t nfev_total_ = 0;
  std::size_t lane_problems_ = 0;
  std::vector<std::size_t> first_failures_;
};

// A chunk is the pipeline's unit of parallel work: a run of fewer problems
// than threads x chunk_size leaves threads idle (1000 problems in one
// 1024-problem chunk run on one thread). This caps chunk_size at
// ceil(problems / (4 x threads)), at least 1 (threads 0: every core); each
// problem is solved alone, so the results are the same bits.
int balanced_chunk_size(std::size_t problems, int threads, int chunk_size);

// Runs the pipeline over every problem of `source`. Throws what the source or
// sink throw (the run stops; chunks already written stay written), and
// std::invalid_argument for invalid options.
BatchSummary run(const models::Model& model, ProblemSource& source, ResultSink& sink,
                 const BatchOptions& options);

// ---- the library call on in-memory arrays ----

// Inputs as spans over the caller's memory (row-major, problems first).
struct ArrayInput {
  std::span<const double> y;  // count x m
  std::size_t count = 0;
  int m = 0;
  // Empty (0..m-1), m x d (shared) or count x m x d, row-major: sample i of a
  // problem holds its d predictors x1..xd at [i*d, i*d + d) (d = predictors).
  std::span<const double> x;
  int predictors = 1;             // d: 1 for a plain x; >= 2 for expression models over x1..xd
  std::span<const double> sigma;  // empty (1), m (shared) or count x m
  std::span<const double> x0;     // empty (model's estimate), n (shared) or count x n
  // Per-problem constraints, laid out like x0 (empty, n or count x n):
  // bounds (NaN or +-inf: none) and a mask (non-zero: held at its start).
  std::span<const double> lower{}, upper{}, fixed{};
  // For --refine neighbours: the problems are the row-major pixels of an
  // image this wide (0: not an image).
  std::size_t image_width = 0;
};

// Results, one entry (or row) per problem.
struct ArrayResult {
  int n = 0;
  std::vector<double> x;          // count x n
  std::vector<double> cov_x;      // count x n x n (NaN where scipy returns None)
  std::vector<double> cost;       // count
  std::vector<double> std_error;  // count x n: sqrt(diag(cov_x) * cost / (m_valid - n)), or NaN
  std::vector<std::int32_t> nfev, njev, m_valid;
  std::vector<std::int16_t> ier;
  std::vector<std::int8_t> pegged;  // count x n: -1 lower, +1 upper, 0 free, 2 fixed or tied
  std::vector<std::int8_t> start;   // where the kept solution started (StartCode)
  // With full_output: fvec (count x m), fjac (count x n x m), ipvt (count x n), qtf (count x n).
  std::vector<double> fvec, fjac, qtf;
  std::vector<std::int32_t> ipvt;
  BatchSummary summary;
};

// The same engine as `lmbatch fit`, on arrays. Throws std::invalid_argument
// for inconsistent sizes or invalid inputs (naming the problem index). Chunks
// are capped at count / (4 x threads) problems, so that a small call still runs
// on every thread.
ArrayResult fit(const models::Model& model, const ArrayInput& input,
                const BatchOptions& options = {});

}  // namespace lmbatch::batch
