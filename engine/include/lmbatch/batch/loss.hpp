// Robust losses (scipy.optimize.least_squares' loss=, f_scale=) on top of
// MINPACK's unchanged Levenberg-Marquardt.
//
// scipy minimises C^2 sum rho(z_i) / 2 with z_i = (f_i / C)^2, f_i the weighted
// residual (y - model) / sigma and C = f_scale. MINPACK minimises a sum of
// squares, so the engine hands it the transformed residual
//
//   r_i = sign(f_i) C sqrt(rho(z_i)),   sum r_i^2 = C^2 sum rho(z_i)
//
// whose sum of squares IS the robust objective (twice scipy's cost): MINPACK's
// acceptance of a step (actual vs predicted reduction of fnorm) then compares
// true objective values, and its ftol/xtol/gtol tests keep their meaning. Its
// Jacobian is, with u = |f_i| / C = sqrt(z_i),
//
//   dr_i/dx = g(u) df_i/dx,   g(u) = u rho'(z) / sqrt(rho(z)),
//
// and g -> 1 as z -> 0 for every loss (rho(z) ~ z there). scipy's own
// scale_for_robust_loss_function (an IRLS rescaling of f and J by rho') is
// made for its TRF, whose acceptance uses the true cost; inside MINPACK it
// would change the residuals MINPACK compares from one Jacobian to the next
// (fnorm would be a moving target), so it is not used here.
//
// `linear` is rho(z) = z: the engine does not transform at all then (the
// results are the plain least-squares ones, bit for bit).
//
// `poisson` is maximum likelihood for counts, on the same footing: MINPACK is
// given the signed deviance residuals (poisson_residual below), whose sum of
// squares is the Poisson deviance 2 sum (f - y + y ln(y / f)), minimal where
// the likelihood is maximal.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "lmbatch/simd/atan.hpp"
#include "lmbatch/simd/log.hpp"

namespace lmbatch::batch {

enum class Loss : std::uint8_t {
  linear,   // rho(z) = z: ordinary least squares
  soft_l1,  // 2 ((1 + z)^0.5 - 1)
  huber,    // z if z <= 1 else 2 z^0.5 - 1
  cauchy,   // ln(1 + z)
  arctan,   // atan(z)
  poisson,  // Poisson maximum likelihood: signed deviance residuals of y against f
};

// rho(z) and rho'(z) (for reference and tests; the solve uses
// robust_residual). soft_l1's 2 ((1 + z)^0.5 - 1) is written 2 z / ((1 +
// z)^0.5 + 1), the same value without scipy's cancellation at small z.
inline double loss_rho(Loss loss, double z) {
  switch (loss) {
    case Loss::soft_l1:
      return 2.0 * z / (std::sqrt(1.0 + z) + 1.0);
    case Loss::huber:
      return z <= 1.0 ? z : 2.0 * std::sqrt(z) - 1.0;
    case Loss::cauchy:
      return std::log1p(z);
    case Loss::arctan:
      return std::atan(z);
    case Loss::linear:
    case Loss::poisson:  // not a rho of (y - f): see poisson_residual
      break;
  }
  return z;
}

inline double loss_rho_prime(Loss loss, double z) {
  switch (loss) {
    case Loss::soft_l1:
      return 1.0 / std::sqrt(1.0 + z);
    case Loss::huber:
      return z <= 1.0 ? 1.0 : 1.0 / std::sqrt(z);
    case Loss::cauchy:
      return 1.0 / (1.0 + z);
    case Loss::arctan:
      return 1.0 / (1.0 + z * z);
    case Loss::linear:
    case Loss::poisson:
      break;
  }
  return 1.0;
}

// One sample's transformed residual r = sign(f) C sqrt(rho((f/C)^2)) and its
// derivative factor g = dr/df (>= 0).
struct RobustResidual {
  double r;
  double g;
};

// soft_l1's s = sqrt(1 + u^2), by operations exact per SIMD lane, so that
// robust_residual_lanes computes it with the same bits: sqrt(1 + z), z = u^2
// rounded, below u = 2^27; from there on u itself, the correctly rounded
// value (1 is then under half an ulp of u^2), which also keeps u^2 from
// overflowing. Within 1.03 ulp of the true s (std::hypot(1, u): 0.56 ulp);
// soft_l1's r and g come out within 2.3 and 3.1 ulp either way (measured
// over 2e7 arguments against long double; tests/batch/test_losses.cpp).
inline double soft_l1_root(double u, double z) {
  return u < 0x1p27 ? std::sqrt(1.0 + z) : u;
}

// For finite f and C > 0 (u = |f|/C finite). Written in u, not z = u^2, with
// each loss's 0/0 (rho(z)/z at z = 0) and inf/inf (z overflowing for
// u > 1.3e154) removed analytically: r and g are finite, g is exactly 1 at
// f == 0 (and r == f wherever rho(z) == z in floating point).
inline RobustResidual robust_residual(Loss loss, double f, double C) {
  const double u = std::fabs(f) / C;
  const double z = u * u;
  if (z == 0.0) return {f, 1.0};  // rho(z) ~ z: the identity (also when u^2 underflows)
  switch (loss) {
    case Loss::soft_l1: {
      // rho = 2 (s - 1) = 2 u^2 / (s + 1) with s = sqrt(1 + u^2) (no
      // cancellation); g = u (1/s) / sqrt(rho) = sqrt((s + 1) / 2) / s.
      const double s = soft_l1_root(u, z);
      return {std::copysign(C * u * std::sqrt(2.0 / (s + 1.0)), f), std::sqrt((s + 1.0) / 2.0) / s};
    }
    case Loss::huber:
      if (u <= 1.0) return {f, 1.0};  // rho = z: r = f
      // rho = 2u - 1, rho' = 1/u: g = 1 / sqrt(2u - 1).
      {
        const double root = std::sqrt(2.0 * u - 1.0);
        return {std::copysign(C * root, f), 1.0 / root};
      }
    case Loss::cauchy: {
      if (z <= 1.0) {
        // t = rho/z = log1p(z)/z in (0.69, 1]: r = C u sqrt(t), g = rho' / sqrt(t).
        const double t = simd::log1p(z) / z;
        return {std::copysign(C * u * std::sqrt(t), f), 1.0 / ((1.0 + z) * std::sqrt(t))};
      }
      // z may be inf (u > 1.3e154): log1p(u^2) = 2 ln u to the last bit
      // there, and so is 2 log1p(u) (ln(1 + 1/u) < 1e-154 of it).
      const double rho = std::isinf(z) ? 2.0 * simd::log1p(u) : simd::log1p(z);
      // g = u / ((1 + u^2) sqrt(rho)) = 1 / ((u + 1/u) sqrt(rho)).
      return {std::copysign(C * std::sqrt(rho), f), 1.0 / ((u + 1.0 / u) * std::sqrt(rho))};
    }
    case Loss::arctan: {
      if (z <= 1.0) {
        const double t = simd::atan(z) / z;  // in [pi/4, 1]
        return {std::copysign(C * u * std::sqrt(t), f), 1.0 / ((1.0 + z * z) * std::sqrt(t))};
      }
      // g = u / ((1 + z^2) sqrt(atan z)) = 1 / ((z + 1/z) sqrt(z atan z)): -> 0
      // (exactly 0 once z or z atan z overflows, the true value being < 1e-230).
      const double rho = simd::atan(z);
      return {std::copysign(C * std::sqrt(rho), f), 1.0 / ((z + 1.0 / z) * std::sqrt(z * rho))};
    }
    case Loss::linear:
    case Loss::poisson:
      break;
  }
  return {f, 1.0};
}

// Poisson maximum likelihood: the signed deviance residual of a count y >= 0
// against the model's value f,
//
//   r = sign(y - f) sqrt(D),   D = 2 (f - y + y ln(y / f))   (y ln(y/f) = 0 at y = 0),
//
// sum r^2 = the deviance = 2 (the log-likelihood of the saturated model minus
// that of the fit): minimising it maximises the likelihood, and MINPACK's step
// acceptance compares true deviances. With dD/df = 2 (1 - y/f),
//
//   dr/dp = -g df/dp,   g = |y - f| / (f sqrt(D)) >= 0,
//
// the factor `g` of RobustResidual (the engine writes the column -g df/dp, as
// for the robust losses). Limits: f -> y gives r -> 0 and g -> 1/sqrt(y), the
// Pearson weight; y = 0 gives r = -sqrt(2 f), g = 1/sqrt(2 f).
//
// D cancels as f -> y (f - y and y ln(y/f) nearly opposite), and a D rounded
// to the wrong side of 0 would make r jump by sqrt(y eps) there, which forward
// differences would read as a huge slope. So where |w| <= 1/10 for
// w = (f - y)/(f + y) (f/y in [9/11, 11/9]) D is written in w: with
// ln(y/f) = -2 atanh(w)
// = -2 (w + w^3/3 + w^5/5 + ...) and f - y = w (f + y),
//
//   D/2 = (f - y)^2 P,   P = (1 - 2 (y / (f + y)) w S) / (f + y),
//   S = 1/3 + w^2/5 + w^4/7 + ...,
//
// a sum of positive terms in w^2 <= 1/100 (summed to double precision) and a
// P > 0 without cancellation; then r = (y - f) sqrt(2P) and
// g = 1 / (f sqrt(2P)), free of 0/0 at f == y. Elsewhere the direct formula
// loses at most one digit to cancellation (at |w| = 1/10, D/2 is a tenth of
// |f - y|). The bound 1/10 rather than, say, 1/3 halves the series' terms: this
// function is a third of a Poisson fit's time.
//
// f <= 0 (or not finite) with y > 0 has no likelihood: r is NaN, which MINPACK
// treats as it does a NaN residual (a rejected step; at the start, ier -2).
// f == 0 with y == 0 is the limit of a vanishing term (a peak's far tail
// underflowing to 0): r = 0 and g = 0 (df/dp vanishes there faster than
// 1/sqrt(f) grows for the catalogue's terms).
inline constexpr int kPoissonSeriesTerms = 12;
// 1 / (2k + 3), k = 0..11: the series' coefficients (a multiplication per term
// instead of a division).
inline constexpr auto kPoissonSeriesInverse = [] {
  std::array<double, kPoissonSeriesTerms> c{};
  for (int k = 0; k < kPoissonSeriesTerms; ++k) c[k] = 1.0 / (2 * k + 3);
  return c;
}();

inline RobustResidual poisson_residual(double y, double f) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (!(f >= 0.0) || std::isinf(f)) return {kNaN, kNaN};
  if (y == 0.0) {
    if (f == 0.0) return {0.0, 0.0};
    const double root = std::sqrt(2.0 * f);
    return {-root, 1.0 / root};
  }
  if (f == 0.0) return {kNaN, kNaN};
  if (std::fabs(f - y) <= 0.1 * (f + y)) {
    const double inv_sum = 1.0 / (f + y);  // one division for w, y/(f + y) and P
    const double w = (f - y) * inv_sum;
    const double w2 = w * w;
    // S = sum_k w^(2k) / (2k + 3): terms fall by at least 100x; 12 terms
    // reach 1e-22 of the first at |w| = 1/10 (near the optimum, |w| ~
    // 1/(2 sqrt(y)), a handful do).
    double series = 0.0, power = 1.0;
    for (int k = 0; k < kPoissonSeriesTerms; ++k) {
      const double next = series + power * kPoissonSeriesInverse[k];
      if (next == series) break;
      series = next;
      power *= w2;
    }
    const double p = (1.0 - 2.0 * (y * inv_sum) * w * series) * inv_sum;
    const double root = std::sqrt(2.0 * p);
    return {(y - f) * root, 1.0 / (f * root)};
  }
  const double half = f - y + y * simd::log(y / f);
  const double root = std::sqrt(2.0 * half);
  return {std::copysign(root, y - f), std::fabs(y - f) / (f * root)};
}

// poisson_residual of rows x W samples, W = simd::lane_width() (one problem
// per lane, sample i of lane l at i W + l), into r and g, for the lanes whose
// live[l] is set (the others' r and g untouched); the same bits, in vectors
// (batch/loss_lanes.cpp).
void poisson_residual_lanes(const double* y, const double* f, const std::uint8_t* live, double* r,
                            double* g, std::size_t rows) noexcept;

// A converged Poisson fit's covariance, the inverse Fisher information
// (sum_i grad f_i grad f_i^T / f_i)^-1, of W problems at once (one per lane)
// with the scalar code's bits (batch/solve_problem.hpp's
// inverse_fisher_information): f the model's values, m x W, jac its Jacobian
// in the model's lane layout (column k at jac + k m W), l scratch of n x n x
// W; cov (n x n x W, element (a, b) of lane l at (a n + b) W + l) and
// std_error (n x W) out, and ok[l] = 0 where the information is not positive
// definite (the scalar code's NaN then).
void poisson_covariance_lanes(const double* f, const double* jac, std::size_t m, std::size_t n,
                              double* l, double* cov, double* std_error, std::uint8_t* ok) noexcept;

// robust_residual(loss, (y - f) / sigma, scale) of rows x W samples (sigma 1
// where unweighted: the bits of y - f), laid out and written as
// poisson_residual_lanes, for a robust loss (soft_l1, huber, cauchy, arctan);
// the same bits, in vectors where e is finite (the scalar function on the
// other lanes): every operation is exact per lane, and cauchy's log1p and
// arctan's atan are lmbatch's own, with the same bits in lanes
// (lmbatch/simd/log.hpp, atan.hpp).
void robust_residual_lanes(Loss loss, const double* y, const double* f, const double* sigma,
                           const std::uint8_t* live, double* r, double* g, std::size_t rows,
                           double scale) noexcept;

}  // namespace lmbatch::batch
