// The batch engine on in-memory arrays: same bits for any thread count, chunk
// size and token count; missing samples, weights, starting values; per-problem
// statuses; errors naming the problem; progress.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "../support/results.hpp"
#include "../support/spectra.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/leastsq/leastsq.hpp"

namespace batch = lmbatch::batch;
namespace lsq = lmbatch::leastsq;
namespace test = lmbatch::test;
using lmbatch::models::Model;
using lmbatch::test::same_bits;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// count gaussian+constant spectra of 64 samples with noise; truth varies per problem.
test::Spectra spectra(std::size_t count) {
  return test::gaussian_spectra(count, 64, 7, 0.02, test::varied_peak);
}

}  // namespace

TEST_CASE("results are bit-identical for 1 and 2 threads and any chunking", "[batch]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(700);
  batch::BatchOptions one;
  one.threads = 1;
  one.full_output = true;
  const auto r1 = batch::fit(model, data.input(), one);

  for (const auto& [threads, chunk, tokens] :
       std::vector<std::tuple<int, int, int>>{{2, 64, 0}, {2, 1, 3}, {2, 1000, 1}, {1, 7, 2}}) {
    batch::BatchOptions o = one;
    o.threads = threads;
    o.chunk_size = chunk;
    o.tokens = tokens;
    const auto r = batch::fit(model, data.input(), o);
    INFO("threads " << threads << " chunk " << chunk << " tokens " << tokens);
    test::check_same_results(r, r1);
  }
  // Most problems converge from the model's own starting values.
  CHECK(r1.summary.count(1) + r1.summary.count(2) + r1.summary.count(3) + r1.summary.count(4) >=
        690);
  CHECK(r1.summary.problems == 700);
}

TEST_CASE("each problem's result equals a single leastsq solve of (y - f)/sigma", "[batch]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(5);
  std::vector<double> sigma(static_cast<std::size_t>(data.m));
  for (int i = 0; i < data.m; ++i) sigma[i] = 0.5 + 0.01 * i;
  const std::vector<double> x0{1.2, 30.0, 4.0, 0.0};
  batch::ArrayInput in = data.input();
  in.sigma = sigma;
  in.x0 = x0;
  for (const auto mode : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    batch::BatchOptions o;
    o.jacobian = mode;
    const auto r = batch::fit(model, in, o);
    std::vector<double> xs(static_cast<std::size_t>(data.m));
    for (int i = 0; i < data.m; ++i) xs[i] = i;
    for (std::size_t k = 0; k < data.count; ++k) {
      const double* y = data.y.data() + k * data.m;
      auto func = [&](std::span<const double> p, std::span<double> res) {
        std::vector<double> f(static_cast<std::size_t>(data.m));
        model.value(p, xs, f);
        for (int i = 0; i < data.m; ++i) res[i] = (y[i] - f[i]) / sigma[i];
      };
      auto jac = [&](std::span<const double> p, std::span<double> J) {
        model.jacobian(p, xs, J);
        for (int j = 0; j < 4; ++j)
          for (int i = 0; i < data.m; ++i) J[j * data.m + i] = -J[j * data.m + i] / sigma[i];
      };
      lsq::Options opt;
      opt.col_deriv = true;
      const auto ref = mode == batch::JacobianMode::analytic
                           ? lsq::leastsq(func, x0, data.m, jac, opt)
                           : lsq::leastsq(func, x0, data.m, nullptr, opt);
      INFO("problem " << k);
      CHECK(r.ier[k] == ref.ier);
      CHECK(r.nfev[k] == ref.nfev);
      CHECK(std::vector<double>(r.x.begin() + 4 * k, r.x.begin() + 4 * k + 4) == ref.x);
      REQUIRE(ref.cov_x.has_value());
      CHECK(std::vector<double>(r.cov_x.begin() + 16 * k, r.cov_x.begin() + 16 * k + 16) ==
            *ref.cov_x);
      const double cost = lsq::minpack::enorm(ref.fvec);
      CHECK(r.cost[k] == cost * cost);
      for (int j = 0; j < 4; ++j)  // the docstring's scaling: s^2 = cost / (m - n)
        CHECK(r.std_error[4 * k + j] ==
              std::sqrt((*ref.cov_x)[5 * j] * (r.cost[k] / (data.m - 4))));
    }
  }
}

TEST_CASE("NaN samples are left out: too few samples give status -3, not an abort", "[batch]") {
  const Model model = Model::parse("gaussian+constant");
  auto data = spectra(3);
  // Problem 0: every other sample missing -> fits on 32 samples.
  for (int i = 0; i < data.m; i += 2) data.y[i] = kNaN;
  // Problem 1: all but 3 samples missing (n = 4) -> -3.
  for (int i = 3; i < data.m; ++i) data.y[data.m + i] = kNaN;
  // Problem 2: all missing.
  for (int i = 0; i < data.m; ++i) data.y[2 * data.m + i] = kNaN;
  batch::BatchOptions o;
  o.full_output = true;
  const auto r = batch::fit(model, data.input(), o);
  CHECK(r.m_valid == std::vector<std::int32_t>{32, 3, 0});
  CHECK(lsq::converged(static_cast<lsq::Status>(r.ier[0])));
  CHECK(std::isnan(r.fvec[0]));
  CHECK_FALSE(std::isnan(r.fvec[1]));
  CHECK(r.ier[1] == -3);
  CHECK(r.ier[2] == -3);
  CHECK(std::isnan(r.x[4]));
  CHECK(std::isnan(r.cost[2]));
  CHECK(std::isnan(r.std_error[4]));
  CHECK_FALSE(std::isnan(r.std_error[0]));
  CHECK(r.summary.count(-3) == 2);
  CHECK(r.summary.first_failures == std::vector<std::size_t>{1, 2});
}

TEST_CASE("a problem that ends at its start has no factorisation in its full output", "[batch]") {
  // Odd problems start where the model overflows: their residuals at x0 are
  // not finite and the solve ends there (ier -2), before any Jacobian. Their
  // fjac, ipvt and qtf must not be the workspace's leftovers from the problem
  // solved before them (which depend on the chunking and the threads).
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(9);
  std::vector<double> x0;
  for (int k = 0; k < 9; ++k)
    for (const double v : k % 2 ? std::vector<double>{1e308, 30.0, 4.0, 1e308}
                                : std::vector<double>{1.0 + 0.1 * k, 30.0, 4.0, 0.05})
      x0.push_back(v);
  batch::ArrayInput in = data.input();
  in.x0 = x0;
  const std::size_t n = 4, m = static_cast<std::size_t>(data.m);
  batch::BatchOptions first;
  first.full_output = true;
  first.threads = 1;
  first.chunk_size = 9;
  const auto r1 = batch::fit(model, in, first);
  for (std::size_t k = 1; k < 9; k += 2) {
    INFO("problem " << k);
    CHECK(r1.ier[k] == -2);
    // fvec: the residuals at x0, as computed (infinite near the peak).
    CHECK(std::any_of(r1.fvec.begin() + k * m, r1.fvec.begin() + (k + 1) * m,
                      [](double f) { return std::isinf(f); }));
    for (std::size_t i = 0; i < n * m; ++i) REQUIRE(std::isnan(r1.fjac[k * n * m + i]));
    for (std::size_t j = 0; j < n; ++j) {
      CHECK(r1.ipvt[k * n + j] == 0);
      CHECK(std::isnan(r1.qtf[k * n + j]));
    }
    CHECK(lsq::converged(static_cast<lsq::Status>(r1.ier[k - 1])));
  }
  for (const auto simd : {batch::Simd::automatic, batch::Simd::off})
    for (const auto& [threads, chunk] : std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {2, 3}}) {
      batch::BatchOptions o = first;
      o.simd = simd;
      o.threads = threads;
      o.chunk_size = chunk;
      const auto r = batch::fit(model, in, o);
      INFO("threads " << threads << " chunk " << chunk << " simd off "
                      << (simd == batch::Simd::off));
      test::check_same_results(r, r1);
    }
}

TEST_CASE("shared and per-problem x0 and x: invalid inputs name the problem", "[batch]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(4);
  std::vector<double> x0(4 * 4);
  for (int k = 0; k < 4; ++k) {
    x0[4 * k + 0] = 1.5;
    x0[4 * k + 1] = 30.0;
    x0[4 * k + 2] = 4.0;
    x0[4 * k + 3] = 0.05;
  }
  batch::ArrayInput in = data.input();
  in.x0 = x0;
  const auto per_problem = batch::fit(model, in);
  in.x0 = std::span<const double>(x0.data(), 4);
  const auto shared = batch::fit(model, in);
  CHECK(per_problem.x == shared.x);

  std::vector<double> x(static_cast<std::size_t>(data.m));
  for (int i = 0; i < data.m; ++i) x[i] = i;
  in.x = x;
  CHECK(batch::fit(model, in).x == shared.x);  // explicit 0..m-1 == the default

  x0[4 * 2 + 1] = kNaN;
  in.x0 = x0;
  CHECK_THROWS_WITH(batch::fit(model, in), Catch::Contains("problem 2") && Catch::Contains("x0"));
  std::vector<double> sigma(static_cast<std::size_t>(data.m), 1.0);
  sigma[5] = 0.0;
  in.x0 = {};
  in.sigma = sigma;
  CHECK_THROWS_WITH(batch::fit(model, in), Catch::Contains("sigma"));
  in.sigma = {};
  in.x = std::span<const double>(x.data(), 10);
  CHECK_THROWS_WITH(batch::fit(model, in), Catch::Contains("x has 10 values"));
  batch::BatchOptions bad;
  bad.threads = -1;
  in.x = {};
  CHECK_THROWS_AS(batch::fit(model, in, bad), std::invalid_argument);
  bad = {};
  bad.solver.ftol = -1.0;
  CHECK_THROWS_WITH(batch::fit(model, in, bad), Catch::Contains("ftol"));
}

TEST_CASE("progress reports every chunk in order with status counts", "[batch]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(100);
  batch::BatchOptions o;
  o.threads = 2;
  o.chunk_size = 12;  // below the cap for 100 problems on 2 threads (13)
  std::vector<std::size_t> done;
  std::size_t counted = 0;
  o.progress = [&](const batch::Progress& p) {
    done.push_back(p.done);
    counted = 0;
    for (auto c : p.status_counts) counted += c;
    CHECK(p.total == 100);
  };
  batch::fit(model, data.input(), o);
  CHECK(done == std::vector<std::size_t>{12, 24, 36, 48, 60, 72, 84, 96, 100});
  CHECK(counted == 100);
}

TEST_CASE("fewer problems than a chunk still make work for every thread", "[batch]") {
  // 700 problems under the default 1024-problem chunk would be one pipeline item,
  // solved by one thread; fit caps chunks at count / (4 x threads) = 88.
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(700);
  batch::BatchOptions o;
  o.threads = 2;
  std::vector<std::size_t> done;
  o.progress = [&](const batch::Progress& p) { done.push_back(p.done); };
  const auto r = batch::fit(model, data.input(), o);
  CHECK(done.size() == 8);
  CHECK(done.front() == 88);
  CHECK(r.summary.problems == 700);
}

TEST_CASE("zero problems is a valid, empty run", "[batch]") {
  const Model model = Model::parse("constant");
  batch::ArrayInput in;
  in.m = 5;
  const auto r = batch::fit(model, in);
  CHECK(r.x.empty());
  CHECK(r.summary.problems == 0);
}

TEST_CASE("a gaussian whose sigma collapsed to 0 fits on: its Jacobian is 0, not 0*inf NaN",
          "[batch]") {
  // Starting points with sigma 0 or subnormal, the center between samples:
  // (x - center)/sigma is inf at every sample, exp(-u^2/2) is 0, and the
  // plain derivative (A e u)/sigma was 0 * inf = NaN, ending the problem with
  // ier -2 at its first Jacobian. The limit, 0, leaves the collapsed peak
  // where it is and the baseline is fitted.
  const Model model = Model::parse("gaussian+linear");
  const int m = 64;
  std::vector<double> y(2 * static_cast<std::size_t>(m));
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < m; ++i) y[k * m + i] = 1.0 + 0.01 * i + 0.05 * std::sin(1.7 * i);
  const std::vector<double> x0 = {2.0, 30.5, 1e-310, 1.0, 0.0,  //
                                  2.0, 30.5, 0.0,    1.0, 0.0};
  batch::ArrayInput in;
  in.y = y;
  in.count = 2;
  in.m = m;
  in.x0 = x0;
  const auto r = batch::fit(model, in);
  for (int k = 0; k < 2; ++k) {
    INFO("problem " << k);
    CHECK(lsq::converged(static_cast<lsq::Status>(r.ier[k])));
    CHECK(std::isfinite(r.cost[k]));
    for (int j = 0; j < 5; ++j) CHECK(std::isfinite(r.x[k * 5 + j]));
    CHECK(r.x[k * 5 + 3] == Approx(1.0).margin(0.05));    // intercept
    CHECK(r.x[k * 5 + 4] == Approx(0.01).margin(0.005));  // slope
  }
}
