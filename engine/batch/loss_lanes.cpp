// The losses' transforms over the SIMD lanes' samples in vectors, with the
// scalar functions' bits (loss.hpp): every robust loss's robust_residual and
// poisson_residual, every operation exact per lane (cauchy's log1p, arctan's
// atan and Poisson's log lmbatch's own: simd/log-inl.h, atan-inl.h). Only
// Poisson's samples without a likelihood (f < 0, not finite, or 0 under a
// count) take the scalar function, lane by lane, for their NaN's bits.
//
// Compiled once per instruction set by Highway's foreach_target (as
// leastsq/lane_kernels.cpp); the engine's -ffp-contract=off keeps the
// multiply-adds unfused, as in the scalar function.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "batch/loss_lanes.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
//
#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

#include "lmbatch/batch/loss.hpp"
#include "simd/atan-inl.h"
#include "simd/log-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::batch::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The lanes whose live[l] is set.
template <class D>
auto LiveMask(D d, const std::uint8_t* live) {
  HWY_ALIGN double live_lanes[HWY_MAX_BYTES / sizeof(double)];
  for (std::size_t l = 0; l < hn::Lanes(d); ++l) live_lanes[l] = live[l] ? 1.0 : 0.0;
  return hn::Ne(hn::Load(d, live_lanes), hn::Zero(d));
}

// r and g of row `at` where `lanes`, the others' as they were.
template <class D, class M, class V>
void StoreWhere(D d, M lanes, V rv, V gv, double* r, double* g, std::size_t at) {
  hn::StoreU(hn::IfThenElse(lanes, rv, hn::LoadU(d, r + at)), d, r + at);
  hn::StoreU(hn::IfThenElse(lanes, gv, hn::LoadU(d, g + at)), d, g + at);
}

// r and g of row `at` where `lanes`, from the scalar function: sample(at + l)
// returns its RobustResidual.
template <class D, class M, class Sample>
void ScalarWhere(D d, M lanes, double* r, double* g, std::size_t at, Sample&& sample) {
  if (hn::AllFalse(d, lanes)) return;
  HWY_ALIGN double scalar_lanes[HWY_MAX_BYTES / sizeof(double)];
  hn::Store(hn::IfThenElseZero(lanes, hn::Set(d, 1.0)), d, scalar_lanes);
  for (std::size_t l = 0; l < hn::Lanes(d); ++l) {
    if (scalar_lanes[l] == 0.0) continue;
    const RobustResidual t = sample(at + l);
    r[at + l] = t.r;
    g[at + l] = t.g;
  }
}

void PoissonResidualLanes(const double* y, const double* f, const std::uint8_t* live, double* r,
                          double* g, std::size_t rows) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  const auto is_live = LiveMask(d, live);
  const auto zero = hn::Zero(d), one = hn::Set(d, 1.0), two = hn::Set(d, 2.0);
  const auto tenth = hn::Set(d, 0.1), inf = hn::Inf(d);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t at = i * w;
    const auto yv = hn::LoadU(d, y + at), fv = hn::LoadU(d, f + at);
    // poisson_residual's branches: f not in [0, inf) and f == 0 < y (no
    // likelihood: NaN) go to the scalar function; y == 0, near and far in
    // vectors.
    const auto valid = hn::And(hn::Ge(fv, zero), hn::Lt(fv, inf));
    const auto no_count = hn::And(valid, hn::Eq(yv, zero));
    const auto regular = hn::AndNot(hn::Or(hn::Eq(yv, zero), hn::Eq(fv, zero)), valid);
    const auto sum = hn::Add(fv, yv);
    const auto near = hn::And(regular, hn::Le(hn::Abs(hn::Sub(fv, yv)), hn::Mul(tenth, sum)));
    const auto near_lanes = hn::And(near, is_live);
    if (!hn::AllFalse(d, near_lanes)) {
      const auto inv_sum = hn::Div(one, sum);
      const auto wv = hn::Mul(hn::Sub(fv, yv), inv_sum);
      const auto w2 = hn::Mul(wv, wv);
      auto series = zero, power = one;
      auto going = near_lanes;
      for (int k = 0; k < kPoissonSeriesTerms && !hn::AllFalse(d, going); ++k) {
        const auto next = hn::Add(series, hn::Mul(power, hn::Set(d, kPoissonSeriesInverse[k])));
        going = hn::AndNot(hn::Eq(next, series), going);
        series = hn::IfThenElse(going, next, series);
        power = hn::IfThenElse(going, hn::Mul(power, w2), power);
      }
      const auto p = hn::Mul(
          hn::Sub(one, hn::Mul(hn::Mul(hn::Mul(two, hn::Mul(yv, inv_sum)), wv), series)), inv_sum);
      const auto root = hn::Sqrt(hn::Mul(two, p));
      const auto rv = hn::Mul(hn::Sub(yv, fv), root);
      const auto gv = hn::Div(one, hn::Mul(fv, root));
      StoreWhere(d, near_lanes, rv, gv, r, g, at);
    }
    // Far from f == y: D/2 = f - y + y ln(y / f), through lmbatch's log.
    const auto far_lanes = hn::And(hn::AndNot(near, regular), is_live);
    if (!hn::AllFalse(d, far_lanes)) {
      const auto difference = hn::Sub(yv, fv);
      const auto half =
          hn::Add(hn::Sub(fv, yv), hn::Mul(yv, simd::HWY_NAMESPACE::Log(d, hn::Div(yv, fv))));
      const auto root = hn::Sqrt(hn::Mul(two, half));
      StoreWhere(d, far_lanes, hn::CopySign(root, difference),
                 hn::Div(hn::Abs(difference), hn::Mul(fv, root)), r, g, at);
    }
    // y == 0: r = -sqrt(2 f), g = 1 / sqrt(2 f); both 0 where f == 0 too.
    const auto no_count_lanes = hn::And(no_count, is_live);
    if (!hn::AllFalse(d, no_count_lanes)) {
      const auto root = hn::Sqrt(hn::Mul(two, fv));
      const auto vanishing = hn::Eq(fv, zero);
      StoreWhere(d, no_count_lanes, hn::IfThenZeroElse(vanishing, hn::Neg(root)),
                 hn::IfThenZeroElse(vanishing, hn::Div(one, root)), r, g, at);
    }
    ScalarWhere(d, hn::AndNot(hn::Or(regular, no_count), is_live), r, g, at,
                [&](std::size_t k) { return poisson_residual(y[k], f[k]); });
  }
}

// inverse_fisher_information (solve_problem.hpp) of W problems at once, one
// per lane, with its bits: the Fisher information's lower triangle (each sum
// over the samples in order, samples where f == 0 left out), its Cholesky
// factor, the factor's inverse and cov = L^-T L^-1, every operation exact per
// lane and in the scalar code's order. Where the scalar code gives up (a
// pivot not positive and finite) the lane goes on with whatever it holds and
// ok[l] says 0. f: m x W, jac: column k at jac + k m W (the model's lane
// layout), l: n x n x W scratch; cov (n x n x W) and std_error (n x W) out.
void PoissonCovarianceLanes(const double* f, const double* jac, std::size_t m, std::size_t n,
                            double* l, double* cov, double* std_error, std::uint8_t* ok) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  const auto zero = hn::Zero(d), one = hn::Set(d, 1.0), inf = hn::Inf(d);
  const auto at = [&](std::size_t a, std::size_t b) { return (a * n + b) * w; };
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = 0; b <= a; ++b) {
      auto sum = zero;
      for (std::size_t i = 0; i < m; ++i) {
        const auto fi = hn::LoadU(d, f + i * w);
        const auto term = hn::Div(
            hn::Mul(hn::LoadU(d, jac + (a * m + i) * w), hn::LoadU(d, jac + (b * m + i) * w)), fi);
        sum = hn::IfThenElse(hn::Not(hn::Eq(fi, zero)), hn::Add(sum, term), sum);  // f != 0
      }
      hn::StoreU(sum, d, l + at(a, b));
    }
  auto fine = hn::Eq(zero, zero);
  for (std::size_t j = 0; j < n; ++j) {
    auto diagonal = hn::LoadU(d, l + at(j, j));
    for (std::size_t k = 0; k < j; ++k) {
      const auto v = hn::LoadU(d, l + at(j, k));
      diagonal = hn::Sub(diagonal, hn::Mul(v, v));
    }
    fine = hn::And(fine, hn::And(hn::Gt(diagonal, zero), hn::Lt(diagonal, inf)));
    const auto root = hn::Sqrt(diagonal);
    hn::StoreU(root, d, l + at(j, j));
    for (std::size_t i = j + 1; i < n; ++i) {
      auto v = hn::LoadU(d, l + at(i, j));
      for (std::size_t k = 0; k < j; ++k)
        v = hn::Sub(v, hn::Mul(hn::LoadU(d, l + at(i, k)), hn::LoadU(d, l + at(j, k))));
      hn::StoreU(hn::Div(v, root), d, l + at(i, j));
    }
  }
  for (std::size_t j = 0; j < n; ++j) {
    hn::StoreU(hn::Div(one, hn::LoadU(d, l + at(j, j))), d, l + at(j, j));
    for (std::size_t i = j + 1; i < n; ++i) {
      auto v = zero;
      for (std::size_t k = j; k < i; ++k)
        v = hn::Sub(v, hn::Mul(hn::LoadU(d, l + at(i, k)), hn::LoadU(d, l + at(k, j))));
      hn::StoreU(hn::Div(v, hn::LoadU(d, l + at(i, i))), d, l + at(i, j));
    }
  }
  for (std::size_t a = 0; a < n; ++a)
    for (std::size_t b = 0; b <= a; ++b) {
      auto sum = zero;
      for (std::size_t k = a; k < n; ++k)
        sum = hn::Add(sum, hn::Mul(hn::LoadU(d, l + at(k, a)), hn::LoadU(d, l + at(k, b))));
      hn::StoreU(sum, d, cov + at(a, b));
      hn::StoreU(sum, d, cov + at(b, a));
    }
  for (std::size_t j = 0; j < n; ++j)
    hn::StoreU(hn::Sqrt(hn::LoadU(d, cov + at(j, j))), d, std_error + j * w);
  HWY_ALIGN double flags[HWY_MAX_BYTES / sizeof(double)];
  hn::Store(hn::IfThenElseZero(fine, one), d, flags);
  for (std::size_t lane = 0; lane < w; ++lane) ok[lane] = flags[lane] != 0.0;
}

// robust_residual(L, (y - f) / sigma, C) for a robust loss, every operation
// exact per lane and in the scalar function's order; a lane
// whose e is not finite goes to the scalar function (its NaN's bits are the
// scalar expression's).
template <Loss L>
void RobustResidualLanes(const double* y, const double* f, const double* sigma,
                         const std::uint8_t* live, double* r, double* g, std::size_t rows,
                         double scale) {
  static_assert(L == Loss::huber || L == Loss::soft_l1 || L == Loss::cauchy || L == Loss::arctan);
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  const auto is_live = LiveMask(d, live);
  const auto zero = hn::Zero(d), one = hn::Set(d, 1.0), two = hn::Set(d, 2.0);
  const auto c = hn::Set(d, scale), inf = hn::Inf(d);
  for (std::size_t i = 0; i < rows; ++i) {
    const std::size_t at = i * w;
    const auto e =
        hn::Div(hn::Sub(hn::LoadU(d, y + at), hn::LoadU(d, f + at)), hn::LoadU(d, sigma + at));
    const auto finite = hn::Lt(hn::Abs(e), inf);  // false for NaN
    const auto u = hn::Div(hn::Abs(e), c);
    const auto z = hn::Mul(u, u);
    // z == 0 (u^2 underflowing), and huber's u <= 1: r = e, g = 1.
    auto identity = hn::Eq(z, zero);
    hn::Vec<decltype(d)> rv, gv;
    if constexpr (L == Loss::huber) {
      identity = hn::Or(identity, hn::Le(u, one));
      const auto root = hn::Sqrt(hn::Sub(hn::Mul(two, u), one));
      rv = hn::CopySign(hn::Mul(c, root), e);
      gv = hn::Div(one, root);
    } else if constexpr (L == Loss::soft_l1) {  // with soft_l1_root's s
      const auto s = hn::IfThenElse(hn::Lt(u, hn::Set(d, 0x1p27)), hn::Sqrt(hn::Add(one, z)), u);
      const auto s1 = hn::Add(s, one);
      rv = hn::CopySign(hn::Mul(hn::Mul(c, u), hn::Sqrt(hn::Div(two, s1))), e);
      gv = hn::Div(hn::Sqrt(hn::Div(s1, two)), s);
    } else if constexpr (L == Loss::cauchy) {
      // z <= 1 through t = log1p(z) / z, else rho = log1p(z) (2 log1p(u): z inf)
      const auto overflow = hn::IsInf(z);
      const auto l = simd::HWY_NAMESPACE::Log1p(d, hn::IfThenElse(overflow, u, z));
      const auto root_t = hn::Sqrt(hn::Div(l, z));
      const auto root_rho = hn::Sqrt(hn::IfThenElse(overflow, hn::Mul(two, l), l));
      const auto near = hn::Le(z, one);
      rv = hn::CopySign(hn::IfThenElse(near, hn::Mul(hn::Mul(c, u), root_t), hn::Mul(c, root_rho)),
                        e);
      gv = hn::Div(one, hn::IfThenElse(near, hn::Mul(hn::Add(one, z), root_t),
                                       hn::Mul(hn::Add(u, hn::Div(one, u)), root_rho)));
    } else {  // arctan: z <= 1 through t = atan(z) / z, else rho = atan(z)
      const auto rho = simd::HWY_NAMESPACE::Atan(d, z);
      const auto root_t = hn::Sqrt(hn::Div(rho, z));
      const auto near = hn::Le(z, one);
      rv = hn::CopySign(
          hn::IfThenElse(near, hn::Mul(hn::Mul(c, u), root_t), hn::Mul(c, hn::Sqrt(rho))), e);
      gv = hn::Div(one,
                   hn::IfThenElse(near, hn::Mul(hn::Add(one, hn::Mul(z, z)), root_t),
                                  hn::Mul(hn::Add(z, hn::Div(one, z)), hn::Sqrt(hn::Mul(z, rho)))));
    }
    StoreWhere(d, hn::And(finite, is_live), hn::IfThenElse(identity, e, rv),
               hn::IfThenElse(identity, one, gv), r, g, at);
    ScalarWhere(d, hn::AndNot(finite, is_live), r, g, at,
                [&](std::size_t k) { return robust_residual(L, (y[k] - f[k]) / sigma[k], scale); });
  }
}

// RobustResidualLanes for the loss given at run time: one function to
// dispatch per instruction set.
void RobustResidualLanesOf(Loss loss, const double* y, const double* f, const double* sigma,
                           const std::uint8_t* live, double* r, double* g, std::size_t rows,
                           double scale) {
  switch (loss) {
    case Loss::soft_l1:
      return RobustResidualLanes<Loss::soft_l1>(y, f, sigma, live, r, g, rows, scale);
    case Loss::huber:
      return RobustResidualLanes<Loss::huber>(y, f, sigma, live, r, g, rows, scale);
    case Loss::cauchy:
      return RobustResidualLanes<Loss::cauchy>(y, f, sigma, live, r, g, rows, scale);
    case Loss::arctan:
      return RobustResidualLanes<Loss::arctan>(y, f, sigma, live, r, g, rows, scale);
    case Loss::linear:
    case Loss::poisson:
      break;  // not a robust loss: not called
  }
}

}  // namespace lmbatch::batch::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace lmbatch::batch {

void poisson_residual_lanes(const double* y, const double* f, const std::uint8_t* live, double* r,
                            double* g, std::size_t rows) noexcept {
  LMBATCH_SIMD_DISPATCH(PoissonResidualLanes)(y, f, live, r, g, rows);
}

void poisson_covariance_lanes(const double* f, const double* jac, std::size_t m, std::size_t n,
                              double* l, double* cov, double* std_error,
                              std::uint8_t* ok) noexcept {
  LMBATCH_SIMD_DISPATCH(PoissonCovarianceLanes)(f, jac, m, n, l, cov, std_error, ok);
}

void robust_residual_lanes(Loss loss, const double* y, const double* f, const double* sigma,
                           const std::uint8_t* live, double* r, double* g, std::size_t rows,
                           double scale) noexcept {
  LMBATCH_SIMD_DISPATCH(RobustResidualLanesOf)(loss, y, f, sigma, live, r, g, rows, scale);
}

}  // namespace lmbatch::batch
#endif  // HWY_ONCE
