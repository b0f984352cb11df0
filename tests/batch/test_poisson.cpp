// The poisson loss (batch/loss.hpp): the signed deviance residual against the
// deviance computed in long double, its derivative factor against
// differences, the limits (f -> y, y = 0, f <= 0), and the engine's use:
// the constant model's maximum-likelihood estimate is the sample mean with
// the Fisher standard error sqrt(mean / m), a negative count is ier -5 for
// its problem alone, cost is the deviance. (The fit against an independent
// likelihood maximiser is python/tests/test_poisson.py.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "../support/check.hpp"
#include "batch/solve_problem.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/loss.hpp"
#include "lmbatch/batch/status.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

namespace batch = lmbatch::batch;
using batch::Loss;
using lmbatch::models::Model;
using lmbatch::test::same_bits;

namespace {

// D = 2 (f - y + y ln(y/f)) in long double (the plain formula: long double's
// 11 extra bits cover its cancellation at the f's used below).
long double deviance(long double y, long double f) {
  return 2.0L * (f - y + (y > 0.0L ? y * std::log(y / f) : 0.0L));
}

// dr/df by central differences of sign(y - f) sqrt(D), in long double.
double factor_by_differences(double y, double f) {
  const long double h = 1e-7L * f;
  auto r = [&](long double v) { return std::copysign(std::sqrt(deviance(y, v)), y - v); };
  return static_cast<double>(-(r(f + h) - r(f - h)) / (2.0L * h));
}

}  // namespace

TEST_CASE("the poisson residual squares to the deviance and keeps y - f's sign",
          "[batch][loss][poisson]") {
  for (double y : {0.0, 0.25, 1.0, 3.0, 17.0, 1000.0, 1e7})
    for (double ratio :
         {1e-3, 0.1, 0.49, 0.5, 0.51, 0.9, 0.999, 1.001, 1.3, 1.99, 2.0, 2.01, 7.0, 1e4}) {
      const double f = y == 0.0 ? ratio : y * ratio;
      INFO("y " << y << " f " << f);
      const auto t = batch::poisson_residual(y, f);
      const long double d = deviance(y, f);
      CHECK(t.r * t.r == Approx(static_cast<double>(d)).epsilon(1e-12));
      CHECK(std::signbit(t.r) == (y < f));
      CHECK(t.g > 0.0);
      // Differences lose about 1e-7 of relative accuracy where r ~ 0.
      CHECK(t.g == Approx(factor_by_differences(y, f)).epsilon(1e-6));
    }
}

TEST_CASE("the poisson residual is smooth where its formula changes (|f - y| = (f + y)/10)",
          "[batch][loss][poisson]") {
  // The direct side loses up to a digit to cancellation there (loss.hpp).
  for (double y : {1.0, 5.0, 123.0}) {
    for (double edge : {y * (11.0 / 9.0), y * (9.0 / 11.0)}) {
      const double below = std::nextafter(edge, 0.0), above = std::nextafter(edge, 1e300);
      const auto a = batch::poisson_residual(y, below), b = batch::poisson_residual(y, edge),
                 c = batch::poisson_residual(y, above);
      CHECK(a.r == Approx(b.r).epsilon(5e-15));
      CHECK(c.r == Approx(b.r).epsilon(5e-15));
      CHECK(a.g == Approx(b.g).epsilon(5e-15));
      CHECK(c.g == Approx(b.g).epsilon(5e-15));
    }
  }
}

TEST_CASE("the poisson residual's limits", "[batch][loss][poisson]") {
  // f == y: r = 0, g = 1/sqrt(y) (the Pearson weight), with no 0/0.
  for (double y : {1e-300, 0.3, 1.0, 42.0, 1e300}) {
    const auto t = batch::poisson_residual(y, y);
    CHECK(t.r == 0.0);
    CHECK(t.g == Approx(1.0 / std::sqrt(y)).epsilon(1e-15));
  }
  // f -> y: r ~ (y - f)/sqrt(y), finite differences of nothing cancelled.
  for (double rel : {1e-15, 1e-12, 1e-8, 1e-4}) {
    const double y = 50.0, f = y * (1.0 + rel);
    const auto t = batch::poisson_residual(y, f);
    CHECK(t.r == Approx((y - f) / std::sqrt(y)).epsilon(2.0 * rel + 1e-15));
    CHECK(t.r < 0.0);
  }
  // y == 0: r = -sqrt(2f), g = 1/sqrt(2f).
  for (double f : {1e-300, 1e-3, 1.0, 1e300}) {
    const auto t = batch::poisson_residual(0.0, f);
    CHECK(t.r == -std::sqrt(2.0 * f));
    CHECK(t.g == 1.0 / std::sqrt(2.0 * f));
  }
  // y == f == 0 (a vanished term against a zero count): r = 0, g = 0.
  const auto zero = batch::poisson_residual(0.0, 0.0);
  CHECK(zero.r == 0.0);
  CHECK(zero.g == 0.0);
  // No likelihood: f < 0, f == 0 with y > 0, f NaN or inf: NaN (a rejected step).
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (double y : {0.0, 2.0})
    for (double f : {-1e-300, -1.0, std::numeric_limits<double>::quiet_NaN(), inf}) {
      INFO("y " << y << " f " << f);
      CHECK(std::isnan(batch::poisson_residual(y, f).r));
    }
  CHECK(std::isnan(batch::poisson_residual(2.0, 0.0).r));
  // Huge and tiny scales stay finite.
  for (double s : {1e-200, 1e200}) {
    const auto t = batch::poisson_residual(3.0 * s, 7.0 * s);
    CHECK(std::isfinite(t.r));
    CHECK(t.r == Approx(std::sqrt(s) * batch::poisson_residual(3.0, 7.0).r).epsilon(1e-14));
  }
}

TEST_CASE("poisson: the constant model's estimate is the mean, its stderr sqrt(mean / m)",
          "[batch][loss][poisson]") {
  // For f = c the likelihood is maximal at c = mean(y), the Fisher
  // information is m / c: a closed form, independent of the engine.
  const Model model = Model::parse("constant");
  const int m = 40;
  const std::size_t count = 50;
  std::mt19937_64 rng(5);
  std::vector<double> y(count * m);
  for (std::size_t k = 0; k < count; ++k) {
    std::poisson_distribution<int> counts(0.5 + static_cast<double>(k));
    for (int i = 0; i < m; ++i) y[k * m + i] = counts(rng);
  }
  y[3 * m + 7] = 2.5;  // a non-integer count is a count (documented)
  batch::ArrayInput in;
  in.y = y;
  in.count = count;
  in.m = m;
  // From c = 1: the estimate (the median) is 0 on the sparsest problems,
  // where f = 0 against y > 0 has no likelihood (ier -2 at the start).
  const std::vector<double> x0{1.0};
  in.x0 = x0;
  for (auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    batch::BatchOptions o;
    o.loss = Loss::poisson;
    o.jacobian = jacobian;
    o.solver.ftol = o.solver.xtol = 1e-14;
    const auto r = batch::fit(model, in, o);
    for (std::size_t k = 0; k < count; ++k) {
      INFO("problem " << k);
      double mean = 0.0;
      for (int i = 0; i < m; ++i) mean += y[k * m + i];
      mean /= m;
      if (mean == 0.0) continue;  // the optimum is on f = 0, outside the likelihood
      REQUIRE(batch::converged(r.ier[k]));
      // The deviance is flat to second order at its minimum: ftol = 1e-14
      // stops within about sqrt(1e-14) c of it.
      CHECK(r.x[k] == Approx(mean).epsilon(1e-7));
      CHECK(r.std_error[k] == Approx(std::sqrt(mean / m)).epsilon(1e-7));
      CHECK(r.cov_x[k] == Approx(mean / m).epsilon(2e-7));
      long double d = 0.0L;
      for (int i = 0; i < m; ++i) d += deviance(y[k * m + i], r.x[k]);
      CHECK(r.cost[k] == Approx(static_cast<double>(d)).epsilon(1e-10).margin(1e-12));
    }
  }
}

TEST_CASE("poisson: a negative count is ier -5 for its problem alone", "[batch][loss][poisson]") {
  const Model model = Model::parse("exponential+constant");
  const int m = 32;
  const std::size_t count = 4;
  std::vector<double> y(count * m);
  for (std::size_t k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) y[k * m + i] = std::round(80.0 * std::exp(-i / 6.0) + 3.0 + k);
  y[2 * m + 20] = -1.0;
  y[1 * m + 5] = std::numeric_limits<double>::quiet_NaN();  // missing, not negative
  batch::ArrayInput in;
  in.y = y;
  in.count = count;
  in.m = m;
  batch::BatchOptions o;
  o.loss = Loss::poisson;
  const auto r = batch::fit(model, in, o);
  CHECK(r.ier[2] == static_cast<int>(batch::ProblemStatus::negative_count));
  CHECK(std::isnan(r.x[2 * 3]));
  CHECK(std::isnan(r.cost[2]));
  CHECK(r.nfev[2] == 0);
  for (std::size_t k : {0u, 1u, 3u}) CHECK(batch::converged(r.ier[k]));
  CHECK(batch::status_label(-5) == "-5: negative count");
  // The same data under least squares: a negative sample is just a sample.
  o.loss = Loss::linear;
  CHECK(batch::converged(batch::fit(model, in, o).ier[2]));
}

namespace {

// A model that is a table: its values and Jacobian at any point are the
// given ones (inverse_fisher_information evaluates the model at p).
struct TableModel {
  const double* f;
  const double* jac;  // n columns of m, column-major as Model::jacobian writes it
  std::size_t m, n;
  void value(std::span<const double>, const lmbatch::models::Predictors&,
             std::span<double> out) const {
    std::copy_n(f, m, out.begin());
  }
  void jacobian(std::span<const double>, const lmbatch::models::Predictors&,
                std::span<double> out) const {
    std::copy_n(jac, m * n, out.begin());
  }
};

}  // namespace

TEST_CASE(
    "poisson_covariance_lanes gives inverse_fisher_information's bits on every instruction set",
    "[batch][loss][poisson][simd]") {
  // Per lane a random Jacobian (n = 4, m = 23) and model values, some of
  // them 0 (left out of the sums); and lanes whose information is not
  // positive definite (a zero column; two equal columns; a NaN value), where
  // the scalar function gives up and the kernel says so.
  constexpr std::size_t m = 23, n = 4;
  std::mt19937_64 rng(41);
  std::uniform_real_distribution<double> u(-2.0, 2.0), positive(0.1, 50.0);
  for (const std::int64_t target : lmbatch::simd::available_targets()) {
    lmbatch::simd::use_target(target);
    const auto w = static_cast<std::size_t>(lmbatch::simd::lane_width());
    INFO(lmbatch::simd::target_name(lmbatch::simd::chosen_target()) << ", width " << w);
    for (int round = 0; round < 20; ++round) {
      std::vector<double> f(m * w), jac(n * m * w), lanes_f(m * w), lanes_jac(n * m * w);
      std::vector<std::vector<double>> lane_f(w, std::vector<double>(m)),
          lane_jac(w, std::vector<double>(n * m));
      for (std::size_t l = 0; l < w; ++l) {
        auto& fl = lane_f[l];
        auto& jl = lane_jac[l];
        for (std::size_t i = 0; i < m; ++i) fl[i] = i % 7 == 3 ? 0.0 : positive(rng);
        for (double& v : jl) v = u(rng);
        const int odd = (round + static_cast<int>(l)) % 6;      // 0-2 of 6: not positive definite
        if (odd == 0) std::fill_n(jl.begin() + 2 * m, m, 0.0);  // a zero column
        if (odd == 1) std::copy_n(jl.begin(), m, jl.begin() + 3 * m);    // equal columns
        if (odd == 2) fl[5] = std::numeric_limits<double>::quiet_NaN();  // a NaN value
        for (std::size_t i = 0; i < m; ++i) lanes_f[i * w + l] = fl[i];
        for (std::size_t k = 0; k < n; ++k)
          for (std::size_t i = 0; i < m; ++i) lanes_jac[(k * m + i) * w + l] = jl[k * m + i];
      }
      std::vector<double> factor(n * n * w), cov(n * n * w), std_error(n * w);
      std::vector<std::uint8_t> ok(w, 7);
      batch::poisson_covariance_lanes(lanes_f.data(), lanes_jac.data(), m, n, factor.data(),
                                      cov.data(), std_error.data(), ok.data());
      for (std::size_t l = 0; l < w; ++l) {
        INFO("round " << round << ", lane " << l);
        batch::detail::SolverScratch s;
        s.size_for(static_cast<int>(m), static_cast<int>(n));
        std::vector<double> want(n * n), p(n, 1.0);
        const TableModel table{lane_f[l].data(), lane_jac[l].data(), m, n};
        const bool fine = batch::detail::inverse_fisher_information(
            table, lmbatch::models::Predictors{}, static_cast<int>(m), static_cast<int>(n), s, p,
            want.data());
        REQUIRE(ok[l] == (fine ? 1 : 0));
        if (!fine) continue;
        for (std::size_t e = 0; e < n * n; ++e) REQUIRE(same_bits(cov[e * w + l], want[e]));
        for (std::size_t j = 0; j < n; ++j)
          REQUIRE(same_bits(std_error[j * w + l], std::sqrt(want[j * (n + 1)])));
      }
    }
  }
  lmbatch::simd::use_target(0);
}
