// The catalogue terms' lane kernels (issue #19): W problems side by side, one
// per SIMD lane, W = lmbatch::simd::lane_width(). Each kernel does per lane
// exactly the operations of the term's scalar accumulate / jacobian
// (gaussian.cpp, exponential.cpp, ...), in the same order, with exp from
// lmbatch::simd (the scalar terms call the same algorithm), so that lane l's
// values and derivatives have the bits of the scalar code on lane l's
// parameters. The scalar code's conditionals become blends (IfThenElse) that
// compute both sides, which changes no bits: IEEE operations have no side
// effects here (the flags are not part of the contract).
//
// Layout: p[k*W + l] is parameter k of lane l; x holds the m sample positions
// shared by every lane; f[i*W + l] and jac[(k*m + i)*W + l] as in
// Model::value_lanes / jacobian_lanes. Compiled once per SIMD target
// (foreach_target.h) and dispatched at run time.
#include <cmath>
#include <cstddef>
#include <numbers>

#include "term_support.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "models/lane_kernels.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/exp-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::models::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<double>;
using V = hn::Vec<D>;
using lmbatch::simd::HWY_NAMESPACE::Exp;

// Parameter k of every lane.
HWY_INLINE V Param(D d, const double* p, std::size_t k) {
  return hn::LoadU(d, p + k * hn::Lanes(d));
}
// Element i of a column of m x W values: its W lanes.
HWY_INLINE double* Row(D d, double* column, std::size_t i) {
  return column + i * hn::Lanes(d);
}
HWY_INLINE double* Column(D d, double* jac, std::size_t m, std::size_t k) {
  return jac + k * m * hn::Lanes(d);
}
HWY_INLINE void Accumulate(D d, double* f, std::size_t i, V term) {
  double* row = Row(d, f, i);
  hn::StoreU(hn::Add(hn::LoadU(d, row), term), d, row);
}

// ---- gaussian (gaussian.cpp): A exp(-0.5 u^2), u = (x - center) / sigma ----

void GaussianAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), sigma = Param(d, p, 2);
  const V minus_half = hn::Set(d, -0.5);
  for (std::size_t i = 0; i < m; ++i) {
    const V u = hn::Div(hn::Sub(hn::Set(d, x[i]), center), sigma);
    Accumulate(d, f, i, hn::Mul(amplitude, Exp(d, hn::Mul(minus_half, hn::Mul(u, u)))));
  }
}

void GaussianJacobian(const double* p, const double* x, std::size_t m, double* jac) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), sigma = Param(d, p, 2);
  const V minus_half = hn::Set(d, -0.5), one = hn::Set(d, 1.0), zero = hn::Zero(d);
  const V sigma_sign = hn::CopySign(one, sigma);
  for (std::size_t i = 0; i < m; ++i) {
    const V u = hn::Div(hn::Sub(hn::Set(d, x[i]), center), sigma);
    const V e = Exp(d, hn::Mul(minus_half, hn::Mul(u, u)));
    // Where e underflowed to 0: u and sigma by their signs (see gaussian.cpp).
    const auto underflow = hn::Eq(e, zero);
    const V u_factor = hn::IfThenElse(underflow, hn::CopySign(one, u), u);
    const V sigma_divisor = hn::IfThenElse(underflow, sigma_sign, sigma);
    const V slope = hn::Div(hn::Mul(hn::Mul(amplitude, e), u_factor), sigma_divisor);
    hn::StoreU(e, d, Row(d, Column(d, jac, m, 0), i));
    hn::StoreU(slope, d, Row(d, Column(d, jac, m, 1), i));
    hn::StoreU(hn::Mul(slope, u_factor), d, Row(d, Column(d, jac, m, 2), i));
  }
}

// ---- exponential (exponential.cpp): A exp(-(x / tau)), A == 0 a zero term ----

HWY_INLINE V ScaledDecay(D d, V amplitude, V e) {
  return hn::IfThenElse(hn::Eq(amplitude, hn::Zero(d)), amplitude, hn::Mul(amplitude, e));
}

void ExponentialAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  const V amplitude = Param(d, p, 0), tau = Param(d, p, 1);
  for (std::size_t i = 0; i < m; ++i) {
    const V e = Exp(d, hn::Neg(hn::Div(hn::Set(d, x[i]), tau)));
    Accumulate(d, f, i, ScaledDecay(d, amplitude, e));
  }
}

void ExponentialJacobian(const double* p, const double* x, std::size_t m, double* jac) {
  const D d;
  const V amplitude = Param(d, p, 0), tau = Param(d, p, 1);
  const V one = hn::Set(d, 1.0), zero = hn::Zero(d);
  const V tau_sign = hn::CopySign(one, tau);
  for (std::size_t i = 0; i < m; ++i) {
    const V u = hn::Div(hn::Set(d, x[i]), tau);
    const V e = Exp(d, hn::Neg(u));
    // Where A e is 0: u and tau by their signs (see exponential.cpp).
    const V a_e = ScaledDecay(d, amplitude, e);
    const auto vanished = hn::Eq(a_e, zero);
    const V u_factor = hn::IfThenElse(vanished, hn::CopySign(one, u), u);
    const V tau_divisor = hn::IfThenElse(vanished, tau_sign, tau);
    hn::StoreU(e, d, Row(d, Column(d, jac, m, 0), i));
    hn::StoreU(hn::Div(hn::Mul(a_e, u_factor), tau_divisor), d, Row(d, Column(d, jac, m, 1), i));
  }
}

// ---- constant (constant.cpp): c ----

void ConstantAccumulate(const double* p, const double*, std::size_t m, double* f) {
  const D d;
  const V c = Param(d, p, 0);
  for (std::size_t i = 0; i < m; ++i) Accumulate(d, f, i, c);
}

void ConstantJacobian(const double*, const double*, std::size_t m, double* jac) {
  const D d;
  const V one = hn::Set(d, 1.0);
  for (std::size_t i = 0; i < m; ++i) hn::StoreU(one, d, Row(d, jac, i));
}

// ---- linear (linear.cpp): intercept + slope x ----

void LinearAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  const V intercept = Param(d, p, 0), slope = Param(d, p, 1);
  for (std::size_t i = 0; i < m; ++i)
    Accumulate(d, f, i, hn::Add(intercept, hn::Mul(slope, hn::Set(d, x[i]))));
}

void LinearJacobian(const double*, const double* x, std::size_t m, double* jac) {
  const D d;
  const V one = hn::Set(d, 1.0);
  for (std::size_t i = 0; i < m; ++i) {
    hn::StoreU(one, d, Row(d, Column(d, jac, m, 0), i));
    hn::StoreU(hn::Set(d, x[i]), d, Row(d, Column(d, jac, m, 1), i));
  }
}

// ---- poly2 .. poly5 (polynomial.cpp): Horner from the highest coefficient ----

template <int Degree>
HWY_INLINE void PolynomialAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  V coefficient[Degree + 1];
  for (int k = 0; k <= Degree; ++k) coefficient[k] = Param(d, p, static_cast<std::size_t>(k));
  for (std::size_t i = 0; i < m; ++i) {
    const V xi = hn::Set(d, x[i]);
    V value = coefficient[Degree];
    for (int k = Degree - 1; k >= 0; --k) value = hn::Add(hn::Mul(value, xi), coefficient[k]);
    Accumulate(d, f, i, value);
  }
}

template <int Degree>
HWY_INLINE void PolynomialJacobian(const double*, const double* x, std::size_t m, double* jac) {
  const D d;
  for (std::size_t i = 0; i < m; ++i) {
    const V xi = hn::Set(d, x[i]);
    V power = hn::Set(d, 1.0);
    hn::StoreU(power, d, Row(d, jac, i));
    for (int k = 1; k <= Degree; ++k) {
      power = hn::Mul(power, xi);
      hn::StoreU(power, d, Row(d, Column(d, jac, m, static_cast<std::size_t>(k)), i));
    }
  }
}

#define LMBATCH_POLYNOMIAL_LANES(N)                                                      \
  void Poly##N##Accumulate(const double* p, const double* x, std::size_t m, double* f) { \
    PolynomialAccumulate<N>(p, x, m, f);                                                 \
  }                                                                                      \
  void Poly##N##Jacobian(const double* p, const double* x, std::size_t m, double* jac) { \
    PolynomialJacobian<N>(p, x, m, jac);                                                 \
  }
LMBATCH_POLYNOMIAL_LANES(2)
LMBATCH_POLYNOMIAL_LANES(3)
LMBATCH_POLYNOMIAL_LANES(4)
LMBATCH_POLYNOMIAL_LANES(5)
#undef LMBATCH_POLYNOMIAL_LANES

// ---- lorentzian (lorentzian.cpp): A gamma^2 / ((x - center)^2 + gamma^2) ----
// Where the plain formulas give NaN (rare: squares overflowing or
// underflowing), the lanes concerned take the scalar code's limits,
// lorentzian_limits, lane by lane.

constexpr std::size_t kMaxLanes = HWY_MAX_BYTES / sizeof(double);

void LorentzianAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), gamma = Param(d, p, 2);
  const V gamma2 = hn::Mul(gamma, gamma);
  for (std::size_t i = 0; i < m; ++i) {
    const V dx = hn::Sub(hn::Set(d, x[i]), center);
    V shape = hn::Div(gamma2, hn::Add(hn::Mul(dx, dx), gamma2));
    if (HWY_UNLIKELY(!hn::AllFalse(d, hn::IsNaN(shape)))) {
      HWY_ALIGN double shapes[kMaxLanes], ds[kMaxLanes];
      hn::Store(shape, d, shapes);
      hn::Store(dx, d, ds);
      for (std::size_t l = 0; l < hn::Lanes(d); ++l)
        if (std::isnan(shapes[l]))
          shapes[l] = lorentzian_limits(p[l], ds[l], p[2 * hn::Lanes(d) + l]).shape;
      shape = hn::Load(d, shapes);
    }
    Accumulate(d, f, i, hn::Mul(amplitude, shape));
  }
}

void LorentzianJacobian(const double* p, const double* x, std::size_t m, double* jac) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), gamma = Param(d, p, 2);
  const V gamma2 = hn::Mul(gamma, gamma);
  const V two_amplitude = hn::Mul(hn::Set(d, 2.0), amplitude);
  for (std::size_t i = 0; i < m; ++i) {
    const V dx = hn::Sub(hn::Set(d, x[i]), center);
    const V denominator = hn::Add(hn::Mul(dx, dx), gamma2);
    V shape = hn::Div(gamma2, denominator);
    const V two_a_over_den = hn::Div(two_amplitude, denominator);
    V by_center = hn::Mul(hn::Mul(two_a_over_den, shape), dx);
    V by_gamma = hn::Div(hn::Mul(hn::Mul(two_a_over_den, gamma), hn::Mul(dx, dx)), denominator);
    const auto nan = hn::Or(hn::IsNaN(shape), hn::Or(hn::IsNaN(by_center), hn::IsNaN(by_gamma)));
    if (HWY_UNLIKELY(!hn::AllFalse(d, nan))) {
      HWY_ALIGN double shapes[kMaxLanes], centers[kMaxLanes], gammas[kMaxLanes], ds[kMaxLanes];
      hn::Store(shape, d, shapes);
      hn::Store(by_center, d, centers);
      hn::Store(by_gamma, d, gammas);
      hn::Store(dx, d, ds);
      const std::size_t w = hn::Lanes(d);
      for (std::size_t l = 0; l < w; ++l) {
        if (!(std::isnan(shapes[l]) || std::isnan(centers[l]) || std::isnan(gammas[l]))) continue;
        const LorentzianLimits limits = lorentzian_limits(p[l], ds[l], p[2 * w + l]);
        if (std::isnan(shapes[l])) shapes[l] = limits.shape;
        if (std::isnan(centers[l])) centers[l] = limits.d_center;
        if (std::isnan(gammas[l])) gammas[l] = limits.d_gamma;
      }
      shape = hn::Load(d, shapes);
      by_center = hn::Load(d, centers);
      by_gamma = hn::Load(d, gammas);
    }
    hn::StoreU(shape, d, Row(d, Column(d, jac, m, 0), i));
    hn::StoreU(by_center, d, Row(d, Column(d, jac, m, 1), i));
    hn::StoreU(by_gamma, d, Row(d, Column(d, jac, m, 2), i));
  }
}

// ---- pseudo_voigt (pseudo_voigt.cpp): A (eta L + (1 - eta) G) ----

constexpr double kFourLn2 = 4.0 * std::numbers::ln2;

void PseudoVoigtAccumulate(const double* p, const double* x, std::size_t m, double* f) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), fwhm = Param(d, p, 2),
          eta = Param(d, p, 3);
  const V one = hn::Set(d, 1.0), four = hn::Set(d, 4.0), minus_four_ln2 = hn::Set(d, -kFourLn2);
  const V one_minus_eta = hn::Sub(one, eta);
  for (std::size_t i = 0; i < m; ++i) {
    const V t = hn::Div(hn::Sub(hn::Set(d, x[i]), center), fwhm);
    const V t2 = hn::Mul(t, t);
    const V gauss = Exp(d, hn::Mul(minus_four_ln2, t2));
    const V lorentz = hn::Div(one, hn::Add(one, hn::Mul(four, t2)));
    Accumulate(d, f, i,
               hn::Mul(amplitude, hn::Add(hn::Mul(eta, lorentz), hn::Mul(one_minus_eta, gauss))));
  }
}

void PseudoVoigtJacobian(const double* p, const double* x, std::size_t m, double* jac) {
  const D d;
  const V amplitude = Param(d, p, 0), center = Param(d, p, 1), fwhm = Param(d, p, 2),
          eta = Param(d, p, 3);
  const V one = hn::Set(d, 1.0), four = hn::Set(d, 4.0), zero = hn::Zero(d);
  const V minus_four_ln2 = hn::Set(d, -kFourLn2);
  const V one_minus_eta = hn::Sub(one, eta);
  const V eight_eta = hn::Mul(hn::Set(d, 8.0), eta);
  const V gauss_weight = hn::Mul(hn::Set(d, 2.0 * kFourLn2), one_minus_eta);
  const V fwhm_sign = hn::CopySign(one, fwhm);
  for (std::size_t i = 0; i < m; ++i) {
    const V t = hn::Div(hn::Sub(hn::Set(d, x[i]), center), fwhm);
    const V t2 = hn::Mul(t, t);
    const V gauss = Exp(d, hn::Mul(minus_four_ln2, t2));
    const V lorentz = hn::Div(one, hn::Add(one, hn::Mul(four, t2)));
    const V s =
        hn::Add(hn::Mul(eight_eta, hn::Mul(lorentz, lorentz)), hn::Mul(gauss_weight, gauss));
    // Where s underflowed to 0: t and fwhm by their signs (see pseudo_voigt.cpp).
    const auto vanished = hn::Eq(s, zero);
    const V t_factor = hn::IfThenElse(vanished, hn::CopySign(one, t), t);
    const V fwhm_divisor = hn::IfThenElse(vanished, fwhm_sign, fwhm);
    const V a_t_s = hn::Mul(hn::Mul(amplitude, t_factor), s);
    hn::StoreU(hn::Add(hn::Mul(eta, lorentz), hn::Mul(one_minus_eta, gauss)), d,
               Row(d, Column(d, jac, m, 0), i));
    hn::StoreU(hn::Div(a_t_s, fwhm_divisor), d, Row(d, Column(d, jac, m, 1), i));
    hn::StoreU(hn::Div(hn::Mul(a_t_s, t_factor), fwhm_divisor), d, Row(d, Column(d, jac, m, 2), i));
    hn::StoreU(hn::Mul(amplitude, hn::Sub(lorentz, gauss)), d, Row(d, Column(d, jac, m, 3), i));
  }
}

}  // namespace lmbatch::models::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace lmbatch::models::detail {

// The functors' lane entry points (term_support.hpp): one dispatched call
// per term and evaluation.
#define LMBATCH_LANE_KERNELS(Functor, Name)                                                    \
  void Functor::accumulate_lanes(const double* p, const double* x, std::size_t m, double* f) { \
    LMBATCH_SIMD_DISPATCH(Name##Accumulate)(p, x, m, f);                                       \
  }                                                                                            \
  void Functor::jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac) { \
    LMBATCH_SIMD_DISPATCH(Name##Jacobian)(p, x, m, jac);                                       \
  }
LMBATCH_LANE_KERNELS(Gaussian, Gaussian)
LMBATCH_LANE_KERNELS(Exponential, Exponential)
LMBATCH_LANE_KERNELS(Constant, Constant)
LMBATCH_LANE_KERNELS(Linear, Linear)
LMBATCH_LANE_KERNELS(Lorentzian, Lorentzian)
LMBATCH_LANE_KERNELS(PseudoVoigt, PseudoVoigt)
#undef LMBATCH_LANE_KERNELS

template <int Degree>
void Polynomial<Degree>::accumulate_lanes(const double* p, const double* x, std::size_t m,
                                          double* f) {
  if constexpr (Degree == 2) LMBATCH_SIMD_DISPATCH(Poly2Accumulate)(p, x, m, f);
  if constexpr (Degree == 3) LMBATCH_SIMD_DISPATCH(Poly3Accumulate)(p, x, m, f);
  if constexpr (Degree == 4) LMBATCH_SIMD_DISPATCH(Poly4Accumulate)(p, x, m, f);
  if constexpr (Degree == 5) LMBATCH_SIMD_DISPATCH(Poly5Accumulate)(p, x, m, f);
}

template <int Degree>
void Polynomial<Degree>::jacobian_lanes(const double* p, const double* x, std::size_t m,
                                        double* jac) {
  if constexpr (Degree == 2) LMBATCH_SIMD_DISPATCH(Poly2Jacobian)(p, x, m, jac);
  if constexpr (Degree == 3) LMBATCH_SIMD_DISPATCH(Poly3Jacobian)(p, x, m, jac);
  if constexpr (Degree == 4) LMBATCH_SIMD_DISPATCH(Poly4Jacobian)(p, x, m, jac);
  if constexpr (Degree == 5) LMBATCH_SIMD_DISPATCH(Poly5Jacobian)(p, x, m, jac);
}

// Polynomial<2..5> are instantiated in polynomial.cpp; their lane members here.
#define LMBATCH_POLYNOMIAL_MEMBERS(N)                                                      \
  template void Polynomial<N>::accumulate_lanes(const double*, const double*, std::size_t, \
                                                double*);                                  \
  template void Polynomial<N>::jacobian_lanes(const double*, const double*, std::size_t, double*);
LMBATCH_POLYNOMIAL_MEMBERS(2)
LMBATCH_POLYNOMIAL_MEMBERS(3)
LMBATCH_POLYNOMIAL_MEMBERS(4)
LMBATCH_POLYNOMIAL_MEMBERS(5)
#undef LMBATCH_POLYNOMIAL_MEMBERS

}  // namespace lmbatch::models::detail
#endif  // HWY_ONCE
