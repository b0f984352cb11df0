// Bounds through batch::fit (issue #16): they hold on every problem, the same
// bits for any thread count, bounds that never bind change no bit, a given
// start outside them is ier -6 (x the start), an estimate is projected into
// them, /pegged and the covariance follow the core's active set. The
// solutions' reference (scipy least_squares with bounds) is in
// python/tests/test_bounds.py.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "../support/spectra.hpp"
#include "lmbatch/batch/constraints.hpp"
#include "lmbatch/batch/engine.hpp"

namespace batch = lmbatch::batch;
namespace test = lmbatch::test;
using Catch::Matchers::Contains;
using lmbatch::models::Model;
using lmbatch::test::same_bits;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// gaussian+constant spectra of 64 samples: a third without a peak (a = 0), a
// third wider (s = 14) than sigma's bound.
test::Spectra spectra(std::size_t count) {
  return test::gaussian_spectra(count, 64, 5, 0.05, [](std::size_t k, test::Uniform& u) {
    const double a = k % 3 == 0 ? 0.0 : 1.0 + u();
    const double c = 25.0 + 14.0 * u();
    const double s = k % 3 == 1 ? 14.0 : 3.0 + 3.0 * u();
    return test::Peak{a, c, s, 0.1 * u()};
  });
}

}  // namespace

TEST_CASE("bounds hold on every problem, with the same bits on 1 and 2 threads",
          "[batch][constraints][bounds]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(600);
  const double lower[] = {0.0, -kInf, 1.0, -kInf}, upper[] = {kInf, kInf, 8.0, kInf};
  for (auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    batch::BatchOptions one;
    one.bounds = "amplitude=0:,sigma=1:8";
    one.jacobian = jacobian;
    one.threads = 1;
    batch::BatchOptions two = one;
    two.threads = 2;
    two.chunk_size = 13;
    const auto a = batch::fit(model, data.input(), one);
    const auto b = batch::fit(model, data.input(), two);
    CHECK(same_bits(a.x, b.x));
    CHECK(same_bits(a.cov_x, b.cov_x));
    CHECK(a.pegged == b.pegged);
    std::size_t at_lower = 0, at_upper = 0;
    for (std::size_t k = 0; k < data.count; ++k)
      for (int j = 0; j < 4; ++j) {
        const double v = a.x[k * 4 + j];
        INFO("problem " << k << ", parameter " << j);
        CHECK(v >= lower[j]);
        CHECK(v <= upper[j]);
        const int pg = a.pegged[k * 4 + j];
        if (pg == -1) CHECK(v == lower[j]);
        if (pg == 1) CHECK(v == upper[j]);
        if (pg != 0) CHECK(std::isnan(a.std_error[k * 4 + j]));
        at_lower += pg == -1;
        at_upper += pg == 1;
      }
    CHECK(at_lower > 50);  // the problems without a peak
    CHECK(at_upper > 50);  // the wide ones
  }
}

TEST_CASE("bounds that never bind change no bit", "[batch][constraints][bounds]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(300);
  batch::BatchOptions free;
  free.threads = 1;
  batch::BatchOptions wide = free;
  // Far: on the problems without a peak the free fit's center and width
  // wander to 1e5 and beyond.
  wide.bounds = "amplitude=-1e100:1e100,sigma=-1e100:1e100,center=-1e100:1e100,c=-1e100:1e100";
  const auto a = batch::fit(model, data.input(), free);
  const auto b = batch::fit(model, data.input(), wide);
  CHECK(same_bits(a.x, b.x));
  CHECK(same_bits(a.cov_x, b.cov_x));
  CHECK(a.nfev == b.nfev);
  CHECK(a.ier == b.ier);
  CHECK(a.pegged == b.pegged);
}

TEST_CASE("a given start outside the bounds is ier -6, an estimate is projected",
          "[batch][constraints][bounds]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(6);
  std::vector<double> x0;
  for (std::size_t k = 0; k < data.count; ++k) x0.insert(x0.end(), {1.0, 32.0, 4.0, 0.0});
  x0[3 * 4 + 2] = 9.0;  // problem 3: sigma above 8
  batch::ArrayInput in = data.input();
  in.x0 = x0;
  batch::BatchOptions o;
  o.bounds = "sigma=1:8";
  auto r = batch::fit(model, in, o);
  CHECK(r.ier[3] == static_cast<int>(batch::ProblemStatus::start_outside_bounds));
  CHECK(r.ier[3] == -6);
  CHECK(std::vector<double>(r.x.begin() + 12, r.x.begin() + 16) ==
        std::vector<double>(x0.begin() + 12, x0.begin() + 16));
  CHECK(std::isnan(r.cost[3]));
  CHECK(r.nfev[3] == 0);
  CHECK_THAT(batch::status_text(-6, o.solver, 500), Contains("outside the bounds"));
  // Estimated starts (sigma about 3-14) projected into a narrow range: solved, inside.
  o.bounds = "sigma=1:1.5";
  r = batch::fit(model, data.input(), o);
  for (std::size_t k = 0; k < data.count; ++k) {
    CHECK(r.ier[k] != -6);
    CHECK(r.x[k * 4 + 2] >= 1.0);
    CHECK(r.x[k * 4 + 2] <= 1.5);
  }
  // Per-problem bounds that leave no room with the by-name ones: the problem is named.
  std::vector<double> lower(data.count * 4, std::nan(""));
  lower[4 * 4 + 2] = 2.0;
  in = data.input();
  in.lower = lower;
  CHECK_THROWS_WITH(batch::fit(model, in, o),
                    Contains("problem 4: parameter sigma: the lower bound 2"));
}
