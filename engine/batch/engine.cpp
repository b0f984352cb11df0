#include "lmbatch/batch/engine.hpp"

#include "lmbatch/batch/option_fields.hpp"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "solve_problem.hpp"
#include "tsan_annotations.hpp"

namespace lmbatch::batch {
namespace {

using Clock = std::chrono::steady_clock;

std::string shortest(double v) {  // 0.5, 0, -1e-300, nan: as given, not to_string's 0.000000
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void BatchOptions::validate(int n) const {
  if (threads < 0) throw std::invalid_argument("threads must be >= 1 (or 0 for every core)");
  if (chunk_size < 1) throw std::invalid_argument("chunk_size must be >= 1");
  if (tokens < 0) throw std::invalid_argument("tokens must be >= 1 (or 0 for 2 x threads)");
  if (solver.maxfev < 0)
    throw std::invalid_argument("maxfev must be >= 0 (0: 100(n+1) analytic, 200(n+1) forward)");
  if (!(solver.epsfcn >= 0.0))
    throw std::invalid_argument("epsfcn must be >= 0 (0: machine epsilon)");
  if (choice_name(jacobian) == "?") throw std::invalid_argument("jacobian is not a known mode");
  if (choice_name(loss) == "?")
    throw std::invalid_argument("loss is not a known loss (" + choice_list<Loss>() + ")");
  // The residual's scale: u = |f| / f_scale must stay a number.
  if (!(std::isfinite(f_scale) && f_scale > 0.0))
    throw std::invalid_argument("f_scale must be a finite number > 0, not " + shortest(f_scale));
  if (starts < 1 || starts > kMaxStarts)
    throw std::invalid_argument("starts must be between 1 and " + std::to_string(kMaxStarts) +
                                ", not " + std::to_string(starts));
  if (choice_name(x0_from) == "?")
    throw std::invalid_argument("x0_from must be " + choice_list<X0From>());
  if (choice_name(refine) == "?")
    throw std::invalid_argument("refine must be " + choice_list<Refine>());
  if (refine_passes < 1 || refine_passes > 1000)
    throw std::invalid_argument("refine_passes must be between 1 and 1000, not " +
                                std::to_string(refine_passes));
  // Seeding and refinement run the unconstrained solve (solve_problem.cpp
  // refuses them with per-problem constraint datasets too).
  if ((!bounds.empty() || !fix.empty() || !tie.empty()) &&
      (starts > 1 || x0_from != X0From::none || refine != Refine::none))
    throw std::invalid_argument(
        "starts, x0_from and refine do not combine with bounds, fix or tie yet");
  if (!diag.empty() && !solver.diag.empty())
    throw std::invalid_argument("diag is given twice (BatchOptions::diag and solver.diag)");
  if (!diag.empty() && static_cast<int>(diag.size()) != n)
    throw std::invalid_argument("diag has " + std::to_string(diag.size()) +
                                " values; the model has " + std::to_string(n) + " parameters");
  // The solver's own checks that do not depend on m (m >= n is per problem).
  leastsq::Options effective = solver;
  if (!diag.empty()) effective.diag = diag;
  if (const char* why = effective.validate(n, n)) throw std::invalid_argument(why);
}

int balanced_chunk_size(std::size_t problems, int threads, int chunk_size) {
  const auto lanes =
      4 * static_cast<std::size_t>(threads > 0 ? threads : tbb::info::default_concurrency());
  const std::size_t share = std::max<std::size_t>(1, (problems + lanes - 1) / lanes);
  return chunk_size > 0 && share < static_cast<std::size_t>(chunk_size) ? static_cast<int>(share)
                                                                        : chunk_size;
}

void SummaryTally::add(const Chunk& c) {
  lane_problems_ += static_cast<std::size_t>(c.lane_problems);
  for (int k = 0; k < c.count; ++k) {
    const int status = c.ier[static_cast<std::size_t>(k)];
    ++status_counts_[static_cast<std::size_t>(std::clamp(status, kMinStatus, kMaxStatus) -
                                              kMinStatus)];
    const auto nfev = static_cast<std::size_t>(std::max(c.nfev[static_cast<std::size_t>(k)], 0));
    if (nfev >= nfev_counts_.size()) nfev_counts_.resize(nfev + 1);
    ++nfev_counts_[nfev];
    ++nfev_total_;
    if (!converged(status) && first_failures_.size() < 10)
      first_failures_.push_back(c.first + static_cast<std::size_t>(k));
  }
}

void SummaryTally::fill(BatchSummary& summary) const {
  summary.status_counts = status_counts_;
  summary.lane_problems = lane_problems_;
  summary.first_failures = first_failures_;
  std::sort(summary.first_failures.begin(), summary.first_failures.end());
  auto nth = [this](std::size_t rank) {
    std::size_t seen = 0;
    for (std::size_t k = 0; k < nfev_counts_.size(); ++k) {
      seen += nfev_counts_[k];
      if (seen > rank) return k;
    }
    return nfev_counts_.size();
  };
  summary.median_nfev = nfev_total_ == 0 ? 0.0
                                         : 0.5 * (static_cast<double>(nth((nfev_total_ - 1) / 2)) +
                                                  static_cast<double>(nth(nfev_total_ / 2)));
}

namespace {

// One call of run(): the pipeline's shared state and its three stages.
class Pipeline {
 public:
  Pipeline(const models::Model& model, ProblemSource& source, ResultSink& sink,
           const BatchOptions& options)
      : model_(model), source_(source), sink_(sink), options_(options) {
    // The solve points solver.diag at the options' own diag (this copy's).
    if (!options_.diag.empty()) options_.solver.diag = options_.diag;
    n_ = model.n_params();
    m_ = source.samples();
    constraints_ =
        resolve_constraints(options.bounds, options.fix, options.tie, model.parameter_names());
    total_ = source.problem_count();
    threads_ = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
    queue_ = options.work_queue;
    end_ = queue_ ? total_ : std::min(options.end_problem, total_);
    begin_ = queue_ ? 0 : options.first_problem;
    if (begin_ > end_) throw std::invalid_argument("first_problem is past the last problem");
    if (!queue_ && options.range_begin > begin_)
      throw std::invalid_argument("range_begin is past first_problem");
    next_first_ = begin_;
    next_written_ = begin_;
    // One chunk per token: with an in-order writer, item i and item i + tokens
    // are never in flight together, so the ring index seq % tokens is free.
    const int tokens = options.tokens > 0 ? options.tokens : 2 * threads_;
    ring_.resize(static_cast<std::size_t>(tokens));
    for (auto& c : ring_) c.reserve(options.chunk_size, m_, n_, options.full_output);
    const std::size_t range_begin = queue_ ? 0 : options.range_begin;
    progress_.total = end_ - range_begin;
    progress_.done = begin_ - range_begin;
    progress_.done_at_start = progress_.done;
  }

  BatchSummary run() {
    start_ = Clock::now();
    // --x0-from: every process (rank, shard, resumed run) forms and fits the
    // aggregate of the whole input itself, in problem order: the same seed
    // everywhere, so results do not depend on how the problems are shared.
    if (options_.x0_from != X0From::none && total_ > 0 && (queue_ || begin_ < end_))
      seed_ = detail::aggregate_seed(model_, source_, options_);
    if (seed_ && seed_->x0.empty()) seed_.reset();  // stopped: nothing is solved after
    // --refine neighbours: the passes over this process's range and a halo
    // of refine_passes rows (and one pixel) on each side, so that its own
    // pixels see every pixel that can reach them in that many passes: a
    // shard's results are the single run's. A cluster run's ranks each
    // refine the whole input (the queue hands out the final writing pass).
    if (options_.refine == Refine::neighbours && total_ > 0 && (queue_ || begin_ < end_)) {
      const std::size_t w = options_.image_width;
      if (w == 0 || total_ % w != 0)
        throw std::invalid_argument(
            "refine neighbours needs y with two leading dimensions (an image)");
      const std::size_t halo = static_cast<std::size_t>(options_.refine_passes) * (w + 1);
      const std::size_t range_begin = queue_ ? 0 : options_.range_begin;
      const std::size_t lo = queue_ || range_begin < halo ? 0 : range_begin - halo;
      const std::size_t hi = queue_ ? total_ : std::min(total_, end_ + halo);
      refined_ = detail::refine_neighbours(model_, source_, options_, seed_ ? &*seed_ : nullptr, lo,
                                           hi, threads_);
    }
    tbb::task_arena arena(threads_);
    {
      // After the pipeline (also when a stage throws), every stage happened before.
      struct JoinStages {
        const std::vector<Chunk>& ring;
        const void* reads;
        const void* writes;
        ~JoinStages() {
          for (const Chunk& c : ring) detail::hb_acquire(&c);
          detail::hb_acquire(reads);
          detail::hb_acquire(writes);
        }
      } join{ring_, &sequence_, &progress_};
      arena.execute([&] {
        const auto stages =
            tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order,
                                           [this](tbb::flow_control& fc) { return read(fc); }) &
            tbb::make_filter<Chunk*, Chunk*>(tbb::filter_mode::parallel,
                                             [this](Chunk* c) { return solve(c); }) &
            tbb::make_filter<Chunk*, void>(tbb::filter_mode::serial_in_order,
                                           [this](Chunk* c) { write(c); });
        detail::hb_release(&ring_);
        tbb::parallel_pipeline(ring_.size(), stages);
      });
    }
    BatchSummary summary;
    summary.threads = threads_;
    summary.seconds = seconds_since_start();
    summary.problems = progress_.done - progress_.done_at_start;
    summary.next_problem = queue_ ? total_ : next_written_;
    summary.interrupted = stopped_;
    tally_.fill(summary);
    return summary;
  }

 private:
  double seconds_since_start() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

  // The next range [first, first + count), or false when the run is over.
  bool next_range(std::size_t& first, int& count) {
    if (stopped_ || queue_empty_) return false;
    if (options_.stop_requested && options_.stop_requested->load(std::memory_order_relaxed)) {
      stopped_ = queue_ || next_first_ < end_;
      return false;
    }
    if (queue_) {
      if (!queue_->next(first, count)) {
        queue_empty_ = true;
        return false;
      }
      if (count < 1 || count > options_.chunk_size || first > total_ ||
          static_cast<std::size_t>(count) > total_ - first)
        throw std::logic_error("the work queue handed out an invalid range");
      return true;
    }
    if (next_first_ >= end_) return false;
    first = next_first_;
    count = static_cast<int>(std::min<std::size_t>(options_.chunk_size, end_ - next_first_));
    next_first_ += static_cast<std::size_t>(count);
    return true;
  }

  // ThreadSanitizer cannot see how oneTBB orders the stages (tsan_annotations.hpp): each
  // stage acquires the caller's set-up (&ring_), a serial stage follows its previous run
  // (&sequence_, &progress_), and a chunk goes read -> solve -> write -> the read that
  // reuses its slot (&chunk).
  Chunk* read(tbb::flow_control& fc) {
    detail::hb_acquire(&ring_);
    const detail::HbSerial serial(&sequence_);
    std::size_t first = 0;
    int count = 0;
    if (!next_range(first, count)) {
      fc.stop();
      return nullptr;
    }
    Chunk& c = ring_[sequence_++ % ring_.size()];
    const detail::HbSerial slot(&c);
    c.first = first;
    c.count = count;
    source_.read(c.first, c.count, c);
    return &c;
  }

  Chunk* solve(Chunk* c) {
    detail::hb_acquire(&ring_);
    const detail::HbSerial chunk(c);
    detail::SolverScratch& s = scratch_.local();
    s.size_for(m_, n_);
    const detail::Seed* seed = seed_ ? &*seed_ : nullptr;
    const detail::RefineState* refined = refined_ ? &*refined_ : nullptr;
    detail::solve_chunk(model_, *c, s, lanes_.local(), options_, constraints_, seed, refined);
    return c;
  }

  void write(Chunk* c) {
    detail::hb_acquire(&ring_);
    const detail::HbSerial serial(&progress_), chunk(c);
    sink_.write(*c);
    tally_.add(*c);
    next_written_ = c->first + static_cast<std::size_t>(c->count);
    progress_.status_counts = tally_.status_counts();
    progress_.done += static_cast<std::size_t>(c->count);
    progress_.elapsed_seconds = seconds_since_start();
    if (options_.progress) options_.progress(progress_);
  }

  const models::Model& model_;
  ProblemSource& source_;
  ResultSink& sink_;
  BatchOptions options_;  // a copy: solver.diag points at its diag
  ResolvedConstraints constraints_;
  int n_ = 0, m_ = 0, threads_ = 0;
  std::size_t total_ = 0, begin_ = 0, end_ = 0;
  WorkQueue* queue_ = nullptr;
  std::vector<Chunk> ring_;
  tbb::enumerable_thread_specific<detail::SolverScratch> scratch_;
  tbb::enumerable_thread_specific<detail::LaneScratch> lanes_;
  std::optional<detail::Seed> seed_;            // --x0-from's aggregate fit
  std::optional<detail::RefineState> refined_;  // --refine's last pass
  Clock::time_point start_;
  // Read stage.
  std::size_t next_first_ = 0, sequence_ = 0;
  bool stopped_ = false, queue_empty_ = false;
  // Write stage.
  SummaryTally tally_;
  Progress progress_;
  std::size_t next_written_ = 0;
};

}  // namespace

BatchSummary run(const models::Model& model, ProblemSource& source, ResultSink& sink,
                 const BatchOptions& options) {
  options.validate(model.n_params());
  return Pipeline(model, source, sink, options).run();
}

}  // namespace lmbatch::batch
