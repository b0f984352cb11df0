#include "lmbatch/batch/engine.hpp"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "solve_problem.hpp"

namespace lmbatch::batch {
namespace {

using Clock = std::chrono::steady_clock;

void check_options(const BatchOptions& o, int n) {
  if (o.threads < 0) throw std::invalid_argument("threads must be >= 1 (or 0 for every core)");
  if (o.chunk_size < 1) throw std::invalid_argument("chunk_size must be >= 1");
  if (o.tokens < 0) throw std::invalid_argument("tokens must be >= 1 (or 0 for 2 x threads)");
  // The solver's own checks that do not depend on m (m >= n is per problem).
  if (const char* why = o.solver.validate(n, n)) throw std::invalid_argument(why);
}

// nfev histogram: the median without keeping every count (memory stays bounded).
class NfevHistogram {
 public:
  void add(int nfev) {
    const auto k = static_cast<size_t>(std::max(nfev, 0));
    if (k >= counts_.size()) counts_.resize(k + 1);
    ++counts_[k];
    ++total_;
  }
  double median() const {
    if (total_ == 0) return 0.0;
    const size_t lo = (total_ - 1) / 2, hi = total_ / 2;
    return 0.5 * (static_cast<double>(nth(lo)) + static_cast<double>(nth(hi)));
  }

 private:
  size_t nth(size_t rank) const {
    size_t seen = 0;
    for (size_t k = 0; k < counts_.size(); ++k) {
      seen += counts_[k];
      if (seen > rank) return k;
    }
    return counts_.size();
  }
  std::vector<size_t> counts_;
  size_t total_ = 0;
};

}  // namespace

BatchSummary run(const models::Model& model, ProblemSource& source, ResultSink& sink,
                 const BatchOptions& options) {
  const int n = model.n_params();
  check_options(options, n);
  const int m = source.samples();
  const std::size_t total = source.problem_count();
  const int threads = options.threads > 0 ? options.threads : tbb::info::default_concurrency();
  const int tokens = options.tokens > 0 ? options.tokens : 2 * threads;
  const int chunk_size = options.chunk_size;

  // One chunk per token: with an in-order writer, item i and item i + tokens
  // are never in flight together, so the ring index seq % tokens is free.
  std::vector<Chunk> ring(static_cast<size_t>(tokens));
  for (auto& c : ring) c.reserve(chunk_size, m, n, options.full_output);

  tbb::enumerable_thread_specific<detail::SolverScratch> scratch;
  if (options.first_problem > total)
    throw std::invalid_argument("first_problem is past the last problem");
  BatchSummary summary;
  summary.threads = threads;
  NfevHistogram nfev_histogram;
  Progress progress;
  progress.total = total;
  progress.done = options.first_problem;
  const auto start = Clock::now();

  std::size_t next_first = options.first_problem, sequence = 0;
  bool stopped = false;
  auto read_stage = [&](tbb::flow_control& fc) -> Chunk* {
    if (next_first < total && options.stop_requested &&
        options.stop_requested->load(std::memory_order_relaxed))
      stopped = true;
    if (next_first >= total || stopped) {
      fc.stop();
      return nullptr;
    }
    Chunk& c = ring[sequence++ % ring.size()];
    c.first = next_first;
    c.count = static_cast<int>(std::min<std::size_t>(chunk_size, total - next_first));
    next_first += static_cast<std::size_t>(c.count);
    source.read(c.first, c.count, c);
    return &c;
  };
  auto solve_stage = [&](Chunk* c) -> Chunk* {
    detail::SolverScratch& s = scratch.local();
    s.size_for(m, n);
    for (int k = 0; k < c->count; ++k) detail::solve_problem(model, *c, k, s, options);
    return c;
  };
  auto write_stage = [&](Chunk* c) {
    sink.write(*c);
    for (int k = 0; k < c->count; ++k) {
      const int status = c->ier[k];
      ++progress.status_counts[static_cast<size_t>(std::clamp(status, kMinStatus, kMaxStatus) -
                                                   kMinStatus)];
      nfev_histogram.add(c->nfev[k]);
      if (!(status >= 1 && status <= 4) && summary.first_failures.size() < 10)
        summary.first_failures.push_back(c->first + static_cast<std::size_t>(k));
    }
    progress.done += static_cast<std::size_t>(c->count);
    progress.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (options.progress) options.progress(progress);
  };

  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_pipeline(
        static_cast<size_t>(tokens),
        tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order, read_stage) &
            tbb::make_filter<Chunk*, Chunk*>(tbb::filter_mode::parallel, solve_stage) &
            tbb::make_filter<Chunk*, void>(tbb::filter_mode::serial_in_order, write_stage));
  });

  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  summary.problems = progress.done - options.first_problem;
  summary.next_problem = progress.done;
  summary.interrupted = stopped;
  summary.status_counts = progress.status_counts;
  summary.median_nfev = nfev_histogram.median();
  return summary;
}

}  // namespace lmbatch::batch
