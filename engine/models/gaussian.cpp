// gaussian: amplitude*exp(-(x-center)^2/(2*sigma^2)).
//
// Evaluated as exp(-0.5*u*u) with u = (x-center)/sigma, in exactly the
// operation order of tests/support/gen_model_refs.py (the scipy references
// are compared iterate for iterate, so the two must agree to the last bit).
// exp is lmbatch::simd::exp, not std::exp: the lane kernels
// (lane_kernels.cpp) evaluate the same algorithm, so a model gives the same
// bits in SIMD lanes and sample by sample, on every machine (glibc picks its
// exp by CPU); the generator uses its Python port (lmbatch_exp.py).
#include <cmath>

#include "simd/exp_scalar.hpp"
#include "term_support.hpp"

namespace lmbatch::models::detail {
namespace {

// FWHM of a Gaussian in units of sigma: 2*sqrt(2*ln 2).
constexpr double kFwhmPerSigma = 2.3548200450309493;

}  // namespace

void Gaussian::accumulate(std::span<const double> p, std::span<const double> x,
                          std::span<double> f) const {
  const double amplitude = p[0], center = p[1], sigma = p[2];
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = (x[i] - center) / sigma;
    f[i] += amplitude * simd::exp_inline(-0.5 * (u * u));
  }
}

void Gaussian::jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                        int ld) const {
  const double amplitude = p[0], center = p[1], sigma = p[2];
  double* d_amplitude = jac;
  double* d_center = jac + ld;
  double* d_sigma = jac + 2 * static_cast<std::ptrdiff_t>(ld);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = (x[i] - center) / sigma;
    const double e = simd::exp_inline(-0.5 * (u * u));
    // d/dcenter = A e u/sigma; d/dsigma = A e u^2/sigma = (d/dcenter) * u.
    // Where e underflowed to 0 both derivatives are 0 (their limit), but u or
    // 1/sigma may be infinite there (sigma collapsing to 0 or subnormal):
    // 0 * inf would be NaN. Then u and sigma enter by their signs only, which
    // gives the same signed zero as the plain formula wherever it is finite.
    const double u_factor = e == 0.0 ? std::copysign(1.0, u) : u;
    const double sigma_divisor = e == 0.0 ? std::copysign(1.0, sigma) : sigma;
    const double slope = ((amplitude * e) * u_factor) / sigma_divisor;
    d_amplitude[i] = e;
    d_center[i] = slope;
    d_sigma[i] = slope * u_factor;
  }
}

// Greedy: the largest remaining extremum, its half-maximum width, then the
// estimated peak is removed so that a repeated gaussian finds the next one.
void Gaussian::estimate(std::span<const double> x, std::span<double> remaining,
                        std::span<double> p) const {
  const PeakGuess peak = find_peak(x, remaining);
  p[0] = peak.height;
  p[1] = peak.center;
  p[2] = peak.fwhm / kFwhmPerSigma;
  subtract_term(*this, p, 1, x, remaining);
}

// A peak found jointly with others (estimate.cpp): sigma from the FWHM.
void Gaussian::from_peak(double height, double center, double fwhm, std::span<double> p) {
  p[0] = height;
  p[1] = center;
  p[2] = fwhm / kFwhmPerSigma;
}

// Synthetic truth: amplitude 1..2, center and sigma from the copy's slot.
void Gaussian::truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  p[0] = 1.0 + u[2];
  p[1] = truth_center(slot, u);
  p[2] = truth_width(slot, u);
}

static_assert(CatalogueFunctor<Gaussian>);

const Term& gaussian_term() {
  static const Term term =
      make_term<Gaussian>("gaussian", "amplitude*exp(-(x-center)^2/(2*sigma^2))",
                          {"amplitude", "center", "sigma"}, /*is_baseline=*/false);
  return term;
}

}  // namespace lmbatch::models::detail
