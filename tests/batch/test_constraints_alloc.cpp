// A constrained solve allocates nothing once the per-thread scratch is sized
// (issue #16): fixed and tied parameters (MPFIT's ifree, the tie expressions'
// values and derivatives) and a per-problem mask, on a chunk the way the
// pipeline's solve stage runs it; nor does a chunk in SIMD lanes (issue #19)
// with starts, bounds or a dead channel. Part of lmbatch_alloc_tests (global
// operator new counted).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "batch/solve_problem.hpp"
#include "lmbatch/batch/constraints.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "support/counting_allocator.hpp"

namespace batch = lmbatch::batch;

TEST_CASE("constrained solves allocate nothing once the scratch is sized", "[allocation]") {
  const auto model = lmbatch::models::Model::parse("gaussian*2+constant");
  constexpr int m = 80, n = 7, count = 6;
  batch::Chunk chunk;
  chunk.reserve(count, m, n, false);
  chunk.count = count;
  chunk.x_layout = batch::Layout::shared;
  chunk.x0_layout = batch::Layout::shared;
  chunk.fixed_layout = batch::Layout::per_problem;
  chunk.x0 = {2.5, 29.0, 3.5, 1.8, 52.0, 3.5, 0.4};
  chunk.fixed.assign(count * n, 0.0);
  chunk.fixed[2 * n + 0] = 1.0;  // problem 2 also holds amplitude_1
  for (int i = 0; i < m; ++i) chunk.x.push_back(100.0 * i / (m - 1));
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) {
      const double d1 = (chunk.x[i] - 30.0 - k) / 4.0, d2 = (chunk.x[i] - 51.3 - k) / 4.0;
      chunk.y[k * m + i] = 3.0 * std::exp(-0.5 * d1 * d1) + 2.0 * std::exp(-0.5 * d2 * d2) + 0.5 +
                           0.01 * std::cos(7.0 * i + k);
    }
  batch::BatchOptions options;
  options.fix = "c";
  options.tie = "sigma_2=sigma_1,center_2=center_1+21.3";
  const auto rc =
      batch::resolve_constraints(options.bounds, options.fix, options.tie, model.parameter_names());
  batch::detail::SolverScratch scratch;
  scratch.size_for(m, n);
  // The first solve on a thread sizes the expressions' own scratch.
  batch::detail::solve_problem(model, chunk, 0, scratch, options, rc);

  const long before = allocations_so_far();
  for (int k = 1; k < count; ++k)
    batch::detail::solve_problem(model, chunk, k, scratch, options, rc);
  const long during = allocations_so_far() - before;
  CHECK(during == 0);
  for (int k = 0; k < count; ++k) {
    CHECK(batch::converged(chunk.ier[k]));
    CHECK(chunk.x_out[k * n + 5] == chunk.x_out[k * n + 2]);
  }
  CHECK(chunk.pegged[2 * n + 0] == batch::kPeggedHeld);
}

TEST_CASE("a chunk in SIMD lanes allocates nothing once the thread's scratch is sized",
          "[allocation][lanes]") {
  // solve_chunk as the pipeline's solve stage runs it: every problem in the
  // lanes, with starts, with bounds that bind, with a fixed and a tied
  // parameter (the lanes solve the free ones), with a fixed mask, with a dead
  // channel, under poisson (its covariance in lanes after the solves); the first
  // chunk sizes the thread's scratch, the second must not allocate.
  const auto model = lmbatch::models::Model::parse("gaussian+constant");
  constexpr int m = 64, n = 4, count = 20;
  auto make_chunk = [&](int shift) {
    batch::Chunk chunk;
    chunk.reserve(count, m, n, false);
    chunk.count = count;
    chunk.x0_layout = batch::Layout::shared;
    chunk.x0 = {1.5, 30.0, 3.0, 0.2};
    for (int k = 0; k < count; ++k)
      for (int i = 0; i < m; ++i) {
        const double d = (i - 28.0 - (k + shift) % 9) / (3.0 + 0.1 * k);
        chunk.y[k * m + i] = 2.0 * std::exp(-0.5 * d * d) + 0.1 + 0.01 * std::cos(3.0 * i + k);
      }
    return chunk;
  };
  struct Case {
    const char* name;
    int starts;
    const char *bounds, *fix, *tie;
    bool dead_channel, mask;
    bool poisson = false;  // and the covariance of the whole chunk's rows, W at a time
  };
  for (const Case c :
       {Case{"starts", 3, "", "", "", false, false},
        Case{"bounds", 1, "sigma=1:3.5,c=0.12:1", "", "", false, false},
        Case{"fixed and tied", 1, "sigma=1:3.5", "c", "amplitude=sigma*0.5+c", false, false},
        Case{"fixed mask", 1, "", "", "", false, true},
        Case{"dead channel", 1, "", "", "", true, false},
        Case{"poisson", 1, "", "", "", false, false, true}}) {
    INFO(c.name);
    batch::BatchOptions options;
    options.starts = c.starts;
    options.bounds = c.bounds;
    options.fix = c.fix;
    options.tie = c.tie;
    if (c.poisson) options.loss = batch::Loss::poisson;
    const auto rc = batch::resolve_constraints(options.bounds, options.fix, options.tie,
                                               model.parameter_names());
    batch::Chunk warm = make_chunk(0), chunk = make_chunk(5);
    if (c.dead_channel)
      for (batch::Chunk* ch : {&warm, &chunk})
        for (int k = 0; k < count; ++k) ch->y[k * m + 17] = std::nan("");
    // A fixed mask holding c in every problem but the sixth (which solves
    // alone).
    if (c.mask)
      for (batch::Chunk* ch : {&warm, &chunk}) {
        ch->fixed_layout = batch::Layout::per_problem;
        ch->fixed.assign(count * n, 0.0);
        for (int k = 0; k < count; ++k) ch->fixed[k * n + 3] = k == 5 ? 0.0 : 1.0;
      }
    batch::detail::SolverScratch scratch;
    scratch.size_for(m, n);
    batch::detail::LaneScratch lanes;
    batch::detail::solve_chunk(model, warm, scratch, lanes, options, rc);

    const long before = allocations_so_far();
    batch::detail::solve_chunk(model, chunk, scratch, lanes, options, rc);
    CHECK(allocations_so_far() - before == 0);
    if (lmbatch::simd::lane_width() > 1) CHECK(chunk.lane_problems == count - (c.mask ? 1 : 0));
    for (int k = 0; k < count; ++k) {
      CHECK(batch::converged(chunk.ier[k]));
      if (*c.tie)
        CHECK(chunk.x_out[k * n] == chunk.x_out[k * n + 2] * 0.5 + chunk.x_out[k * n + 3]);
    }
    if (*c.bounds) CHECK(std::count(chunk.pegged.begin(), chunk.pegged.end(), std::int8_t{1}) > 0);
  }
}
