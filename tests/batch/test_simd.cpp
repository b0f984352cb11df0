// --simd auto against --simd off through the batch engine: every result field
// the same bits, for problems that go into the lanes and problems beside them
// that do not (missing samples), weighted and not, estimated and given
// starts, analytic Jacobians (lmder) and forward differences (lmdif), with and
// without full output, 1 and 2 threads and any chunking; and the lanes are used.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "../support/results.hpp"
#include "batch/solve_problem.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

namespace batch = lmbatch::batch;
using lmbatch::models::Model;

using lmbatch::test::check_same_results;
using lmbatch::test::check_same_results_but_nan_sign;
using lmbatch::test::same_bits;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Problems of model on x = 0..m-1 from truths drawn by `truth`, with noise;
// every 9th problem misses two samples, and sigma varies per sample.
struct Problems {
  int m;
  std::size_t count;
  std::vector<double> y, sigma, x0;
  template <class Truth>
  Problems(const Model& model, int m_, std::size_t count_, Truth truth) : m(m_), count(count_) {
    std::mt19937_64 rng(19);
    std::normal_distribution<double> noise(0.0, 0.02);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const auto n = static_cast<std::size_t>(model.n_params());
    std::vector<double> xs(static_cast<std::size_t>(m)), f(xs.size()), p(n);
    for (int i = 0; i < m; ++i) xs[static_cast<std::size_t>(i)] = i;
    for (std::size_t k = 0; k < count; ++k) {
      truth(rng, p);
      model.value(p, xs, f);
      for (int i = 0; i < m; ++i) {
        const double s = 0.01 + 0.03 * u(rng);
        sigma.push_back(s);
        y.push_back(f[static_cast<std::size_t>(i)] + noise(rng));
      }
      if (k % 9 == 4) y[k * m + 3] = y[k * m + 40] = kNaN;
      // Given starts: 0.6..1.6 times the truth, some too far to converge.
      for (double v : p) x0.push_back(v * (0.6 + u(rng)));
    }
  }
  // y and sigma (x: 0..m-1), with the given starts or without.
  batch::ArrayInput input(bool given_x0) const {
    batch::ArrayInput in;
    in.y = y;
    in.count = count;
    in.m = m;
    in.sigma = sigma;
    if (given_x0) in.x0 = x0;
    return in;
  }
};

// gaussian+constant problems of 64 samples: amplitude a0 + a_span u, centre
// c0 + c_span u, width s0 + s_span u, background b0 + b_span u (u uniform).
struct PeakRanges {
  double a0, a_span, c0, c_span, s0, s_span, b0, b_span;
};
Problems peaks(const Model& model, std::size_t count, PeakRanges g) {
  return Problems(model, 64, count, [g](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {g.a0 + g.a_span * u(rng), g.c0 + g.c_span * u(rng), g.s0 + g.s_span * u(rng),
         g.b0 + g.b_span * u(rng)};
  });
}
constexpr PeakRanges kPeaks{1.0, 1.0, 20.0, 24.0, 2.0, 6.0, 0.0, 0.1};
// Counts: a peak of 50..100 on a background of 2..5.
constexpr PeakRanges kCountPeaks{50.0, 50.0, 20.0, 24.0, 2.0, 6.0, 2.0, 3.0};

batch::BatchOptions with(batch::Simd simd, int threads, int chunk_size,
                         batch::JacobianMode jacobian = batch::JacobianMode::analytic,
                         bool full_output = false, batch::Loss loss = batch::Loss::linear) {
  batch::BatchOptions o;
  o.loss = loss;
  o.f_scale = 0.05;  // the noise's scale: the robust losses bend
  o.full_output = full_output;
  o.jacobian = jacobian;
  o.simd = simd;
  o.threads = threads;
  o.chunk_size = chunk_size;
  return o;
}

// The problems the lanes take from `in` (x shared or absent) in chunks of
// `chunk`: in each chunk, those that have every sample some problem of the
// chunk has, and under poisson no negative count (not solved, as with simd
// off).
std::size_t lane_problems(const batch::ArrayInput& in, std::size_t chunk, batch::Loss loss) {
  const auto m = static_cast<std::size_t>(in.m);
  auto present = [&](std::size_t k, std::size_t i) {
    return std::isfinite(in.y[k * m + i]) && (in.x.empty() || std::isfinite(in.x[i]));
  };
  std::size_t taken = 0;
  for (std::size_t first = 0; first < in.count; first += chunk) {
    const std::size_t end = std::min(in.count, first + chunk);
    std::vector<bool> some(m, false);
    for (std::size_t k = first; k < end; ++k)
      for (std::size_t i = 0; i < m; ++i) some[i] = some[i] || present(k, i);
    for (std::size_t k = first; k < end; ++k) {
      bool lane = true;
      for (std::size_t i = 0; i < m; ++i)
        lane = lane && present(k, i) == some[i] &&
               !(some[i] && loss == batch::Loss::poisson && in.y[k * m + i] < 0.0);
      taken += lane;
    }
  }
  return taken;
}

// The problems of a Problems set the lanes take in chunks of 9 with
// constraints: those with all their samples (every 9th misses two, one per
// chunk), a start within their bounds (else ier -6, as `result` says) and
// not listed in `alone`.
std::size_t bounded_lane_problems(const batch::ArrayResult& result,
                                  std::initializer_list<std::size_t> alone) {
  std::size_t lanes = 0;
  for (std::size_t k = 0; k < result.ier.size(); ++k)
    lanes +=
        k % 9 != 4 &&
        result.ier[k] != static_cast<std::int16_t>(batch::ProblemStatus::start_outside_bounds) &&
        std::find(alone.begin(), alone.end(), k) == alone.end();
  return lanes;
}

// Forward differences (lmdif) call no Jacobian: njev stays 0 (proof that the
// run was lmdif's), and the counts differ from lmder's.
void check_mode(const batch::ArrayResult& r, batch::JacobianMode jacobian) {
  const bool any_njev = std::any_of(r.njev.begin(), r.njev.end(), [](auto v) { return v != 0; });
  CHECK(any_njev == (jacobian == batch::JacobianMode::analytic));
}

// dead: samples missing from every problem (NaN in every y; from the second
// on NaN in the shared x instead, where a run has one). The lanes take the
// problems that miss no other sample.
void check_simd_changes_nothing(const Model& model, const Problems& data,
                                batch::Loss loss = batch::Loss::linear,
                                const std::vector<int>& dead = {}) {
  // A shared x other than the sample index (the lanes' model kernels take it).
  std::vector<double> shared_x(static_cast<std::size_t>(data.m));
  for (std::size_t i = 0; i < shared_x.size(); ++i)
    shared_x[i] = 0.75 * static_cast<double>(i) + 2.0;
  for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    for (const bool weighted : {false, true}) {
      for (const bool given_x0 : {false, true}) {
        for (const bool full : {false, true}) {
          INFO("weighted " << weighted << ", given x0 " << given_x0 << ", "
                           << (jacobian == batch::JacobianMode::analytic ? "lmder" : "lmdif")
                           << ", full output " << full);
          std::vector<double> y = data.y, x = shared_x;
          for (std::size_t j = 0; j < dead.size(); ++j) {
            const auto i = static_cast<std::size_t>(dead[j]);
            if (j > 0 && given_x0) {
              x[i] = kNaN;
            } else {
              for (std::size_t k = 0; k < data.count; ++k) y[k * data.m + i] = kNaN;
            }
          }
          batch::ArrayInput in;
          in.y = y;
          in.count = data.count;
          in.m = data.m;
          if (weighted) in.sigma = data.sigma;
          if (given_x0) in.x = x;  // half the runs with a shared x
          if (given_x0) in.x0 = data.x0;
          const auto off =
              batch::fit(model, in, with(batch::Simd::off, 1, 1024, jacobian, full, loss));
          CHECK(off.fjac.size() == (full ? data.count * model.n_params() * data.m : 0));
          CHECK(off.summary.lane_problems == 0);
          check_mode(off, jacobian);
          for (const int threads : {1, 2}) {
            for (const int chunk : {5, 64}) {
              INFO(threads << " threads, chunks of " << chunk);
              const auto on = batch::fit(
                  model, in, with(batch::Simd::automatic, threads, chunk, jacobian, full, loss));
              check_same_results(on, off);
              // Every problem with all its chunk's samples went into the lanes
              // (where the CPU has vectors of two doubles).
              if (lmbatch::simd::lane_width() > 1)
                CHECK(on.summary.lane_problems ==
                      lane_problems(in, static_cast<std::size_t>(chunk), loss));
            }
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("simd auto gives simd off's bits: gaussian+constant", "[batch][simd]") {
  const Model model = Model::parse("gaussian+constant");
  const Problems data = peaks(model, 203, kPeaks);
  check_simd_changes_nothing(model, data);
}

TEST_CASE("simd auto gives simd off's bits: exponential*2+constant", "[batch][simd]") {
  const Model model = Model::parse("exponential*2+constant");
  const Problems data(model, 96, 131, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {1.0 + u(rng), 3.0 + 4.0 * u(rng), 0.5 + u(rng), 20.0 + 30.0 * u(rng), 0.1 * u(rng)};
  });
  check_simd_changes_nothing(model, data);
}

TEST_CASE("simd auto with --starts and --x0-from: each start a lane's problem, the same kept",
          "[batch][simd]") {
  // Far starts (x0 0.6..1.6 times the truth, widths and centres too) on a
  // narrow peak: the perturbed starts often end lower than the first, and
  // in lanes a problem's starts run side by side and finish in any order.
  // --x0-from mean: the seed first, the problem's own estimate last.
  const Model model = Model::parse("gaussian+constant");
  const Problems data = peaks(model, 97, {1.0, 1.0, 10.0, 44.0, 1.0, 2.0, 0.0, 0.1});
  struct Case {
    bool given_x0;
    batch::X0From x0_from;
    int starts;
  };
  for (const auto loss : {batch::Loss::linear, batch::Loss::cauchy}) {
    for (const Case c :
         {Case{false, batch::X0From::none, 5}, Case{true, batch::X0From::none, 5},
          Case{false, batch::X0From::mean, 1}, Case{false, batch::X0From::mean, 4}}) {
      const batch::ArrayInput in = data.input(c.given_x0);
      auto options = [&](batch::Simd simd, int threads, int chunk) {
        batch::BatchOptions o = with(simd, threads, chunk, batch::JacobianMode::analytic,
                                     /*full_output=*/true, loss);
        o.starts = c.starts;
        o.x0_from = c.x0_from;
        return o;
      };
      INFO("given x0 " << c.given_x0 << ", x0_from " << static_cast<int>(c.x0_from) << ", "
                       << c.starts << " starts, loss " << static_cast<int>(loss));
      const auto off = batch::fit(model, in, options(batch::Simd::off, 1, 1024));
      // Later starts won somewhere: the kept start is not always the first.
      const auto first =
          static_cast<std::int8_t>(c.given_x0                         ? batch::StartCode::given_x0
                                   : c.x0_from == batch::X0From::mean ? batch::StartCode::aggregate
                                                                      : batch::StartCode::estimate);
      CHECK(std::count_if(off.start.begin(), off.start.end(),
                          [&](auto code) { return code != first; }) > 5);
      for (const int threads : {1, 2}) {
        for (const int chunk : {5, 64}) {
          INFO(threads << " threads, chunks of " << chunk);
          const auto on = batch::fit(model, in, options(batch::Simd::automatic, threads, chunk));
          check_same_results(on, off);
          if (lmbatch::simd::lane_width() > 1)
            CHECK(on.summary.lane_problems ==
                  lane_problems(in, static_cast<std::size_t>(chunk), loss));
        }
      }
    }
  }
}

TEST_CASE("simd auto with bounds: MPFIT's limits per lane, the same bits", "[batch][simd]") {
  // Bounds that bind on many problems (sigma 2..8 drawn, limits 3..6; the
  // centre's lower limit 24), by name and per problem (some given starts
  // outside theirs: ier -6), lmder and lmdif, linear, huber and poisson.
  const Model model = Model::parse("gaussian+constant");
  Problems data = peaks(model, 131, kCountPeaks);
  const auto n = static_cast<std::size_t>(model.n_params());
  std::vector<double> lower(data.count * n, kNaN), upper(data.count * n, kNaN);
  for (std::size_t k = 0; k < data.count; ++k) {
    lower[k * n + 1] = 24.0;                     // center
    upper[k * n + 2] = k % 5 == 0 ? 4.0 : kNaN;  // sigma
    lower[k * n + 3] = k % 7 == 0 ? 3.5 : kNaN;  // c
  }
  for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    for (const auto loss : {batch::Loss::linear, batch::Loss::huber, batch::Loss::poisson}) {
      for (const bool per_problem : {false, true}) {
        for (const bool given_x0 : {false, true}) {
          batch::ArrayInput in = data.input(given_x0);
          if (per_problem) in.lower = lower, in.upper = upper;
          auto options = [&](batch::Simd simd, int threads, int chunk) {
            batch::BatchOptions o =
                with(simd, threads, chunk, jacobian, /*full_output=*/true, loss);
            o.f_scale = 3.0;
            if (!per_problem) o.bounds = "sigma=3:6,center=24:inf";
            return o;
          };
          INFO((jacobian == batch::JacobianMode::analytic ? "lmder" : "lmdif")
               << ", loss " << static_cast<int>(loss) << ", per problem " << per_problem
               << ", given x0 " << given_x0);
          const auto off = batch::fit(model, in, options(batch::Simd::off, 1, 1024));
          // The limits bind: some parameters end pegged at one.
          CHECK(std::count_if(off.pegged.begin(), off.pegged.end(),
                              [](auto v) { return v == -1 || v == 1; }) > 10);
          // Given starts outside the bounds are refused; estimates are projected.
          const auto outside =
              std::count(off.ier.begin(), off.ier.end(),
                         static_cast<std::int16_t>(batch::ProblemStatus::start_outside_bounds));
          CHECK((outside > 0) == given_x0);
          for (const int threads : {1, 2}) {
            INFO(threads << " threads");
            const auto on = batch::fit(model, in, options(batch::Simd::automatic, threads, 9));
            check_same_results(on, off);
            if (lmbatch::simd::lane_width() > 1)
              CHECK(on.summary.lane_problems == bounded_lane_problems(off, {}));
          }
        }
      }
    }
  }
}

TEST_CASE("simd auto with fixed and tied parameters: the free ones per lane, the same bits",
          "[batch][simd]") {
  // Doublets whose second peak follows the first. Fixed parameters held at
  // their start (NaN) or at a value, by name or by a fixed mask (shared, or
  // per problem: the lanes take the problems with their chunk's first
  // problem's mask), ties
  // of one and two arguments (one of them fixed: no column), with and
  // without bounds (by name, per problem); the model's lane kernels and a
  // term without them (per-lane evaluation); lmder and lmdif; linear, huber
  // and soft_l1 (a transform without vectors).
  const Model vector_model = Model::parse("gaussian*2+constant");
  const Model scalar_model = Model::parse("gaussian*2+expr: b0");
  const auto doublets = [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const double sigma = 2.0 + 2.0 * u(rng), center = 16.0 + 10.0 * u(rng);
    p = {1.0 + u(rng), center, sigma, 0.5 + u(rng), center + 12.0, sigma, 0.05 + 0.05 * u(rng)};
  };
  const Problems data(vector_model, 64, 83, doublets);
  const std::size_t n = 7;
  std::vector<double> upper(data.count * n, kNaN);
  for (std::size_t k = 0; k < data.count; k += 4) upper[k * n + 2] = 3.0;  // sigma_1
  // A mask holding center_1 in every problem; one holding amplitude_2 in
  // the chunks of 9 with an even index, but for problem 40 (whose mask is
  // not its chunk's first problem's: it solves alone).
  const std::vector<double> shared_mask{0, 1, 0, 0, 0, 0, 0};
  std::vector<double> mask(data.count * n, 0.0);
  for (std::size_t k = 0; k < data.count; ++k)
    mask[k * n + 3] = (k / 9) % 2 == 0 && k != 40 ? 1.0 : 0.0;
  enum class Mask { none, shared, per_problem };
  struct Held {
    const char *fix, *tie, *bounds;
    bool per_problem;
    Mask mask;
  };
  const Held cases[] = {
      {"C", "sigma_2=sigma_1,center_2=center_1+12", "", false, Mask::none},
      {"C=0.07", "amplitude_2=0.5*amplitude_1+C", "sigma_1=1:3.5", false, Mask::none},
      {"", "amplitude_2=amplitude_1*sigma_1/4,sigma_2=sigma_1", "", true, Mask::none},
      {"", "sigma_2=sigma_1", "", false, Mask::shared},
      {"C", "", "sigma_1=1:3.5", true, Mask::per_problem},
  };
  for (const bool vector : {true, false}) {
    const Model& model = vector ? vector_model : scalar_model;
    REQUIRE(model.has_lane_kernels() == vector);
    const std::string c = vector ? "c" : "b0";
    for (const Held& held : cases) {
      for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
        for (const auto loss : {batch::Loss::linear, batch::Loss::huber, batch::Loss::soft_l1}) {
          for (const bool given_x0 : {false, true}) {
            if (!given_x0 && !vector) continue;  // an expression term has no estimate
            batch::ArrayInput in = data.input(given_x0);
            if (held.per_problem) in.upper = upper;
            if (held.mask != Mask::none) in.fixed = held.mask == Mask::shared ? shared_mask : mask;
            // C: the constant term's parameter (c, or the expression's b0).
            auto named = [&](std::string text) {
              for (std::size_t at; (at = text.find('C')) != std::string::npos;)
                text.replace(at, 1, c);
              return text;
            };
            auto options = [&](batch::Simd simd, int threads, int chunk) {
              batch::BatchOptions o =
                  with(simd, threads, chunk, jacobian, /*full_output=*/true, loss);
              o.f_scale = 3.0;
              o.fix = named(held.fix);
              o.tie = named(held.tie);
              o.bounds = held.bounds;
              return o;
            };
            INFO((vector ? "lane kernels" : "per-lane model")
                 << ", fix " << held.fix << ", tie " << held.tie << ", bounds " << held.bounds
                 << (held.per_problem ? " and per problem" : "")
                 << (jacobian == batch::JacobianMode::analytic ? ", lmder" : ", lmdif") << ", loss "
                 << static_cast<int>(loss) << ", given x0 " << given_x0);
            const auto off = batch::fit(model, in, options(batch::Simd::off, 1, 1024));
            // The solves work: most converge, the ties hold.
            CHECK(std::count_if(off.ier.begin(), off.ier.end(),
                                [](auto v) { return batch::converged(v); }) > 40);
            for (std::size_t k = 0; k < data.count; ++k)
              if (batch::converged(off.ier[k]) &&
                  std::string(held.tie).find("sigma_2=sigma_1") != std::string::npos)
                CHECK(off.x[k * n + 5] == off.x[k * n + 2]);
            for (const int threads : {1, 2}) {
              INFO(threads << " threads");
              const auto on = batch::fit(model, in, options(batch::Simd::automatic, threads, 9));
              // A solve that diverged to NaN parameters (ier -2) has the
              // model's NaN values in fvec, of either sign.
              check_same_results_but_nan_sign(on, off);
              // Problem 40's mask is not its chunk's first problem's.
              const std::size_t alone = held.mask == Mask::per_problem ? 40 : data.count;
              if (lmbatch::simd::lane_width() > 1)
                CHECK(on.summary.lane_problems == bounded_lane_problems(off, {alone}));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("start_wins keeps, in any finishing order, the start an in-order solve keeps",
          "[batch][simd]") {
  // The reference: the first start with the lowest cost that is a number;
  // start 0 where every cost is NaN. Costs drawn with ties, NaN and inf.
  namespace detail = lmbatch::batch::detail;
  std::mt19937_64 rng(7);
  const double values[] = {kNaN, 0.0, 1.5, 1.5, 2.0, std::numeric_limits<double>::infinity()};
  std::uniform_int_distribution<int> pick(0, 5), count(1, 7);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<double> cost(static_cast<std::size_t>(count(rng)));
    for (double& c : cost) c = values[pick(rng)];
    int expected = 0;
    for (int s = 0; s < static_cast<int>(cost.size()); ++s) {
      const double c = cost[static_cast<std::size_t>(s)];
      const double best = cost[static_cast<std::size_t>(expected)];
      if (!std::isnan(c) && (std::isnan(best) || c < best)) expected = s;
    }
    std::vector<int> order(cost.size());
    for (int s = 0; s < static_cast<int>(order.size()); ++s) order[static_cast<std::size_t>(s)] = s;
    for (int shuffle = 0; shuffle < 4; ++shuffle) {
      if (shuffle > 0) std::shuffle(order.begin(), order.end(), rng);  // the first: in order
      int kept = -1;
      for (const int s : order)
        if (kept < 0 || detail::start_wins(cost[static_cast<std::size_t>(s)], s,
                                           cost[static_cast<std::size_t>(kept)], kept))
          kept = s;
      INFO("trial " << trial << ", shuffle " << shuffle);
      CHECK(kept == expected);
    }
  }
}

TEST_CASE("simd auto with dead channels: the lanes take the problems that miss no other sample",
          "[batch][simd]") {
  // Samples 7, 30 and 63 (the last) missing from every problem, besides
  // every 9th problem's own two (3 and 40): the lanes solve 61 samples.
  const Model model = Model::parse("gaussian+constant");
  const Problems data = peaks(model, 203, kPeaks);
  check_simd_changes_nothing(model, data, batch::Loss::linear, {7, 30, 63});
  check_simd_changes_nothing(model, data, batch::Loss::poisson, {30, 0});
}

TEST_CASE("simd auto gives simd off's bits under every robust loss and poisson", "[batch][simd]") {
  // Counts of a peak on a background (the poisson loss's data), a few of
  // them negative (problems poisson does not solve, lanes or not).
  const Model model = Model::parse("gaussian+constant");
  Problems data = peaks(model, 40, kCountPeaks);
  for (std::size_t k = 6; k < data.count; k += 13) data.y[k * 64 + 10] = -1.0;
  for (const auto loss : {batch::Loss::soft_l1, batch::Loss::huber, batch::Loss::cauchy,
                          batch::Loss::arctan, batch::Loss::poisson}) {
    INFO("loss " << static_cast<int>(loss));
    check_simd_changes_nothing(model, data, loss);
  }
  // x per problem: the lanes evaluate the model lane by lane (no lane
  // kernels), each lane's transform from its gathered samples.
  std::vector<double> x_per_problem;
  for (std::size_t k = 0; k < data.count; ++k)
    for (int i = 0; i < data.m; ++i) x_per_problem.push_back(0.75 * i + 2.0);
  batch::ArrayInput in;
  in.y = data.y;
  in.count = data.count;
  in.m = data.m;
  in.x = x_per_problem;
  in.sigma = data.sigma;
  for (const auto loss : {batch::Loss::huber, batch::Loss::poisson}) {
    INFO("x per problem, loss " << static_cast<int>(loss));
    const auto off = batch::fit(
        model, in, with(batch::Simd::off, 1, 1024, batch::JacobianMode::analytic, true, loss));
    const auto on = batch::fit(
        model, in, with(batch::Simd::automatic, 2, 7, batch::JacobianMode::analytic, true, loss));
    check_same_results(on, off);
    if (lmbatch::simd::lane_width() > 1) CHECK(on.summary.lane_problems > data.count / 2);
  }
}

TEST_CASE("simd auto on every instruction set the CPU runs gives the same bits", "[batch][simd]") {
  const Model model = Model::parse("gaussian+constant");
  const Problems data(model, 48, 61, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {1.0 + u(rng), 15.0 + 18.0 * u(rng), 2.0 + 5.0 * u(rng), 0.1 * u(rng)};
  });
  batch::ArrayInput in;
  in.y = data.y;
  in.count = data.count;
  in.m = data.m;
  for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    INFO((jacobian == batch::JacobianMode::analytic ? "lmder" : "lmdif"));
    const auto off = batch::fit(model, in, with(batch::Simd::off, 1, 1024, jacobian));
    check_mode(off, jacobian);
    for (const std::int64_t target : lmbatch::simd::available_targets()) {
      lmbatch::simd::use_target(target);
      INFO(lmbatch::simd::target_name(lmbatch::simd::chosen_target()));
      check_same_results(batch::fit(model, in, with(batch::Simd::automatic, 2, 16, jacobian)), off);
    }
    lmbatch::simd::use_target(0);
  }
}
