// Model evaluation in SIMD lanes against the scalar model (issue #19): ns per
// problem for one value and one Jacobian evaluation, for
//   gaussian+constant       m = 128
//   exponential*2+constant  m = 256
// scalar with std::exp (the catalogue before issue #19: the same terms as
// functors calling std::exp), scalar with lmbatch::simd::exp (the catalogue),
// and Model::value_lanes / jacobian_lanes on every SIMD target the CPU runs
// (W problems per call; the figure is per problem). Best of 15 runs (the
// machine may be shared: the best run is the least disturbed).
//
//   lmbatch_model_lanes_bench
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "lmbatch/models/model.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

using lmbatch::models::Model;

namespace {

// gaussian and exponential as before issue #19 (gaussian.cpp, exponential.cpp
// with std::exp): the scalar baseline.
struct GaussianStd {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const {
    const double amplitude = p[0], center = p[1], sigma = p[2];
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double u = (x[i] - center) / sigma;
      f[i] += amplitude * std::exp(-0.5 * (u * u));
    }
  }
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const {
    const double amplitude = p[0], center = p[1], sigma = p[2];
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double u = (x[i] - center) / sigma;
      const double e = std::exp(-0.5 * (u * u));
      const double u_factor = e == 0.0 ? std::copysign(1.0, u) : u;
      const double sigma_divisor = e == 0.0 ? std::copysign(1.0, sigma) : sigma;
      const double slope = ((amplitude * e) * u_factor) / sigma_divisor;
      jac[i] = e;
      jac[i + ld] = slope;
      jac[i + 2 * ld] = slope * u_factor;
    }
  }
};

struct ExponentialStd {
  static double scaled(double a, double e) { return a == 0.0 ? a : a * e; }
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const {
    for (std::size_t i = 0; i < x.size(); ++i) f[i] += scaled(p[0], std::exp(-(x[i] / p[1])));
  }
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const {
    const double amplitude = p[0], tau = p[1];
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double u = x[i] / tau;
      const double e = std::exp(-u);
      const double a_e = scaled(amplitude, e);
      const double u_factor = a_e == 0.0 ? std::copysign(1.0, u) : u;
      const double tau_divisor = a_e == 0.0 ? std::copysign(1.0, tau) : tau;
      jac[i] = e;
      jac[i + ld] = (a_e * u_factor) / tau_divisor;
    }
  }
};

template <class F>
double best_ns(F&& f, int calls) {
  double best = 1e300;
  for (int run = 0; run < 15; ++run) {
    const auto start = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) f();
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ns / calls);
  }
  return best;
}

volatile double sink;

void run(const char* name, const Model& catalogue, const Model& with_std_exp,
         const std::vector<double>& p, const std::vector<double>& x) {
  const std::size_t n = p.size(), m = x.size();
  std::vector<double> f(m), jac(n * m);
  const int calls = 4000;
  const double value_std = best_ns(
      [&] {
        with_std_exp.value(p, x, f);
        sink = f[0];
      },
      calls);
  const double jac_std = best_ns(
      [&] {
        with_std_exp.jacobian(p, x, jac);
        sink = jac[0];
      },
      calls);
  const double value_own = best_ns(
      [&] {
        catalogue.value(p, x, f);
        sink = f[0];
      },
      calls);
  const double jac_own = best_ns(
      [&] {
        catalogue.jacobian(p, x, jac);
        sink = jac[0];
      },
      calls);
  std::printf("%-24s m = %zu\n", name, m);
  std::printf("  scalar, std::exp            value %7.1f ns  jacobian %7.1f ns\n", value_std,
              jac_std);
  std::printf("  scalar, lmbatch::simd::exp  value %7.1f ns  jacobian %7.1f ns\n", value_own,
              jac_own);
  for (const std::int64_t target : lmbatch::simd::available_targets()) {
    lmbatch::simd::use_target(target);
    const auto w = static_cast<std::size_t>(lmbatch::simd::lane_width());
    std::vector<double> pl(n * w), fl(m * w), jl(n * m * w);
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t l = 0; l < w; ++l) pl[j * w + l] = p[j] * (1.0 + 0.01 * double(l));
    const int lane_calls = std::max(1, calls / static_cast<int>(w));
    const double value_lanes = best_ns(
        [&] {
          catalogue.value_lanes(pl.data(), x.data(), m, fl.data());
          sink = fl[0];
        },
        lane_calls);
    const double jac_lanes = best_ns(
        [&] {
          catalogue.jacobian_lanes(pl.data(), x.data(), m, jl.data());
          sink = jl[0];
        },
        lane_calls);
    std::printf(
        "  lanes %-7s (W = %zu)      value %7.1f ns  jacobian %7.1f ns   (per problem; "
        "x%.1f, x%.1f vs std::exp)\n",
        lmbatch::simd::target_name(target), w, value_lanes / double(w), jac_lanes / double(w),
        value_std / (value_lanes / double(w)), jac_std / (jac_lanes / double(w)));
  }
  lmbatch::simd::use_target(0);
}

}  // namespace

int main() {
  {
    std::vector<double> x(128);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 10.0 * double(i) / 127.0;
    const Model catalogue = Model::parse("gaussian+constant");
    const Model with_std = Model::from_functor("gaussian_std", {"a", "c", "s"}, GaussianStd{}) +
                           Model::parse("constant");
    run("gaussian+constant", catalogue, with_std, {1.5, 5.0, 1.2, 0.1}, x);
  }
  {
    std::vector<double> x(256);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 20.0 * double(i) / 255.0;
    const Model catalogue = Model::parse("exponential*2+constant");
    const Model with_std = Model::from_functor("exp_std", {"a", "t"}, ExponentialStd{}) +
                           Model::from_functor("exp_std", {"a", "t"}, ExponentialStd{}) +
                           Model::parse("constant");
    run("exponential*2+constant", catalogue, with_std, {2.0, 0.4, 1.0, 2.5, 0.3}, x);
  }
  return 0;
}
