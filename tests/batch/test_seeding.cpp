// Where problems start: --starts (seeded perturbations, the lowest cost kept)
// and --x0-from (the aggregate spectrum's fit, scaled to each problem). The
// quality measure is the issue's: the share of problems whose cost is at (or
// below) the cost a fit started at the truth reaches.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "../support/results.hpp"
#include "../support/spectra.hpp"
#include "batch/solve_problem.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/simd/lanes.hpp"

namespace batch = lmbatch::batch;
namespace test = lmbatch::test;
using lmbatch::models::Model;
using lmbatch::test::same_bits;

namespace {

// count gaussian+constant spectra of 64 samples with Gaussian noise; with
// same_shape, one centre and width for all and the baseline a tenth of the
// amplitude (so that scaling one start fits every problem).
test::Spectra cube_of(std::size_t count, double noise, bool same_shape, unsigned seed) {
  return test::gaussian_spectra(count, 64, seed, noise,
                                [same_shape](std::size_t, test::Uniform& u) {
                                  const double a = 1.0 + u();
                                  const double c = same_shape ? 30.0 : 20.0 + 20.0 * u();
                                  const double s = same_shape ? 3.0 : 2.0 + 2.0 * u();
                                  const double b = same_shape ? 0.1 * a : 0.1 * u();
                                  return test::Peak{a, c, s, b};
                                });
}

// The cost each problem reaches from its truth.
std::vector<double> truth_cost(const test::Spectra& cube, const Model& model) {
  batch::ArrayInput in = cube.input();
  in.x0 = cube.truth;
  return batch::fit(model, in).cost;
}

// The share of problems at the from-truth optimum (relative 1e-6, or lower).
double share_at_optimum(const std::vector<double>& cost, const std::vector<double>& best) {
  std::size_t at = 0;
  for (std::size_t k = 0; k < cost.size(); ++k)
    if (cost[k] <= best[k] * (1.0 + 1e-6)) ++at;
  return static_cast<double>(at) / static_cast<double>(cost.size());
}

}  // namespace

TEST_CASE("starts: the lowest cost of seeded perturbations is kept, start 0 is the plain run",
          "[batch][seeding]") {
  const Model model = Model::parse("gaussian+constant");
  const auto cube = cube_of(300, 0.02, false, 11);
  // A bad shared start: a narrow peak left of every true one.
  const std::vector<double> bad{1.0, 12.0, 1.5, 0.0};
  batch::ArrayInput in = cube.input();
  in.x0 = bad;
  batch::BatchOptions one;
  const batch::ArrayResult plain = batch::fit(model, in, one);
  batch::BatchOptions many;
  many.starts = 16;
  const batch::ArrayResult r = batch::fit(model, in, many);
  const std::vector<double> best = truth_cost(cube, model);
  const double before = share_at_optimum(plain.cost, best);
  const double after = share_at_optimum(r.cost, best);
  INFO("share at the from-truth optimum: " << before << " from the bad x0, " << after
                                           << " with 16 starts");
  CHECK(before < 0.5);
  CHECK(after > before + 0.3);
  std::size_t perturbed_won = 0;
  for (std::size_t k = 0; k < cube.count; ++k) {
    // Start 0 is the single start's run: the kept cost is never higher.
    CHECK(r.cost[k] <= plain.cost[k]);
    CHECK(plain.start[k] == 1);  // given x0
    if (r.start[k] == 1) CHECK(r.cost[k] == plain.cost[k]);
    CHECK((r.start[k] == 1 || (r.start[k] >= 11 && r.start[k] < 26)));
    if (r.start[k] >= 11) ++perturbed_won;
  }
  CHECK(perturbed_won > 0);
}

TEST_CASE("starts and x0_from give the same bits for any threads and chunking",
          "[batch][seeding]") {
  const Model model = Model::parse("gaussian+constant");
  const auto cube = cube_of(257, 0.3, true, 5);
  for (batch::X0From from : {batch::X0From::none, batch::X0From::mean, batch::X0From::median}) {
    batch::BatchOptions base;
    base.starts = 3;
    base.x0_from = from;
    base.threads = 1;
    base.chunk_size = 1024;
    const batch::ArrayResult ref = batch::fit(model, cube.input(), base);
    for (int chunk : {1, 7, 64}) {
      batch::BatchOptions o = base;
      o.threads = 2;
      o.chunk_size = chunk;
      const batch::ArrayResult r = batch::fit(model, cube.input(), o);
      CHECK(same_bits(r.x, ref.x));
      CHECK(same_bits(r.cost, ref.cost));
      CHECK(r.start == ref.start);
      CHECK(r.nfev == ref.nfev);
    }
  }
}

TEST_CASE("x0_from mean starts every problem from the mean's fit, scaled to its intensity",
          "[batch][seeding]") {
  // Noise-free spectra that are each a multiple of one spectrum: the mean's
  // fit is the shape, and each problem's scaled start is its own truth.
  const Model model = Model::parse("gaussian+constant");
  const int m = 64;
  const std::vector<double> shape{2.0, 27.5, 4.0, 0.3};
  const std::vector<double> scale{0.5, 1.0, 3.0, 7.25};
  std::vector<double> y;
  for (double a : scale)
    for (int i = 0; i < m; ++i) {
      const double d = (i - shape[1]) / shape[2];
      y.push_back(a * (shape[0] * std::exp(-0.5 * d * d) + shape[3]));
    }
  batch::ArrayInput in;
  in.y = y;
  in.count = scale.size();
  in.m = m;
  for (batch::X0From from : {batch::X0From::mean, batch::X0From::sum, batch::X0From::median}) {
    batch::BatchOptions o;
    o.x0_from = from;
    // Three evaluations: enough to stay at an optimum it starts at, too few to
    // reach it from the problem's own estimate (the start tried after the seed).
    o.solver.maxfev = 3;
    const batch::ArrayResult r = batch::fit(model, in, o);
    for (std::size_t k = 0; k < scale.size(); ++k) {
      CHECK(r.start[k] == 2);
      CHECK(r.x[4 * k + 0] == Approx(scale[k] * shape[0]).epsilon(1e-9));
      CHECK(r.x[4 * k + 1] == Approx(shape[1]).epsilon(1e-9));
      CHECK(std::abs(r.x[4 * k + 2]) == Approx(shape[2]).epsilon(1e-9));
      CHECK(r.x[4 * k + 3] == Approx(scale[k] * shape[3]).epsilon(1e-9));
    }
  }
}

TEST_CASE("x0_from mean rescues problems whose own estimate is poor", "[batch][seeding]") {
  // Low signal to noise: each problem's estimate follows its noise, while the
  // mean of 400 problems shows the peak clearly.
  const Model model = Model::parse("gaussian+constant");
  const auto cube = cube_of(400, 0.6, true, 3);
  const std::vector<double> best = truth_cost(cube, model);
  const batch::ArrayResult own = batch::fit(model, cube.input());
  batch::BatchOptions o;
  o.x0_from = batch::X0From::mean;
  const batch::ArrayResult seeded = batch::fit(model, cube.input(), o);
  const double before = share_at_optimum(own.cost, best);
  const double after = share_at_optimum(seeded.cost, best);
  INFO("share at the from-truth optimum: " << before << " from the estimate, " << after
                                           << " from the mean");
  CHECK(before < 0.95);
  CHECK(after >= 0.99);
  CHECK(after > before);
  std::size_t from_mean = 0;
  for (std::size_t k = 0; k < cube.count; ++k) {
    CHECK(own.start[k] == 0);
    // The seed first, the problem's own estimate last: never a higher cost.
    CHECK((seeded.start[k] == 2 || seeded.start[k] == 0));
    CHECK_FALSE(seeded.cost[k] > own.cost[k]);  // own.cost may be NaN (ier -2)
    from_mean += seeded.start[k] == 2;
  }
  CHECK(from_mean > cube.count / 2);
}

TEST_CASE("starts and x0_from reject what they cannot do", "[batch][seeding]") {
  const Model model = Model::parse("gaussian+constant");
  const auto cube = cube_of(8, 0.02, true, 1);
  batch::BatchOptions o;
  o.starts = 0;
  CHECK_THROWS_WITH(batch::fit(model, cube.input(), o), Catch::Contains("starts"));
  o.starts = batch::kMaxStarts + 1;
  CHECK_THROWS_WITH(batch::fit(model, cube.input(), o), Catch::Contains("starts"));
  o = {};
  o.x0_from = batch::X0From::mean;
  batch::ArrayInput in = cube.input();
  const std::vector<double> x0{1.0, 30.0, 3.0, 0.0};
  in.x0 = x0;
  CHECK_THROWS_WITH(batch::fit(model, in, o), Catch::Contains("x0_from mean and x0"));
  in.x0 = {};
  std::vector<double> x(cube.count * static_cast<std::size_t>(cube.m));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 64);
  in.x = x;
  CHECK_THROWS_WITH(batch::fit(model, in, o), Catch::Contains("one x for every problem"));
}

namespace {

// An image of two overlapping gaussians on a constant, the same bands in every
// pixel with varying heights: the estimate often puts both on one band.
struct TwoBandImage {
  int m = 96;
  std::size_t height = 24, width = 20;
  std::vector<double> y, truth;
  explicit TwoBandImage(unsigned seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> e(0.0, 0.08);
    for (std::size_t k = 0; k < height * width; ++k) {
      const double a1 = 0.5 + u(rng), a2 = (0.2 + 0.8 * u(rng)) * a1;
      const double p[7] = {a1, 40.0 + u(rng), 5.0, a2, 52.0 + u(rng), 6.0, 0.1};
      truth.insert(truth.end(), p, p + 7);
      for (int i = 0; i < m; ++i) {
        const double d1 = (i - p[1]) / p[2], d2 = (i - p[4]) / p[5];
        y.push_back(p[0] * std::exp(-0.5 * d1 * d1) + p[3] * std::exp(-0.5 * d2 * d2) + p[6] +
                    e(rng));
      }
    }
  }
  batch::ArrayInput input() const {
    batch::ArrayInput in;
    in.y = y;
    in.count = height * width;
    in.m = m;
    in.image_width = width;
    return in;
  }
};

}  // namespace

TEST_CASE("refine neighbours lifts pixels to their neighbours' minimum, the same bits anyhow",
          "[batch][seeding][refine]") {
  const Model model = Model::parse("gaussian*2+constant");
  const TwoBandImage image(9);
  batch::ArrayInput from_truth = image.input();
  from_truth.x0 = image.truth;
  const std::vector<double> best = batch::fit(model, from_truth).cost;
  const batch::ArrayResult plain = batch::fit(model, image.input());
  batch::BatchOptions o;
  o.refine = batch::Refine::neighbours;
  o.refine_passes = 4;
  o.threads = 1;
  const batch::ArrayResult r = batch::fit(model, image.input(), o);
  const double before = share_at_optimum(plain.cost, best);
  const double after = share_at_optimum(r.cost, best);
  INFO("share at the from-truth optimum: " << before << " without, " << after << " refined");
  CHECK(before < 0.98);
  CHECK(after > before);
  std::size_t refined = 0;
  for (std::size_t k = 0; k < plain.cost.size(); ++k) {
    CHECK_FALSE(r.cost[k] > plain.cost[k]);  // a refinement only ever lowers the cost
    if (r.start[k] == 3) {
      ++refined;
      CHECK(r.cost[k] < plain.cost[k]);
    } else {
      CHECK(r.start[k] == 0);
      CHECK(std::memcmp(&r.cost[k], &plain.cost[k], sizeof(double)) == 0);
    }
  }
  CHECK(refined > 0);
  for (int chunk : {1, 13}) {
    batch::BatchOptions p = o;
    p.threads = 2;
    p.chunk_size = chunk;
    const batch::ArrayResult again = batch::fit(model, image.input(), p);
    CHECK(same_bits(again.x, r.x));
    CHECK(same_bits(again.cov_x, r.cov_x));
    CHECK(again.start == r.start);
  }
  // --simd off solves every fit one at a time: pass 0, each refit from a
  // neighbour, and the last pass from the kept refits (with --x0-from's and
  // --starts' starts too) give its bits in the lanes, whose refits finish
  // in any order.
  for (const int starts : {1, 3}) {
    batch::BatchOptions on = o, off = o;
    on.starts = off.starts = starts;
    on.x0_from = off.x0_from = starts == 1 ? batch::X0From::none : batch::X0From::mean;
    on.full_output = off.full_output = true;
    on.threads = 2;
    on.chunk_size = 7;
    off.simd = batch::Simd::off;
    INFO(starts << " starts");
    const batch::ArrayResult lanes = batch::fit(model, image.input(), on);
    lmbatch::test::check_same_results(lanes, batch::fit(model, image.input(), off));
    if (lmbatch::simd::lane_width() > 1) CHECK(lanes.summary.lane_problems > 0);
  }
  // Not an image: refused, naming the option.
  batch::ArrayInput flat = image.input();
  flat.image_width = 0;
  CHECK_THROWS_WITH(batch::fit(model, flat, o), Catch::Contains("refine neighbours"));
}

TEST_CASE("a stop before the aggregate and the passes solves and writes nothing",
          "[batch][seeding][refine]") {
  // The aggregate's read and the refinement passes give up at a stop; the
  // writing pipeline then stops before its first chunk.
  const Model model = Model::parse("gaussian*2+constant");
  const TwoBandImage image(4);
  std::atomic<bool> stop{true};
  batch::BatchOptions o;
  o.x0_from = batch::X0From::mean;
  o.refine = batch::Refine::neighbours;
  o.stop_requested = &stop;
  const batch::ArrayResult r = batch::fit(model, image.input(), o);
  CHECK(r.summary.interrupted);
  CHECK(r.summary.problems == 0);
  CHECK(r.summary.next_problem == 0);
}

namespace {

// The image's pixels with a per-problem lower bound on the first amplitude,
// counting the chunks read.
class BoundedImageSource final : public batch::ProblemSource {
 public:
  explicit BoundedImageSource(const TwoBandImage& image) : image_(image) {}
  std::size_t problem_count() const override { return image_.height * image_.width; }
  int samples() const override { return image_.m; }
  void read(std::size_t first, int count, batch::Chunk& c) override {
    ++reads;
    const auto m = static_cast<std::size_t>(image_.m), rows = static_cast<std::size_t>(count);
    std::copy_n(image_.y.begin() + static_cast<std::ptrdiff_t>(first * m), rows * m, c.y.begin());
    c.lower_layout = batch::Layout::per_problem;
    c.lower.assign(rows * 7, std::nan(""));
    for (std::size_t k = 0; k < rows; ++k) c.lower[k * 7] = 0.0;
  }
  int reads = 0;

 private:
  const TwoBandImage& image_;
};

class NullSink final : public batch::ResultSink {
 public:
  void write(const batch::Chunk&) override {}
};

}  // namespace

TEST_CASE("per-problem bounds with starts or refine are refused at the first chunk",
          "[batch][seeding][refine]") {
  // Seeding and refinement run the unconstrained solve. Per-problem bounds
  // are known only from a chunk, and --refine used to fit every pass
  // unconstrained before the writing pass refused them.
  const Model model = Model::parse("gaussian*2+constant");
  const TwoBandImage image(5);
  for (const bool refine : {true, false}) {
    batch::BatchOptions o;
    o.threads = 1;
    o.chunk_size = static_cast<int>(image.width);  // one image row per chunk: 24 chunks
    o.image_width = image.width;
    if (refine)
      o.refine = batch::Refine::neighbours;
    else
      o.starts = 3;
    BoundedImageSource source(image);
    NullSink sink;
    INFO((refine ? "refine" : "starts"));
    CHECK_THROWS_WITH(batch::run(model, source, sink, o),
                      Catch::Contains("do not combine with constraints"));
    // One chunk per token at most is read before the first solve refuses.
    CHECK(source.reads >= 1);
    CHECK(source.reads <= 2);
  }
}

TEST_CASE("refine neighbours refits no pixel that no start can solve", "[batch][seeding][refine]") {
  // A 3 x 3 image whose pixels all converged at cost 1 but the centre: with
  // a worse cost it is refitted from its 8 neighbours; not solved for a
  // negative count under poisson (cost NaN, a refit's too) or too few
  // samples, from none.
  namespace detail = lmbatch::batch::detail;
  constexpr int n = 2, m = 10;
  detail::RefineState prev, next;
  prev.size_for(0, 9, 3, n);
  next.size_for(0, 9, 3, n);
  for (std::size_t i = 0; i < 9; ++i) {
    prev.x[i * n] = prev.x[i * n + 1] = 1.0;
    prev.cost[i] = 1.0;
    prev.m_valid[i] = m;
    prev.ier[i] = 1;
  }
  batch::Chunk chunk;
  chunk.reserve(9, m, n, false);
  chunk.count = 9;
  std::array<std::size_t, 8> at{};
  prev.cost[4] = 2.0;
  CHECK(detail::refine_candidates(chunk, 4, prev, next, at) == 8);
  prev.cost[4] = std::nan("");
  prev.ier[4] = static_cast<std::int16_t>(batch::ProblemStatus::negative_count);
  CHECK(detail::refine_candidates(chunk, 4, prev, next, at) == 0);
  prev.ier[4] = static_cast<std::int16_t>(batch::ProblemStatus::too_few_samples);
  prev.m_valid[4] = 1;
  CHECK(detail::refine_candidates(chunk, 4, prev, next, at) == 0);
}
