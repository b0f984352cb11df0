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
#pragma once

#include <cmath>
#include <cstdint>

namespace lmbatch::batch {

enum class Loss : std::uint8_t {
  linear,   // rho(z) = z: ordinary least squares
  soft_l1,  // 2 ((1 + z)^0.5 - 1)
  huber,    // z if z <= 1 else 2 z^0.5 - 1
  cauchy,   // ln(1 + z)
  arctan,   // atan(z)
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
      const double s = std::hypot(1.0, u);
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
        const double t = std::log1p(z) / z;
        return {std::copysign(C * u * std::sqrt(t), f), 1.0 / ((1.0 + z) * std::sqrt(t))};
      }
      // z may be inf (u > 1.3e154): log1p(u^2) = 2 ln u to the last bit there.
      const double rho = std::isinf(z) ? 2.0 * std::log(u) : std::log1p(z);
      // g = u / ((1 + u^2) sqrt(rho)) = 1 / ((u + 1/u) sqrt(rho)).
      return {std::copysign(C * std::sqrt(rho), f), 1.0 / ((u + 1.0 / u) * std::sqrt(rho))};
    }
    case Loss::arctan: {
      if (z <= 1.0) {
        const double t = std::atan(z) / z;  // in [pi/4, 1]
        return {std::copysign(C * u * std::sqrt(t), f), 1.0 / ((1.0 + z * z) * std::sqrt(t))};
      }
      // g = u / ((1 + z^2) sqrt(atan z)) = 1 / ((z + 1/z) sqrt(z atan z)): -> 0
      // (exactly 0 once z or z atan z overflows, the true value being < 1e-230).
      const double rho = std::atan(z);
      return {std::copysign(C * std::sqrt(rho), f), 1.0 / ((z + 1.0 / z) * std::sqrt(z * rho))};
    }
    case Loss::linear:
      break;
  }
  return {f, 1.0};
}

}  // namespace lmbatch::batch
