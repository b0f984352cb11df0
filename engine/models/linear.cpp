// linear: intercept + slope*x.
//
// Operation order mirrored by tests/support/gen_model_refs.py.
#include <cmath>

#include "term_support.hpp"

namespace lmbatch::models::detail {

void Linear::accumulate(std::span<const double> p, std::span<const double> x,
                        std::span<double> f) const {
  const double intercept = p[0], slope = p[1];
  for (std::size_t i = 0; i < x.size(); ++i) f[i] += intercept + slope * x[i];
}

void Linear::jacobian(std::span<const double>, std::span<const double> x, double* jac,
                      int ld) const {
  double* d_intercept = jac;
  double* d_slope = jac + ld;
  for (std::size_t i = 0; i < x.size(); ++i) {
    d_intercept[i] = 1.0;
    d_slope[i] = x[i];
  }
}

// The line through the two ends of the data: (median x, median remaining)
// of the lowest and of the highest edge band, so that peaks away from the
// ends do not tilt it and noise is averaged out.
void Linear::estimate(std::span<const double> x, std::span<double> remaining,
                      std::span<double> p) const {
  double intercept = 0.0, slope = 0.0;
  if (!x.empty()) {
    const EdgeBands bands = edge_bands(x);
    const double low_x = band_quantile(x, x, bands.low_min, bands.low_max, 0.5);
    const double low_y = band_quantile(x, remaining, bands.low_min, bands.low_max, 0.5);
    const double high_x = band_quantile(x, x, bands.high_min, bands.high_max, 0.5);
    const double high_y = band_quantile(x, remaining, bands.high_min, bands.high_max, 0.5);
    intercept = low_y;
    if (high_x > low_x) {
      const double s = (high_y - low_y) / (high_x - low_x);
      const double b = low_y - s * low_x;
      if (std::isfinite(s) && std::isfinite(b)) slope = s, intercept = b;
    }
  }
  p[0] = intercept;
  p[1] = slope;
  subtract_term(*this, p, 2, x, remaining);
}

// Synthetic truth: intercept 0.05..0.2, a slope changing it by at most 0.1
// over the range.
void Linear::truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  p[0] = 0.05 + 0.15 * u[2];
  p[1] = (0.2 * u[3] - 0.1) / slot.span;
}

static_assert(CatalogueFunctor<Linear>);

const Term& linear_term() {
  static const Term term = make_term<Linear>("linear", "intercept+slope*x", {"intercept", "slope"},
                                             /*is_baseline=*/true);
  return term;
}

}  // namespace lmbatch::models::detail
