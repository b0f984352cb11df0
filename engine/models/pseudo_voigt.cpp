// pseudo_voigt: amplitude*(eta*L + (1-eta)*G) with t = (x-center)/fwhm,
// G = exp(-4 ln2 t^2), L = 1/(1 + 4 t^2): a Lorentzian and a Gaussian of the
// same full width at half maximum, mixed by eta.
//
// Operation order mirrored by tests/support/gen_model_refs.py (the scipy
// references are compared iterate for iterate).
// exp is lmbatch::simd::exp, not std::exp: the lane kernels
// (lane_kernels.cpp) evaluate the same algorithm, so a model gives the same
// bits in SIMD lanes and sample by sample, on every machine (glibc picks its
// exp by CPU); the generator uses its Python port (lmbatch_exp.py).
#include <cmath>
#include <numbers>

#include "simd/exp_scalar.hpp"
#include "term_support.hpp"

namespace lmbatch::models::detail {
namespace {

constexpr double kFourLn2 = 4.0 * std::numbers::ln2;  // exact: ln2 times a power of two

}  // namespace

void PseudoVoigt::accumulate(std::span<const double> p, std::span<const double> x,
                             std::span<double> f) const {
  const double amplitude = p[0], center = p[1], fwhm = p[2], eta = p[3];
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = (x[i] - center) / fwhm;
    const double t2 = t * t;
    const double gauss = simd::exp_inline(-kFourLn2 * t2);
    const double lorentz = 1.0 / (1.0 + 4.0 * t2);
    f[i] += amplitude * (eta * lorentz + (1.0 - eta) * gauss);
  }
}

void PseudoVoigt::jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                           int ld) const {
  const double amplitude = p[0], center = p[1], fwhm = p[2], eta = p[3];
  double* d_amplitude = jac;
  double* d_center = jac + ld;
  double* d_fwhm = jac + 2 * static_cast<std::ptrdiff_t>(ld);
  double* d_eta = jac + 3 * static_cast<std::ptrdiff_t>(ld);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double t = (x[i] - center) / fwhm;
    const double t2 = t * t;
    const double gauss = simd::exp_inline(-kFourLn2 * t2);
    const double lorentz = 1.0 / (1.0 + 4.0 * t2);
    // df/dt = -A t S with S = 8 eta L^2 + 2 (4 ln2) (1-eta) G; dt/dcenter =
    // -1/fwhm and dt/dfwhm = -t/fwhm.
    const double s = (8.0 * eta) * (lorentz * lorentz) + ((2.0 * kFourLn2) * (1.0 - eta)) * gauss;
    // Where s underflowed to 0 (t beyond ~1e77, both shapes gone) both
    // derivatives are 0 (their limit), but t, A*t or 1/fwhm may be infinite
    // there (fwhm collapsing to 0): 0 * inf would be NaN. Then t and fwhm
    // enter by their signs only, which gives the same signed zero as the
    // plain formula wherever it is finite.
    const double t_factor = s == 0.0 ? std::copysign(1.0, t) : t;
    const double fwhm_divisor = s == 0.0 ? std::copysign(1.0, fwhm) : fwhm;
    const double a_t_s = (amplitude * t_factor) * s;
    d_amplitude[i] = eta * lorentz + (1.0 - eta) * gauss;
    d_center[i] = a_t_s / fwhm_divisor;
    d_fwhm[i] = (a_t_s * t_factor) / fwhm_divisor;
    d_eta[i] = amplitude * (lorentz - gauss);
  }
}

// Largest extremum and its measured FWHM; eta = 0.5 since a half-maximum
// width cannot tell the two shapes apart.
void PseudoVoigt::estimate(std::span<const double> x, std::span<double> remaining,
                           std::span<double> p) const {
  const PeakGuess peak = find_peak(x, remaining);
  p[0] = peak.height;
  p[1] = peak.center;
  p[2] = peak.fwhm;
  p[3] = 0.5;
  subtract_term(*this, p, 1, x, remaining);
}

// A peak found jointly with others (estimate.cpp); eta = 0.5 as above.
void PseudoVoigt::from_peak(double height, double center, double fwhm, std::span<double> p) {
  p[0] = height;
  p[1] = center;
  p[2] = fwhm;
  p[3] = 0.5;
}

// Synthetic truth: amplitude 1..2, center from the copy's slot, the FWHM of
// a Gaussian of the slot's width, eta 0.2..0.8.
void PseudoVoigt::truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  p[0] = 1.0 + u[2];
  p[1] = truth_center(slot, u);
  p[2] = 2.3548 * truth_width(slot, u);
  p[3] = 0.2 + 0.6 * u[3];
}

static_assert(CatalogueFunctor<PseudoVoigt>);

const Term& pseudo_voigt_term() {
  static const Term term = make_term<PseudoVoigt>(
      "pseudo_voigt",
      "amplitude*(eta/(1+4*(x-center)^2/fwhm^2)+(1-eta)*exp(-4*ln(2)*(x-center)^2/fwhm^2))",
      {"amplitude", "center", "fwhm", "eta"}, /*is_baseline=*/false);
  return term;
}

}  // namespace lmbatch::models::detail
