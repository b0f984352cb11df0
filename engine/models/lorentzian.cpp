// lorentzian: amplitude*gamma^2/((x-center)^2+gamma^2), gamma the half width
// at half maximum.
//
// Operation order mirrored by tests/support/gen_model_refs.py (the scipy
// references are compared iterate for iterate).
#include <cmath>
#include <limits>

#include "term_support.hpp"

namespace lmbatch::models::detail {

// The term's shape and derivatives written in r = d/gamma, where no square
// of d or gamma is formed:
//   shape = 1/(1 + r^2), d/dcenter = 2A (r shape) shape / gamma,
//   d/dgamma = 2A (r shape)^2 / gamma.
// The plain formulas square d and gamma and turn NaN where a square
// overflows (|d| or |gamma| beyond ~1.3e154: inf/inf, 0*inf) or both
// underflow (0/0); these are their limits there. They are used only for
// results that came out NaN, so every finite result keeps its bits.
// gamma == 0 with d == 0 has no limit and stays NaN.
// (Declared in term_support.hpp: the lane kernels use it too.)
[[gnu::noinline]] LorentzianLimits lorentzian_limits(double amplitude, double d, double gamma) {
  if (gamma == 0.0) {
    // A line of zero width: 0 and flat wherever d != 0.
    const double zero_or_nan = d == 0.0 ? std::numeric_limits<double>::quiet_NaN() : 0.0;
    return {zero_or_nan, zero_or_nan, zero_or_nan};
  }
  const double r = d / gamma;
  const double shape = 1.0 / (1.0 + r * r);  // r^2 may overflow: shape 0
  // r shape = r / (1 + r^2), as 1/(r + 1/r) for |r| > 1 (r may be inf).
  const double r_shape = std::fabs(r) > 1.0 ? 1.0 / (r + 1.0 / r) : r * shape;
  // The amplitude last, so that a huge one cannot meet a zero factor as inf.
  return {shape, 2.0 * (amplitude * ((r_shape * shape) / gamma)),
          2.0 * (amplitude * ((r_shape * r_shape) / gamma))};
}

void Lorentzian::accumulate(std::span<const double> p, std::span<const double> x,
                            std::span<double> f) const {
  const double amplitude = p[0], center = p[1], gamma = p[2];
  const double gamma2 = gamma * gamma;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - center;
    double shape = gamma2 / (d * d + gamma2);
    if (std::isnan(shape)) [[unlikely]]
      shape = lorentzian_limits(amplitude, d, gamma).shape;
    f[i] += amplitude * shape;
  }
}

void Lorentzian::jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                          int ld) const {
  const double amplitude = p[0], center = p[1], gamma = p[2];
  const double gamma2 = gamma * gamma;
  double* d_amplitude = jac;
  double* d_center = jac + ld;
  double* d_gamma = jac + 2 * static_cast<std::ptrdiff_t>(ld);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - center;
    const double denominator = d * d + gamma2;
    const double shape = gamma2 / denominator;
    // d/dcenter = 2 A gamma^2 d / den^2; d/dgamma = 2 A gamma d^2 / den^2
    // (written without dividing by gamma, so gamma = 0 stays finite).
    const double two_a_over_den = (2.0 * amplitude) / denominator;
    double by_amplitude = shape;
    double by_center = (two_a_over_den * shape) * d;
    double by_gamma = ((two_a_over_den * gamma) * (d * d)) / denominator;
    if (std::isnan(by_amplitude) || std::isnan(by_center) || std::isnan(by_gamma)) [[unlikely]] {
      const LorentzianLimits limits = lorentzian_limits(amplitude, d, gamma);
      if (std::isnan(by_amplitude)) by_amplitude = limits.shape;
      if (std::isnan(by_center)) by_center = limits.d_center;
      if (std::isnan(by_gamma)) by_gamma = limits.d_gamma;
    }
    d_amplitude[i] = by_amplitude;
    d_center[i] = by_center;
    d_gamma[i] = by_gamma;
  }
}

// As gaussian: largest extremum, half width at half maximum = gamma.
void Lorentzian::estimate(std::span<const double> x, std::span<double> remaining,
                          std::span<double> p) const {
  const PeakGuess peak = find_peak(x, remaining);
  p[0] = peak.height;
  p[1] = peak.center;
  p[2] = 0.5 * peak.fwhm;
  subtract_term(*this, p, 1, x, remaining);
}

// A peak found jointly with others (estimate.cpp): gamma is the half width.
void Lorentzian::from_peak(double height, double center, double fwhm, std::span<double> p) {
  p[0] = height;
  p[1] = center;
  p[2] = 0.5 * fwhm;
}

// Synthetic truth: amplitude 1..2, center and gamma from the copy's slot.
void Lorentzian::truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  p[0] = 1.0 + u[2];
  p[1] = truth_center(slot, u);
  p[2] = truth_width(slot, u);
}

static_assert(CatalogueFunctor<Lorentzian>);

const Term& lorentzian_term() {
  static const Term term =
      make_term<Lorentzian>("lorentzian", "amplitude*gamma^2/((x-center)^2+gamma^2)",
                            {"amplitude", "center", "gamma"}, /*is_baseline=*/false);
  return term;
}

}  // namespace lmbatch::models::detail
