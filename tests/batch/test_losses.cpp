// Robust losses (batch/loss.hpp): rho against scipy's closed forms, the
// transformed residual r with r^2 = C^2 rho((f/C)^2), its derivative factor g
// (value, limits, no 0/0 or inf/inf), the engine's use of them, and the
// linear loss giving the plain least-squares bits.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "../support/spectra.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/loss.hpp"
#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

namespace batch = lmbatch::batch;
namespace test = lmbatch::test;
using batch::Loss;
using lmbatch::models::Model;
using lmbatch::test::same_bits;

namespace {

constexpr Loss kRobust[] = {Loss::soft_l1, Loss::huber, Loss::cauchy, Loss::arctan};
constexpr Loss kAll[] = {Loss::linear, Loss::soft_l1, Loss::huber, Loss::cauchy, Loss::arctan};

// scipy's rho (optimize/_lsq/least_squares.py), in long double as reference;
// soft_l1's 2 (sqrt(1 + z) - 1) as 2 z / (sqrt(1 + z) + 1), free of its
// cancellation at small z (checked against the literal form below).
long double rho_reference(Loss loss, long double z) {
  switch (loss) {
    case Loss::soft_l1:
      return 2.0L * z / (std::sqrt(1.0L + z) + 1.0L);
    case Loss::huber:
      return z <= 1.0L ? z : 2.0L * std::sqrt(z) - 1.0L;
    case Loss::cauchy:
      return std::log1p(z);
    case Loss::arctan:
      return std::atan(z);
    case Loss::linear:
    case Loss::poisson:  // not a rho (test_poisson.cpp)
      break;
  }
  return z;
}

// dr/df by central differences of the transformed residual, in long double.
double factor_by_differences(Loss loss, double f, double C) {
  const long double h = 1e-6L * std::max(std::fabs(static_cast<long double>(f)), 1e-3L * C);
  auto r = [&](long double x) {
    const long double z = (x / C) * (x / C);
    return std::copysign(C * std::sqrt(rho_reference(loss, z)), x);
  };
  return static_cast<double>((r(f + h) - r(f - h)) / (2.0L * h));
}

// gaussian+constant spectra of 64 samples, with three spikes of 2 in each.
test::Spectra spectra(std::size_t count) {
  return test::gaussian_spectra(count, 64, 11, 0.02, test::varied_peak,
                                [](std::size_t, double* row, test::Uniform& u) {
                                  for (int spike = 0; spike < 3; ++spike)
                                    row[static_cast<int>(u() * 64)] += 2.0;
                                });
}

}  // namespace

TEST_CASE("loss_rho is scipy's rho", "[batch][loss]") {
  for (Loss loss : kAll)
    for (double z : {0.0, 1e-300, 1e-12, 0.25, 1.0, 1.5, 4.0, 1e6, 1e100}) {
      INFO(batch::choice_name(loss) << " z " << z);
      CHECK(batch::loss_rho(loss, z) ==
            Approx(static_cast<double>(rho_reference(loss, z))).epsilon(1e-10).margin(1e-300));
    }
  // scipy's literal soft_l1 where it has no cancellation.
  for (double z : {0.01, 0.5, 3.0, 1e6})
    CHECK(batch::loss_rho(Loss::soft_l1, z) ==
          Approx(2.0 * (std::sqrt(1.0 + z) - 1.0)).epsilon(1e-13));
  // rho'(z) against differences of rho.
  for (Loss loss : kAll)
    for (double z : {0.01, 0.5, 2.0, 30.0}) {
      const double h = 1e-6 * z;
      const double d = static_cast<double>(
          (rho_reference(loss, z + h) - rho_reference(loss, z - h)) / (2.0L * h));
      CHECK(batch::loss_rho_prime(loss, z) == Approx(d).epsilon(1e-7));
    }
}

TEST_CASE("the transformed residual squares to C^2 rho and keeps f's sign", "[batch][loss]") {
  for (Loss loss : kAll)
    for (double C : {1.0, 0.5, 3.0, 1e-3})
      for (double f : {-7.0, -1.0, -0.3, 1e-9, 0.2, 0.5, 0.999, 1.0, 1.001, 2.0, 50.0, 1e8}) {
        INFO(batch::choice_name(loss) << " C " << C << " f " << f);
        const double u = f / C;
        const auto t = batch::robust_residual(loss, f, C);
        const double expected = static_cast<double>(C * C * rho_reference(loss, u * u));
        CHECK(t.r * t.r == Approx(expected).epsilon(1e-13));
        CHECK(std::signbit(t.r) == std::signbit(f));
        CHECK(std::isfinite(t.g));
        CHECK(t.g > 0.0);
        CHECK(t.g == Approx(factor_by_differences(loss, f, C)).epsilon(1e-6).margin(1e-10));
      }
}

// |a - exact| in units of the last place of the double nearest exact.
double ulps_from(double a, long double exact) {
  const double nearest = std::fabs(static_cast<double>(exact));
  const double ulp = std::nextafter(nearest, std::numeric_limits<double>::infinity()) - nearest;
  return static_cast<double>(std::fabs(static_cast<long double>(a) - exact) / ulp);
}

TEST_CASE("soft_l1's root, r and g are within a few ulp of the exact values", "[batch][loss]") {
  // soft_l1_root replaced std::hypot(1, u) so that lanes can compute it
  // (loss.hpp): the bounds it claims, against long double (11 more bits),
  // over u log-uniform in [1e-30, 1e30], around its 2^27 switch and up to
  // 1e300. Measured over 2e7 such arguments: 1.023, 2.27 and 3.04 ulp.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> decade(-30.0, 30.0), unit(1.0, 2.0);
  std::vector<double> us;
  for (int k = 0; k < 200000; ++k) us.push_back(std::pow(10.0, decade(rng)));
  for (int k = 0; k < 20000; ++k) us.push_back(std::ldexp(unit(rng), 24 + k % 8));  // 2^24..2^32
  for (double u : {0x1p27, std::nextafter(0x1p27, 0.0), 1e100, 1.3e154, 1e300}) us.push_back(u);
  double worst_s = 0.0, worst_r = 0.0, worst_g = 0.0;
  for (const double u : us) {
    const long double exact_s = std::sqrt(1.0L + static_cast<long double>(u) * u);
    const long double exact_r = u * std::sqrt(2.0L / (exact_s + 1.0L));
    const long double exact_g = std::sqrt((exact_s + 1.0L) / 2.0L) / exact_s;
    const auto t = batch::robust_residual(Loss::soft_l1, u, 1.0);
    worst_s = std::max(worst_s, ulps_from(batch::soft_l1_root(u, u * u), exact_s));
    worst_r = std::max(worst_r, ulps_from(t.r, exact_r));
    worst_g = std::max(worst_g, ulps_from(t.g, exact_g));
  }
  CHECK(worst_s <= 1.03);
  CHECK(worst_r <= 2.3);
  CHECK(worst_g <= 3.1);
}

TEST_CASE("the derivative factor is 1 at f = 0 and finite at the extremes", "[batch][loss]") {
  for (Loss loss : kAll) {
    INFO(batch::choice_name(loss));
    // Exactly the identity at 0 (either sign), and where u^2 underflows.
    for (double f : {0.0, -0.0, 1e-200, -1e-170}) {
      const auto t = batch::robust_residual(loss, f, 1.0);
      CHECK(t.g == 1.0);
      CHECK(t.r == f);
    }
    // Tiny z: the factor tends to 1 (rho(z) = z + O(z^2)), r to f.
    for (double f : {1e-150, 1e-100, 1e-20, 1e-9}) {
      const auto t = batch::robust_residual(loss, f, 1.0);
      CHECK(t.g == Approx(1.0).epsilon(1e-8));
      CHECK(t.r == Approx(f).epsilon(1e-8));
    }
    // Huge z, including u^2 overflowing (u > 1.3e154) and f_scale tiny or
    // huge; u = |f|/C itself must be finite (the contract).
    for (double f : {1e10, 1e100, 1e160, 1e300, -1e300, 1e-290})
      for (double C : {1.0, 1e-300, 1e300}) {
        INFO("f " << f << " C " << C);
        if (!std::isfinite(f / C)) continue;
        const auto t = batch::robust_residual(loss, f, C);
        if (loss == Loss::linear) continue;  // r = f, g = 1: nothing to overflow
        CHECK(std::isfinite(t.r));
        CHECK(std::isfinite(t.g));
        CHECK(t.g >= 0.0);
        CHECK(std::signbit(t.r) == std::signbit(f));
      }
  }
  // The large-u limits in closed form: u = 1e300 (u^2 = inf).
  const double u = 1e300;
  CHECK(batch::robust_residual(Loss::huber, u, 1.0).r == Approx(std::sqrt(2.0 * u)));
  CHECK(batch::robust_residual(Loss::huber, u, 1.0).g == Approx(1.0 / std::sqrt(2.0 * u)));
  CHECK(batch::robust_residual(Loss::soft_l1, u, 1.0).r == Approx(std::sqrt(2.0 * u)));
  CHECK(batch::robust_residual(Loss::soft_l1, u, 1.0).g == Approx(1.0 / std::sqrt(2.0 * u)));
  CHECK(batch::robust_residual(Loss::cauchy, u, 1.0).r == Approx(std::sqrt(2.0 * std::log(u))));
  CHECK(batch::robust_residual(Loss::cauchy, u, 1.0).g ==
        Approx(1.0 / (u * std::sqrt(2.0 * std::log(u)))));
  CHECK(batch::robust_residual(Loss::arctan, u, 1.0).r == Approx(std::sqrt(M_PI / 2)));
  CHECK(batch::robust_residual(Loss::arctan, u, 1.0).g == 0.0);  // true value < 1e-400
  // f_scale: r(f, C) = C r(f/C, 1), g(f, C) = g(f/C, 1).
  for (Loss loss : kRobust)
    for (double C : {1e-250, 1e250}) {
      const auto a = batch::robust_residual(loss, 3.0 * C, C);
      const auto b = batch::robust_residual(loss, 3.0, 1.0);
      CHECK(a.r == Approx(C * b.r).epsilon(1e-14));
      CHECK(a.g == Approx(b.g).epsilon(1e-14));
    }
}

TEST_CASE("loss names and f_scale are checked", "[batch][loss][options]") {
  for (Loss loss : kAll) CHECK(batch::parse_choice<Loss>(batch::choice_name(loss)) == loss);
  CHECK_FALSE(batch::parse_choice<Loss>("nope").has_value());
  CHECK(batch::choice_list<Loss>() ==
        "'linear', 'soft_l1', 'huber', 'cauchy', 'arctan' or 'poisson'");
  CHECK(batch::choice_error<Loss>("loss", "nope") ==
        "loss must be 'linear', 'soft_l1', 'huber', 'cauchy', 'arctan' or 'poisson', not 'nope'");
  batch::BatchOptions o;
  CHECK(o.loss == Loss::linear);
  CHECK(o.f_scale == 1.0);
  for (double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()}) {
    o.f_scale = bad;
    CHECK_THROWS_WITH(o.validate(4), Catch::Contains("f_scale must be a finite number > 0"));
  }
  o.f_scale = 0.5;
  CHECK_NOTHROW(o.validate(4));
  o.loss = static_cast<Loss>(17);
  CHECK_THROWS_WITH(o.validate(4), Catch::Contains("'linear', 'soft_l1', 'huber'"));
}

TEST_CASE("loss linear gives the bits of not setting a loss", "[batch][loss]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(300);
  for (auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    batch::BatchOptions plain;
    plain.jacobian = jacobian;
    batch::BatchOptions linear = plain;
    linear.loss = Loss::linear;
    linear.f_scale = 0.25;  // ignored by the linear loss: rho(z) C^2 = f^2
    const auto a = batch::fit(model, data.input(), plain);
    const auto b = batch::fit(model, data.input(), linear);
    CHECK(same_bits(a.x, b.x));
    CHECK(same_bits(a.cost, b.cost));
    CHECK(same_bits(a.cov_x, b.cov_x));
    CHECK(a.nfev == b.nfev);
  }
}

TEST_CASE("robust losses fit through outliers, and cost is C^2 sum rho", "[batch][loss]") {
  const Model model = Model::parse("gaussian+constant");
  const auto data = spectra(100);
  batch::BatchOptions linear;
  const auto plain = batch::fit(model, data.input(), linear);
  for (Loss loss : kRobust)
    for (auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
      INFO(batch::choice_name(loss) << " " << batch::choice_name(jacobian));
      batch::BatchOptions o;
      o.loss = loss;
      o.f_scale = 0.1;
      o.jacobian = jacobian;
      o.full_output = true;
      const auto r = batch::fit(model, data.input(), o);
      std::size_t converged = 0, with_errors = 0;
      double robust_error = 0.0, plain_error = 0.0;
      for (std::size_t k = 0; k < data.count; ++k) {
        if (r.ier[k] < 1 || r.ier[k] > 4) continue;
        ++converged;
        // cost = sum of the transformed residuals' squares = C^2 sum rho((e/C)^2).
        double sum = 0.0, direct = 0.0;
        const double* p = r.x.data() + k * 4;
        for (int i = 0; i < data.m; ++i) {
          const double fv = r.fvec[k * data.m + i];
          sum += fv * fv;
          const double d = (i - p[1]) / p[2];
          const double e = data.y[k * data.m + i] - (p[0] * std::exp(-0.5 * d * d) + p[3]);
          direct +=
              o.f_scale * o.f_scale * batch::loss_rho(loss, (e / o.f_scale) * (e / o.f_scale));
        }
        CHECK(r.cost[k] == Approx(sum).epsilon(1e-12));
        CHECK(r.cost[k] == Approx(direct).epsilon(1e-9));
        with_errors += std::isfinite(r.std_error[k * 4]);
        // The spikes pull the least-squares baseline up; the robust one less.
        if (plain.ier[k] >= 1 && plain.ier[k] <= 4) {
          robust_error += std::fabs(r.x[k * 4 + 3]);
          plain_error += std::fabs(plain.x[k * 4 + 3]);
        }
      }
      CHECK(converged >= 95);
      CHECK(with_errors >= 90);
      CHECK(robust_error < plain_error);
    }
}

namespace {

// The lanes' live flags: dead 0 none dead, 1 lane 1, 2 every other lane.
std::vector<std::uint8_t> live_lanes(std::size_t w, int dead) {
  std::vector<std::uint8_t> live(w, 1);
  for (std::size_t l = 0; l < w; ++l)
    if ((dead == 1 && l == 1) || (dead == 2 && l % 2 == 1)) live[l] = 0;
  return live;
}

}  // namespace

TEST_CASE("poisson_residual_lanes gives poisson_residual's bits on every instruction set",
          "[batch][loss][simd]") {
  // Counts and model values around and far from each other, the branches'
  // edges (|f - y| = (f + y) / 10), zeros, negative, infinite and NaN model
  // values, tiny and huge counts; lanes live or not (a dead lane's r and g
  // stay as they were).
  std::mt19937_64 rng(29);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> y, f;
  const double kInf = std::numeric_limits<double>::infinity();
  for (const double count : {0.0, 1.0, 3.0, 7.5, 40.0, 1000.0, 1e9, 1e-300}) {
    for (const double ratio : {0.0, 0.5, 9.0 / 11.0, 0.85, 0.95, 1.0, 1.02, 1.1, 11.0 / 9.0, 2.0})
      y.push_back(count), f.push_back(count * ratio);
    for (const double odd : {-1.0, -0.0, kInf, -kInf, std::nan(""), 1e-310, 5e-324, 1e10, 1e-3})
      y.push_back(count), f.push_back(odd);
    for (int k = 0; k < 40; ++k) y.push_back(count), f.push_back(count * (0.5 + u(rng)));
  }
  for (const std::int64_t target : lmbatch::simd::available_targets()) {
    lmbatch::simd::use_target(target);
    const std::size_t w = static_cast<std::size_t>(lmbatch::simd::lane_width());
    INFO(lmbatch::simd::target_name(lmbatch::simd::chosen_target()) << ", width " << w);
    const std::size_t rows = (y.size() + w - 1) / w;
    std::vector<double> ys(rows * w, 5.0), fs(rows * w, 5.0);
    std::copy(y.begin(), y.end(), ys.begin());
    std::copy(f.begin(), f.end(), fs.begin());
    for (const int dead : {0, 1, 2}) {
      const std::vector<std::uint8_t> live = live_lanes(w, dead);
      std::vector<double> r(rows * w, -7.0), g(rows * w, -9.0);
      batch::poisson_residual_lanes(ys.data(), fs.data(), live.data(), r.data(), g.data(), rows);
      for (std::size_t at = 0; at < rows * w; ++at) {
        INFO("y " << ys[at] << " f " << fs[at] << " lane " << at % w);
        if (!live[at % w]) {
          REQUIRE((r[at] == -7.0 && g[at] == -9.0));
          continue;
        }
        const auto want = batch::poisson_residual(ys[at], fs[at]);
        REQUIRE(same_bits(r[at], want.r));
        REQUIRE(same_bits(g[at], want.g));
      }
    }
  }
  lmbatch::simd::use_target(0);
}

TEST_CASE("robust_residual_lanes gives robust_residual's bits on every instruction set",
          "[batch][loss][simd]") {
  // e = (y - f) / sigma around the scale (|e| / C at and near 1, where
  // huber's, cauchy's and arctan's branches turn), around soft_l1_root's 2^27 C, zero
  // and signed zeros, tiny (u^2 underflowing) and huge (u^2 overflowing)
  // values, infinite and NaN model values; sigma 1 (the unweighted case) and
  // not; lanes live or not.
  std::mt19937_64 rng(31);
  std::uniform_real_distribution<double> u(-3.0, 3.0);
  std::vector<double> y, f, sigma;
  const double kInf = std::numeric_limits<double>::infinity();
  constexpr double scale = 0.05;
  for (const double s : {1.0, 0.3}) {
    for (const double e :
         {0.0, -0.0, 1e-170, -1e-200, 0.05, -0.05, 0.0500000001, 0.049999999, 0.1, -2.5, 1e154,
          -1e160, 1e300, 0x1p27 * scale, std::nextafter(0x1p27 * scale, 0.0), -0x1p28 * scale, 3e7})
      y.push_back(1.0 + e * s), f.push_back(1.0), sigma.push_back(s);
    for (const double odd : {kInf, -kInf, std::nan("")})
      y.push_back(1.0), f.push_back(odd), sigma.push_back(s);
    for (int k = 0; k < 60; ++k)
      y.push_back(2.0), f.push_back(2.0 + scale * u(rng)), sigma.push_back(s);
    for (int k = 0; k < 60; ++k)  // |e| / C from 1e-9 to 1e11
      y.push_back(0.0), f.push_back(scale * std::pow(10.0, 10.0 * u(rng) / 3.0 + 1.0)),
          sigma.push_back(s);
  }
  for (const std::int64_t target : lmbatch::simd::available_targets()) {
    lmbatch::simd::use_target(target);
    const std::size_t w = static_cast<std::size_t>(lmbatch::simd::lane_width());
    INFO(lmbatch::simd::target_name(lmbatch::simd::chosen_target()) << ", width " << w);
    const std::size_t rows = (y.size() + w - 1) / w;
    std::vector<double> ys(rows * w, 1.0), fs(rows * w, 1.0), ss(rows * w, 1.0);
    std::copy(y.begin(), y.end(), ys.begin());
    std::copy(f.begin(), f.end(), fs.begin());
    std::copy(sigma.begin(), sigma.end(), ss.begin());
    for (const auto& [loss, dead] : {std::pair{Loss::huber, 0},
                                     {Loss::huber, 1},
                                     {Loss::huber, 2},
                                     {Loss::soft_l1, 0},
                                     {Loss::soft_l1, 2},
                                     {Loss::cauchy, 0},
                                     {Loss::cauchy, 1},
                                     {Loss::arctan, 0},
                                     {Loss::arctan, 2}}) {
      INFO(batch::choice_name(loss) << ", dead lanes " << dead);
      const std::vector<std::uint8_t> live = live_lanes(w, dead);
      std::vector<double> r(rows * w, -7.0), g(rows * w, -9.0);
      batch::robust_residual_lanes(loss, ys.data(), fs.data(), ss.data(), live.data(), r.data(),
                                   g.data(), rows, scale);
      for (std::size_t at = 0; at < rows * w; ++at) {
        INFO("y " << ys[at] << " f " << fs[at] << " sigma " << ss[at] << " lane " << at % w);
        if (!live[at % w]) {
          REQUIRE((r[at] == -7.0 && g[at] == -9.0));
          continue;
        }
        const auto want = batch::robust_residual(loss, (ys[at] - fs[at]) / ss[at], scale);
        REQUIRE(same_bits(r[at], want.r));
        REQUIRE(same_bits(g[at], want.g));
      }
    }
  }
  lmbatch::simd::use_target(0);
}
