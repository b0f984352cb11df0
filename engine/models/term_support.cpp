// Helpers shared by the starting-value estimators (see term_support.hpp).
#include "term_support.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

namespace lmbatch::models::detail {

XRange x_range(std::span<const double> x) {
  if (x.empty()) return {};
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  return {*lo, *hi};
}

double fallback_scale(std::span<const double> x) {
  const double width = x_range(x).width();
  return (width > 0.0 && std::isfinite(width)) ? width : 1.0;
}

double band_quantile(std::span<const double> x, std::span<const double> values, double band_min,
                     double band_max, double q) {
  std::size_t count = 0;
  for (const double xi : x) count += xi >= band_min && xi <= band_max;
  if (count == 0) return 0.0;  // precondition violated; stay finite
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count - 1);
  return band_select(x, values, band_min, band_max, static_cast<std::size_t>(rank));
}

// 32 KiB of stack.
constexpr std::size_t kSelectOnStack = 4096;

double band_select(std::span<const double> x, std::span<const double> values, double band_min,
                   double band_max, std::size_t k) {
  const auto in_band = [&](std::size_t i) { return x[i] >= band_min && x[i] <= band_max; };
  std::size_t count = 0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!in_band(i)) continue;
    ++count;
    lo = std::min(lo, values[i]);
    hi = std::max(hi, values[i]);
  }
  if (count == 0) return 0.0;  // precondition violated; stay finite
  k = std::min(k, count - 1);
  // Up to kSelectOnStack samples (every spectrum of usual length): copy the
  // band to the stack and select in O(count): nothing allocated, and this
  // runs for every problem whose starting values are estimated.
  if (count <= kSelectOnStack) {
    std::array<double, kSelectOnStack> band;
    std::size_t j = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (in_band(i)) band[j++] = values[i];
    std::nth_element(band.begin(), band.begin() + static_cast<std::ptrdiff_t>(k),
                     band.begin() + static_cast<std::ptrdiff_t>(count));
    return band[k];
  }
  // Longer ones: bisection over the values, O(count) per step.
  const auto count_at_most = [&](double t) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < x.size(); ++i) n += in_band(i) && values[i] <= t;
    return n;
  };
  if (count_at_most(lo) > k) return lo;
  // Invariant: count_at_most(lo) <= k < count_at_most(hi), so the wanted value
  // lies in (lo, hi]. Halving (lo, hi) ends when no double is left between
  // them (about 60 steps for values of one magnitude); the cap bounds the
  // work for ranges spanning many binades, where the answer below is then the
  // nearest sample above lo instead of the exact order statistic.
  for (int step = 0; step < 200; ++step) {
    const double mid = 0.5 * lo + 0.5 * hi;  // no overflow for huge ranges
    if (!(mid > lo && mid < hi)) break;
    if (count_at_most(mid) > k) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  double answer = hi;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (in_band(i) && values[i] > lo) answer = std::min(answer, values[i]);
  return answer;
}

EdgeBands edge_bands(std::span<const double> x) {
  const XRange range = x_range(x);
  const double band = kEdgeFraction * range.width();
  EdgeBands bands{range.min, range.min + band, range.max - band, range.max};
  if (x.size() > kEdgeMinSamples) {
    // The kEdgeMinSamples-th smallest and largest x.
    bands.low_max =
        std::max(bands.low_max, band_select(x, x, range.min, range.max, kEdgeMinSamples - 1));
    bands.high_min = std::min(bands.high_min,
                              band_select(x, x, range.min, range.max, x.size() - kEdgeMinSamples));
  }
  return bands;
}

double band_spread(std::span<const double> x, std::span<const double> values, double band_min,
                   double band_max) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] < band_min || x[i] > band_max) continue;
    lo = std::min(lo, values[i]);
    hi = std::max(hi, values[i]);
  }
  return hi >= lo ? hi - lo : 0.0;
}

PeakGuess find_peak(std::span<const double> x, std::span<const double> remaining) {
  PeakGuess guess;
  guess.fwhm = fallback_scale(x);
  if (x.empty()) return guess;
  std::size_t best = 0;
  for (std::size_t i = 1; i < x.size(); ++i)
    if (std::fabs(remaining[i]) > std::fabs(remaining[best])) best = i;
  guess.height = remaining[best];
  guess.center = x[best];
  if (guess.height == 0.0) return guess;  // no signal: width stays the fallback

  const double sign = guess.height > 0.0 ? 1.0 : -1.0;
  const double half = 0.5 * std::fabs(guess.height);
  const auto signal = [&](std::size_t i) { return sign * remaining[i]; };
  const double right = level_crossing_distance(x, guess.center, 1.0, half, signal);
  const double left = level_crossing_distance(x, guess.center, -1.0, half, signal);
  // Peaks are taken as symmetric, with the narrower side's half width: a
  // neighbouring peak overlapping one side only ever widens that side, and a
  // peak cut off by the end of the data has only one side to measure.
  double fwhm = std::numeric_limits<double>::quiet_NaN();
  if (!std::isnan(right) && !std::isnan(left)) {
    fwhm = 2.0 * std::min(right, left);
  } else if (!std::isnan(right)) {
    fwhm = 2.0 * right;
  } else if (!std::isnan(left)) {
    fwhm = 2.0 * left;
  }
  if (fwhm > 0.0 && std::isfinite(fwhm)) guess.fwhm = fwhm;
  return guess;
}

}  // namespace lmbatch::models::detail
