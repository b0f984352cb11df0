// Model::value_lanes / jacobian_lanes (issue #19): W problems side by side,
// one per SIMD lane, give per lane the bits of Model::value / jacobian on
// that lane's parameters, for every catalogue term with lane kernels and for
// composed models, on every SIMD target the CPU runs (AVX-512, AVX2, SSE4 and
// Highway's scalar fallback on an AVX-512 machine), with parameters drawn to
// reach the terms' special branches: widths and decay constants tiny, huge,
// negative or zero, amplitudes zero, exp's overflow and underflow,
// lorentzian's squares overflowing and underflowing (its NaN limits).
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "lmbatch/models/model.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

using lmbatch::models::Model;

namespace {

// The same bits; NaN results need only both be NaN (a NaN's payload depends
// on which operand the compiler puts first in a commutative operation, in
// the scalar code as in the vector code; MINPACK reads any NaN alike).
bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) ||
         (std::isnan(a) && std::isnan(b));
}

// A parameter value: mostly ordinary, sometimes one that takes a term's
// special branch (0, -0, tiny, subnormal, huge, negative).
double draw(std::mt19937_64& rng) {
  static constexpr double kSpecial[] = {0.0,    -0.0,     1e-300, -1e-300, 5e-324, 1e-310,
                                        1e300,  -1e300,   1e-3,   -1e-3,   1e154,  -7.5,
                                        1e-160, 4.9e-200, 700.0,  -745.0,  2.0,    0.5};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double pick = u(rng);
  if (pick < 0.3) return kSpecial[rng() % (sizeof(kSpecial) / sizeof(kSpecial[0]))];
  if (pick < 0.5) return std::exp(u(rng) * 40.0 - 20.0) * (u(rng) < 0.5 ? -1.0 : 1.0);
  return u(rng) * 20.0 - 5.0;
}

// Compares the lanes with the scalar model on `trials` random parameter sets
// per lane; returns the number of differing values and derivatives.
std::size_t count_lane_differences(const Model& model, std::mt19937_64& rng, int trials,
                                   std::string& first) {
  const auto w = static_cast<std::size_t>(lmbatch::simd::lane_width());
  const auto n = static_cast<std::size_t>(model.n_params());
  std::vector<double> x;
  for (int i = 0; i < 40; ++i) x.push_back(-10.0 + 0.5 * i);
  for (const double v : {0.0, -0.0, 1e-300, 1e10, -1e10, 3e5, 750.0, -1e300})
    x.push_back(v);  // far tails, exp's special cases
  const std::size_t m = x.size();
  std::vector<double> p(n * w), f(m * w), jac(n * m * w), p_lane(n), f_lane(m), jac_lane(n * m);
  std::size_t differing = 0;
  for (int trial = 0; trial < trials; ++trial) {
    for (double& v : p) v = draw(rng);
    f.assign(f.size(), 12345.0);  // overwritten, not accumulated
    jac.assign(jac.size(), 12345.0);
    model.value_lanes(p.data(), x.data(), m, f.data());
    model.jacobian_lanes(p.data(), x.data(), m, jac.data());
    for (std::size_t l = 0; l < w; ++l) {
      for (std::size_t j = 0; j < n; ++j) p_lane[j] = p[j * w + l];
      model.value(p_lane, x, f_lane);
      model.jacobian(p_lane, x, jac_lane);
      const auto note = [&](const char* what, std::size_t i, std::size_t k, double lane,
                            double scalar) {
        if (differing++ > 0) return;
        first = model.spec() + " " + what + " lane " + std::to_string(l) + " sample " +
                std::to_string(i) + " column " + std::to_string(k) + ": lanes " +
                std::to_string(lane) + ", scalar " + std::to_string(scalar) + ", parameters";
        for (const double v : p_lane) first += " " + std::to_string(v);
      };
      for (std::size_t i = 0; i < m; ++i)
        if (!same(f[i * w + l], f_lane[i])) note("value", i, 0, f[i * w + l], f_lane[i]);
      for (std::size_t k = 0; k < n; ++k)
        for (std::size_t i = 0; i < m; ++i)
          if (!same(jac[(k * m + i) * w + l], jac_lane[k * m + i]))
            note("jacobian", i, k, jac[(k * m + i) * w + l], jac_lane[k * m + i]);
    }
  }
  return differing;
}

}  // namespace

TEST_CASE("model lanes: the same bits as the scalar model, lane by lane, on every target",
          "[models][lanes]") {
  const char* specs[] = {"gaussian",
                         "exponential",
                         "constant",
                         "linear",
                         "pseudo_voigt",
                         "poly2",
                         "poly3",
                         "poly4",
                         "poly5",
                         "gaussian+constant",
                         "exponential*2+constant",
                         "gaussian*3+linear",
                         "pseudo_voigt+poly3",
                         "lorentzian",
                         "lorentzian+linear",
                         "gaussian+lorentzian+exponential+poly2"};
  const std::vector<std::int64_t> targets = lmbatch::simd::available_targets();
  REQUIRE(!targets.empty());
  for (const std::int64_t target : targets) {
    lmbatch::simd::use_target(target);
    std::mt19937_64 rng(19);
    for (const char* spec : specs) {
      const Model model = Model::parse(spec);
      REQUIRE(model.has_lane_kernels());
      std::string first;
      const std::size_t differing = count_lane_differences(model, rng, 60, first);
      INFO("target " << lmbatch::simd::target_name(target) << " (" << lmbatch::simd::lane_width()
                     << " lanes): " << first);
      CHECK(differing == 0u);
    }
  }
  lmbatch::simd::use_target(0);
}

TEST_CASE("model lanes: only catalogue terms with lane kernels have them", "[models][lanes]") {
  CHECK(Model::parse("gaussian*3+linear").has_lane_kernels());
  CHECK(Model::parse("exponential*2+constant").has_lane_kernels());
  CHECK(Model::parse("gaussian+lorentzian").has_lane_kernels());
  CHECK_FALSE(Model::parse("gaussian + expr: c0 + c1*x").has_lane_kernels());
  CHECK_FALSE(Model::expression("a*exp(-x/t)").has_lane_kernels());
  struct Line {
    void accumulate(std::span<const double> p, std::span<const double> x,
                    std::span<double> f) const {
      for (std::size_t i = 0; i < x.size(); ++i) f[i] += p[0] * x[i];
    }
    void jacobian(std::span<const double>, std::span<const double> x, double* jac, int) const {
      for (std::size_t i = 0; i < x.size(); ++i) jac[i] = x[i];
    }
  };
  const Model functor = Model::from_functor("line", {"a"}, Line{});
  CHECK_FALSE(functor.has_lane_kernels());
  const std::size_t w = static_cast<std::size_t>(lmbatch::simd::lane_width());
  std::vector<double> p(w, 1.0), x = {1.0, 2.0}, f(2 * w);
  CHECK_THROWS_AS(functor.value_lanes(p.data(), x.data(), x.size(), f.data()), std::logic_error);
  const Model mixed = Model::parse("gaussian + expr: c0 + c1*x");
  CHECK_THROWS_AS(mixed.jacobian_lanes(p.data(), x.data(), x.size(), f.data()), std::logic_error);
}
