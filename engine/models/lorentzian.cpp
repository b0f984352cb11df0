// lorentzian: amplitude*gamma^2/((x-center)^2+gamma^2), gamma the half width
// at half maximum.
//
// Operation order mirrored by tests/support/gen_model_refs.py (the scipy
// references are compared iterate for iterate).
#include <cmath>

#include "term_support.hpp"

namespace lmbatch::models::detail {

void Lorentzian::accumulate(std::span<const double> p, std::span<const double> x,
                            std::span<double> f) const {
  const double amplitude = p[0], center = p[1], gamma = p[2];
  const double gamma2 = gamma * gamma;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - center;
    const double shape = gamma2 / (d * d + gamma2);
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
    d_amplitude[i] = shape;
    d_center[i] = (two_a_over_den * shape) * d;
    d_gamma[i] = ((two_a_over_den * gamma) * (d * d)) / denominator;
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

static_assert(EstimatingTermFunctor<Lorentzian>);

const Term& lorentzian_term() {
  static const Term term =
      make_term<Lorentzian>("lorentzian", "amplitude*gamma^2/((x-center)^2+gamma^2)",
                            {"amplitude", "center", "gamma"}, /*is_baseline=*/false);
  return term;
}

}  // namespace lmbatch::models::detail
