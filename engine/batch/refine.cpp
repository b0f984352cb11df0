// --refine neighbours: refitting each pixel of an image from the solutions of
// its neighbours, as hyperspy's SAMFire (PR #2240) and per-pixel fitting
// tools do by hand, but in passes: each pass reads only the previous pass's
// solutions, so a pixel's result does not depend on the order in which
// pixels are solved, nor on threads, chunks, shards or ranks.
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "solve_problem.hpp"
#include "tsan_annotations.hpp"

namespace lmbatch::batch::detail {
namespace {

bool stopped(const BatchOptions& options) {
  return options.stop_requested && options.stop_requested->load(std::memory_order_relaxed);
}

// Calls per_chunk(chunk, scratch, lane scratch) for every chunk of [lo, hi):
// the source read serially in order, the chunks solved in parallel (the
// engine's pipeline without a writer).
template <class F>
void over_chunks(ProblemSource& source, const models::Model& model, const BatchOptions& options,
                 std::size_t lo, std::size_t hi, int threads, F&& per_chunk) {
  const int m = source.samples(), n = model.n_params();
  const int chunk_size = std::max(1, options.chunk_size);
  std::vector<Chunk> ring(static_cast<std::size_t>(2 * threads));
  for (Chunk& c : ring) c.reserve(chunk_size, m, n, false);
  tbb::enumerable_thread_specific<SolverScratch> scratch;
  tbb::enumerable_thread_specific<LaneScratch> lanes;
  std::size_t next = lo, sequence = 0;
  tbb::task_arena arena(threads);
  // ThreadSanitizer's view of the hand-offs, as in the engine's pipeline
  // (tsan_annotations.hpp): set-up -> stages (&ring), serial read (&sequence),
  // a chunk's stages in turn (the chunk), every solve -> the caller (&done).
  const int done = 0;
  hb_release(&ring);
  auto read = [&](tbb::flow_control& fc) -> Chunk* {
    hb_acquire(&ring);
    const HbSerial serial(&sequence);
    // A stop (SIGINT) ends the passes too; the writing pipeline then stops
    // before its first chunk, so an unfinished pass is never written.
    if (next >= hi || stopped(options)) {
      fc.stop();
      return nullptr;
    }
    Chunk& c = ring[sequence++ % ring.size()];
    const HbSerial slot(&c);
    c.first = next;
    c.count = static_cast<int>(std::min<std::size_t>(chunk_size, hi - next));
    next += static_cast<std::size_t>(c.count);
    source.read(c.first, c.count, c);
    return &c;
  };
  auto solve = [&](Chunk* c) {
    hb_acquire(&ring);
    const HbSerial chunk(c);
    SolverScratch& s = scratch.local();
    s.size_for(m, n);
    per_chunk(*c, s, lanes.local());
    hb_release(&done);
    return c;
  };
  // In order, as the engine's writer: the slot seq % tokens is free when item
  // seq is read only if the items before it are done.
  auto retire = [](Chunk* c) { const HbSerial chunk(c); };
  arena.execute([&] {
    tbb::parallel_pipeline(
        ring.size(), tbb::make_filter<void, Chunk*>(tbb::filter_mode::serial_in_order, read) &
                         tbb::make_filter<Chunk*, Chunk*>(tbb::filter_mode::parallel, solve) &
                         tbb::make_filter<Chunk*, void>(tbb::filter_mode::serial_in_order, retire));
  });
  // After the pipeline every stage happened before, the serial reads too
  // (the last one, which stops the pipeline, solves nothing).
  hb_acquire(&done);
  hb_acquire(&sequence);
  for (const Chunk& c : ring) hb_acquire(&c);
}

}  // namespace

RefineState refine_neighbours(const models::Model& model, ProblemSource& source,
                              const BatchOptions& options, const Seed* seed, std::size_t lo,
                              std::size_t hi, int threads) {
  const int n = model.n_params();
  RefineState prev, next;
  prev.size_for(lo, hi - lo, options.image_width, n);
  next.size_for(lo, hi - lo, options.image_width, n);
  // Pass 0: every problem as without refinement.
  over_chunks(source, model, options, lo, hi, threads,
              [&](Chunk& c, SolverScratch& s, LaneScratch& lanes) {
                solve_chunk(model, c, s, lanes, options, ResolvedConstraints{}, seed);
                for (int k = 0; k < c.count; ++k) capture_solution(c, k, prev);
              });
  // A pass that improves nothing leaves the next pass the same inputs, so
  // stopping there gives the results of all refine_passes passes.
  for (int pass = 1; pass <= options.refine_passes; ++pass) {
    std::atomic<bool> improved{false};
    over_chunks(source, model, options, lo, hi, threads,
                [&](Chunk& c, SolverScratch& s, LaneScratch& lanes) {
                  if (refine_chunk(model, c, s, lanes, options, prev, next))
                    improved.store(true, std::memory_order_relaxed);
                });
    std::swap(prev, next);
    if (!improved.load() || stopped(options)) break;
  }
  return prev;
}

}  // namespace lmbatch::batch::detail
