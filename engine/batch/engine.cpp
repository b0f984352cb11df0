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
#include "tsan_annotations.hpp"

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

}  // namespace

int balanced_chunk_size(std::size_t problems, int threads, int chunk_size) {
  const auto lanes = 4 * static_cast<std::size_t>(threads > 0 ? threads
                                                             : tbb::info::default_concurrency());
  const std::size_t share = std::max<std::size_t>(1, (problems + lanes - 1) / lanes);
  return chunk_size > 0 && share < static_cast<std::size_t>(chunk_size) ? static_cast<int>(share)
                                                                        : chunk_size;
}

void SummaryTally::add(const Chunk& c) {
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
  summary.median_nfev =
      nfev_total_ == 0
          ? 0.0
          : 0.5 * (static_cast<double>(nth((nfev_total_ - 1) / 2)) +
                   static_cast<double>(nth(nfev_total_ / 2)));
}

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
  WorkQueue* const queue = options.work_queue;
  const std::size_t end = queue ? total : std::min(options.end_problem, total);
  const std::size_t begin = queue ? 0 : options.first_problem;
  if (begin > end) throw std::invalid_argument("first_problem is past the last problem");
  BatchSummary summary;
  summary.threads = threads;
  SummaryTally tally;
  Progress progress;
  progress.total = queue ? total : end;
  progress.done = begin;
  const auto start = Clock::now();

  std::size_t next_first = begin, sequence = 0;
  bool stopped = false, queue_empty = false;
  // The next range [first, first + count), or false when the run is over.
  auto next_range = [&](std::size_t& first, int& count) {
    if (stopped || queue_empty) return false;
    if (options.stop_requested && options.stop_requested->load(std::memory_order_relaxed)) {
      stopped = queue || next_first < end;
      return false;
    }
    if (queue) {
      if (!queue->next(first, count)) {
        queue_empty = true;
        return false;
      }
      if (count < 1 || count > chunk_size || first > total ||
          static_cast<std::size_t>(count) > total - first)
        throw std::logic_error("the work queue handed out an invalid range");
      return true;
    }
    if (next_first >= end) return false;
    first = next_first;
    count = static_cast<int>(std::min<std::size_t>(chunk_size, end - next_first));
    next_first += static_cast<std::size_t>(count);
    return true;
  };
  // ThreadSanitizer cannot see how oneTBB orders the stages (tsan_annotations.hpp): each
  // stage acquires the caller's set-up (&ring), a serial stage follows its previous run
  // (&sequence, &progress), and a chunk goes read -> solve -> write -> the read that
  // reuses its slot (&chunk).
  auto read_stage = [&](tbb::flow_control& fc) -> Chunk* {
    detail::hb_acquire(&ring);
    const detail::HbSerial serial(&sequence);
    std::size_t first = 0;
    int count = 0;
    if (!next_range(first, count)) {
      fc.stop();
      return nullptr;
    }
    Chunk& c = ring[sequence++ % ring.size()];
    const detail::HbSerial slot(&c);
    c.first = first;
    c.count = count;
    source.read(c.first, c.count, c);
    return &c;
  };
  auto solve_stage = [&](Chunk* c) -> Chunk* {
    detail::hb_acquire(&ring);
    const detail::HbSerial chunk(c);
    detail::SolverScratch& s = scratch.local();
    s.size_for(m, n);
    for (int k = 0; k < c->count; ++k) detail::solve_problem(model, *c, k, s, options);
    return c;
  };
  auto write_stage = [&](Chunk* c) {
    detail::hb_acquire(&ring);
    const detail::HbSerial serial(&progress), chunk(c);
    sink.write(*c);
    tally.add(*c);
    progress.status_counts = tally.status_counts();
    progress.done += static_cast<std::size_t>(c->count);
    progress.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (options.progress) options.progress(progress);
  };

  tbb::task_arena arena(threads);
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
    } join{ring, &sequence, &progress};
    arena.execute([&] {
      const auto stages =
          tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order, read_stage) &
          tbb::make_filter<Chunk*, Chunk*>(tbb::filter_mode::parallel, solve_stage) &
          tbb::make_filter<Chunk*, void>(tbb::filter_mode::serial_in_order, write_stage);
      detail::hb_release(&ring);
      tbb::parallel_pipeline(static_cast<size_t>(tokens), stages);
    });
  }

  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  summary.problems = progress.done - begin;
  summary.next_problem = queue ? total : progress.done;
  summary.interrupted = stopped;
  tally.fill(summary);
  return summary;
}

}  // namespace lmbatch::batch
