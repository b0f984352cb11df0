// constant: c.
#include <cmath>

#include "term_support.hpp"

namespace lmbatch::models::detail {

void Constant::accumulate(std::span<const double> p, std::span<const double> x,
                          std::span<double> f) const {
  const double c = p[0];
  for (std::size_t i = 0; i < x.size(); ++i) f[i] += c;
}

void Constant::jacobian(std::span<const double>, std::span<const double> x, double* jac,
                        int) const {
  for (std::size_t i = 0; i < x.size(); ++i) jac[i] = 1.0;
}

// The baseline under peaks or decays is what the data show at the ends of
// the x range, away from peaks: the median of each edge band. Both edges are
// flat under peaks (their mean is taken); under a decay only the far end is,
// the near one still falling steeply, so a band clearly flatter (half the
// spread or less) than the other wins alone.
void Constant::estimate(std::span<const double> x, std::span<double> remaining,
                        std::span<double> p) const {
  double c = 0.0;
  if (!x.empty()) {
    const EdgeBands bands = edge_bands(x);
    const double low = band_quantile(x, remaining, bands.low_min, bands.low_max, 0.5);
    const double high = band_quantile(x, remaining, bands.high_min, bands.high_max, 0.5);
    const double low_spread = band_spread(x, remaining, bands.low_min, bands.low_max);
    const double high_spread = band_spread(x, remaining, bands.high_min, bands.high_max);
    if (low_spread <= 0.5 * high_spread) {
      c = low;
    } else if (high_spread <= 0.5 * low_spread) {
      c = high;
    } else {
      c = 0.5 * low + 0.5 * high;
    }
  }
  p[0] = c;
  subtract_term(*this, p, 1, x, remaining);
}

// Synthetic truth: a small offset, 0.05..0.2.
void Constant::truth(const TruthSlot&, std::span<const double> u, std::span<double> p) {
  p[0] = 0.05 + 0.15 * u[2];
}

static_assert(CatalogueFunctor<Constant>);

const Term& constant_term() {
  static const Term term = make_term<Constant>("constant", "c", {"c"}, /*is_baseline=*/true);
  return term;
}

}  // namespace lmbatch::models::detail
