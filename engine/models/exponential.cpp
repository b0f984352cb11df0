// exponential: amplitude*exp(-x/tau), amplitude the value at x = 0.
//
// Operation order mirrored by tests/support/gen_model_refs.py (the scipy
// references are compared iterate for iterate).
// exp is lmbatch::simd::exp, not std::exp: the lane kernels
// (lane_kernels.cpp) evaluate the same algorithm, so a model gives the same
// bits in SIMD lanes and sample by sample, on every machine (glibc picks its
// exp by CPU); the generator uses its Python port (lmbatch_exp.py).
#include <algorithm>
#include <cmath>

#include "simd/exp_scalar.hpp"
#include "term_support.hpp"

namespace lmbatch::models::detail {
namespace {

// A e, with A == 0 giving 0 (A itself, keeping its sign) even where e
// overflowed to inf (x/tau below about -709), where the product would be
// 0 * inf = NaN: a zero amplitude is a zero term. Elsewhere exactly A * e.
double scaled_decay(double amplitude, double e) {
  return amplitude == 0.0 ? amplitude : amplitude * e;
}

}  // namespace

void Exponential::accumulate(std::span<const double> p, std::span<const double> x,
                             std::span<double> f) const {
  const double amplitude = p[0], tau = p[1];
  for (std::size_t i = 0; i < x.size(); ++i)
    f[i] += scaled_decay(amplitude, simd::exp_inline(-(x[i] / tau)));
}

void Exponential::jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                           int ld) const {
  const double amplitude = p[0], tau = p[1];
  double* d_amplitude = jac;
  double* d_tau = jac + ld;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = x[i] / tau;
    const double e = simd::exp_inline(-u);
    // d/dtau = A e x / tau^2 = (A e) u / tau. Where A e is 0 (A == 0, or e
    // underflowed) the derivative is 0 (its limit), but u or 1/tau may be
    // infinite there (tau collapsing to 0): 0 * inf would be NaN. Then u and
    // tau enter by their signs only, which gives the same signed zero as the
    // plain formula wherever it is finite.
    const double a_e = scaled_decay(amplitude, e);
    const double u_factor = a_e == 0.0 ? std::copysign(1.0, u) : u;
    const double tau_divisor = a_e == 0.0 ? std::copysign(1.0, tau) : tau;
    d_amplitude[i] = e;
    d_tau[i] = (a_e * u_factor) / tau_divisor;
  }
}

// Decay constants are read off where the signal (relative to its value a0 at
// the smallest x) falls to e^-1, e^-2 and e^-3: a single exponential takes
// the same distance tau for each step. When the later steps are clearly
// longer than the first, the data hold a slow component under a fast one
// (exponential*2): this call then takes only the fast one, after peeling the
// slow tail (extrapolated back to the start) off the signal, and leaves the
// slow one in `remaining` for the next exponential. A lone exponential on such
// data starts from the fast component, which the fit then widens.
void Exponential::estimate(std::span<const double> x, std::span<double> remaining,
                           std::span<double> p) const {
  const double scale = fallback_scale(x);
  double amplitude = 0.0;
  double tau = scale;
  if (!x.empty()) {
    const std::size_t first =
        static_cast<std::size_t>(std::min_element(x.begin(), x.end()) - x.begin());
    const double x0 = x[first];
    const double start = remaining[first];
    double largest = 0.0;
    for (const double r : remaining) largest = std::max(largest, std::fabs(r));
    // A start at rounding level relative to the rest is no decay to measure:
    // it is what a previous exponential leaves behind after matching the
    // start exactly (exponential*k on data showing a single decay), and its
    // level crossings would give a meaningless, vanishing tau.
    if (std::fabs(start) > 1e-9 * largest) {
      const double sign = start > 0.0 ? 1.0 : -1.0;
      const double a0 = std::fabs(start);
      const auto signal = [&](std::size_t i) { return sign * remaining[i]; };
      const auto decay_distance = [&](double level) {
        return level_crossing_distance(x, x0, 1.0, level * a0, signal);
      };
      const double t1 = decay_distance(std::exp(-1.0));
      double a = a0;
      if (std::isnan(t1)) {
        // Never down to 1/e: from the overall drop, if there is one.
        const std::size_t last =
            static_cast<std::size_t>(std::max_element(x.begin(), x.end()) - x.begin());
        const double ratio = signal(last) / a0;
        if (ratio > 0.0 && ratio < 1.0 && x[last] > x0) tau = (x[last] - x0) / -std::log(ratio);
      } else {
        tau = t1;
        const double t2 = decay_distance(std::exp(-2.0));
        const double t3 = decay_distance(std::exp(-3.0));
        double tail_tau = 0.0, tail_at = 0.0, tail_level = 0.0;
        if (!std::isnan(t2) && !std::isnan(t3)) {
          tail_tau = t3 - t2, tail_at = t3, tail_level = std::exp(-3.0);
        } else if (!std::isnan(t2)) {
          tail_tau = t2 - t1, tail_at = t2, tail_level = std::exp(-2.0);
        }
        if (tail_tau > 1.5 * t1) {
          const double slow_start =
              std::min(0.9 * a0, a0 * tail_level * std::exp(std::min(tail_at / tail_tau, 700.0)));
          const double fast_start = a0 - slow_start;
          const auto fast_signal = [&](std::size_t i) {
            return signal(i) - slow_start * std::exp(-((x[i] - x0) / tail_tau));
          };
          const double fast_tau =
              level_crossing_distance(x, x0, 1.0, fast_start * std::exp(-1.0), fast_signal);
          a = fast_start;
          tau = (fast_tau > 0.0 && fast_tau < t1) ? fast_tau : 0.5 * t1;
        }
      }
      if (!(tau > 0.0 && std::isfinite(tau))) tau = scale;
      // exp(-x/tau) must stay representable at every sample (|x|/tau <= 700),
      // else the term overflows to inf where the data are finite.
      const XRange range = x_range(x);
      tau = std::max(tau, std::max(std::fabs(range.min), std::fabs(range.max)) / 700.0);
      // The amplitude parameter is the value at x = 0, not at x0; the clamp
      // keeps it finite when x0 lies many decay lengths away from 0.
      amplitude = sign * a * std::exp(std::clamp(x0 / tau, -700.0, 700.0));
      if (!std::isfinite(amplitude)) amplitude = sign * a;
    }
  }
  p[0] = amplitude;
  p[1] = tau;
  subtract_term(*this, p, 1, x, remaining);
}

// A decay split off jointly with others (estimate.cpp).
void Exponential::from_decay(double amplitude, double tau, std::span<double> p) {
  p[0] = amplitude;
  p[1] = tau;
}

// Synthetic truth: amplitude 1..2; the first copy decays fast (tau 5-15% of
// the range), later ones slower and slower.
void Exponential::truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  p[0] = 1.0 + u[2];
  p[1] = slot.span * (slot.repeat == 0 ? 0.05 + 0.1 * u[3] : 0.3 + 0.3 * u[3] * slot.repeat);
}

static_assert(CatalogueFunctor<Exponential>);

const Term& exponential_term() {
  static const Term term = make_term<Exponential>("exponential", "amplitude*exp(-x/tau)",
                                                  {"amplitude", "tau"}, /*is_baseline=*/false);
  return term;
}

}  // namespace lmbatch::models::detail
