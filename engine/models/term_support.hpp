// Internal to engine/models: the catalogue's terms (one functor per file,
// written against the template model interface of lmbatch/models/model.hpp,
// see TermFunctor), the adapter that makes a catalogue Term of a functor, and
// the allocation-free helpers their starting-value estimators share.
//
// The estimators may not allocate and get no scratch beyond `remaining`, so
// order statistics are found by bisection on the value (O(m) per step) rather
// than by sorting a copy, and sample order is never assumed (x may be unsorted).
#pragma once

#include <cassert>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "lmbatch/models/model.hpp"

namespace lmbatch::models::detail {

// The catalogue terms as functors of the template model interface
// (EstimatingTermFunctor): the same accumulate / jacobian / estimate
// contracts as Term's, over all samples at once. Stateless; each is defined
// in its own file (gaussian.cpp, ..., polynomial.cpp for Polynomial<2..5>).
struct Gaussian {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 3;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  static void from_peak(double height, double center, double fwhm, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
struct Lorentzian {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 3;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  static void from_peak(double height, double center, double fwhm, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
// lorentzian's values and derivatives where the plain formulas give NaN
// (lorentzian.cpp; the scalar and the lane kernels call it on those samples).
struct LorentzianLimits {
  double shape, d_center, d_gamma;
};
LorentzianLimits lorentzian_limits(double amplitude, double d, double gamma);
struct PseudoVoigt {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 4;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  static void from_peak(double height, double center, double fwhm, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
struct Exponential {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 4;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  static void from_decay(double amplitude, double tau, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
struct Constant {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 3;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
struct Linear {
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 4;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
template <int Degree>
struct Polynomial {
  static_assert(Degree >= 2 && Degree <= 5);
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac, int ld) const;
  void estimate(std::span<const double> x, std::span<double> remaining, std::span<double> p) const;
  static constexpr int kTruthDraws = 2 + Degree + 1;
  static void truth(const TruthSlot& slot, std::span<const double> u, std::span<double> p);
  // Lane kernels (lane_kernels.cpp): see Term::accumulate_lanes.
  static void accumulate_lanes(const double* p, const double* x, std::size_t m, double* f);
  static void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac);
};
// Instantiated (for the catalogue's poly2 .. poly5) in polynomial.cpp.
extern template struct Polynomial<2>;
extern template struct Polynomial<3>;
extern template struct Polynomial<4>;
extern template struct Polynomial<5>;

// The one instance of a stateless term functor that its catalogue entry calls.
template <class F>
inline constexpr F term_functor{};

// A catalogue functor also says how synthetic problems draw its parameters
// (Term::truth and Term::truth_draws).
template <class F>
concept CatalogueFunctor = EstimatingTermFunctor<F> &&
    requires(const TruthSlot& slot, std::span<const double> u, std::span<double> p) {
  F::truth(slot, u, p);
  { F::kTruthDraws } -> std::convertible_to<int>;
};

// A functor's joint-estimation hooks (Term::from_peak, Term::from_decay),
// when it has them.
using PeakHook = void (*)(double, double, double, std::span<double>);
using DecayHook = void (*)(double, double, std::span<double>);
template <class F>
constexpr PeakHook peak_hook() {
  if constexpr (requires(std::span<double> p) { F::from_peak(1.0, 0.0, 1.0, p); }) {
    return &F::from_peak;
  } else {
    return nullptr;
  }
}
template <class F>
constexpr DecayHook decay_hook() {
  if constexpr (requires(std::span<double> p) { F::from_decay(1.0, 1.0, p); }) {
    return &F::from_decay;
  } else {
    return nullptr;
  }
}

// A functor's lane kernels (Term::accumulate_lanes, jacobian_lanes), when it
// has them.
using AccumulateLanes = void (*)(const double*, const double*, std::size_t, double*);
using JacobianLanes = void (*)(const double*, const double*, std::size_t, double*);
template <class F>
constexpr AccumulateLanes accumulate_lanes_hook() {
  if constexpr (requires { &F::accumulate_lanes; }) {
    return &F::accumulate_lanes;
  } else {
    return nullptr;
  }
}
template <class F>
constexpr JacobianLanes jacobian_lanes_hook() {
  if constexpr (requires { &F::jacobian_lanes; }) {
    return &F::jacobian_lanes;
  } else {
    return nullptr;
  }
}

// Which parameters scale with the data's intensity: every coefficient of a
// baseline (it is linear in them) and a peak's or decay's amplitude.
inline std::uint32_t intensity_bits(bool is_baseline,
                                    const std::vector<std::string_view>& parameters) {
  std::uint32_t bits = 0;
  for (std::size_t k = 0; k < parameters.size() && k < 32; ++k)
    if (is_baseline || parameters[k] == "amplitude") bits |= 1u << k;
  return bits;
}

// A catalogue entry made of a functor: its function pointers call
// term_functor<F> directly (one call per evaluation, as the functor's own).
template <CatalogueFunctor F>
Term make_term(std::string_view name, std::string_view formula,
               std::vector<std::string_view> parameters, bool is_baseline) {
  const std::uint32_t scaling = intensity_bits(is_baseline, parameters);
  return Term{
      .name = name,
      .formula = formula,
      .parameters = std::move(parameters),
      .accumulate = [](std::span<const double> p, std::span<const double> x,
                       std::span<double> f) { term_functor<F>.accumulate(p, x, f); },
      .jacobian = [](std::span<const double> p, std::span<const double> x, double* jac,
                     int ld) { term_functor<F>.jacobian(p, x, jac, ld); },
      .estimate = [](std::span<const double> x, std::span<double> remaining,
                     std::span<double> p) { term_functor<F>.estimate(x, remaining, p); },
      .is_baseline = is_baseline,
      .truth = &F::truth,
      .truth_draws = F::kTruthDraws,
      .from_peak = peak_hook<F>(),
      .from_decay = decay_hook<F>(),
      .scales_with_intensity = scaling,
      .accumulate_lanes = accumulate_lanes_hook<F>(),
      .jacobian_lanes = jacobian_lanes_hook<F>(),
  };
}

// The first two truth draws as a peak's center and width: the copy's slot is
// the repeat-th of `repeats` equal parts of [0, span]; the center lies in the
// middle 40% of the slot, the width is 4-7% of the slot.
inline double truth_center(const TruthSlot& slot, std::span<const double> u) {
  const double segment = slot.span / slot.repeats;
  return segment * (slot.repeat + 0.3 + 0.4 * u[0]);
}
inline double truth_width(const TruthSlot& slot, std::span<const double> u) {
  const double segment = slot.span / slot.repeats;
  return segment * (0.04 + 0.03 * u[1]);
}

// The catalogue entries, each built once (make_term) by its term's file.
const Term& gaussian_term();
const Term& lorentzian_term();
const Term& pseudo_voigt_term();
const Term& exponential_term();
const Term& constant_term();
const Term& linear_term();
const Term& poly2_term();
const Term& poly3_term();
const Term& poly4_term();
const Term& poly5_term();

struct XRange {
  double min = 0.0, max = 0.0;
  double width() const { return max - min; }
};
XRange x_range(std::span<const double> x);

// A strictly positive length scale for widths and decay constants when the
// data give none: the x range, or 1 where all x coincide (or there are none).
double fallback_scale(std::span<const double> x);

// The q-quantile (lower order statistic, q in [0, 1]) of values[i] over the
// samples with band_min <= x[i] <= band_max; `values` may be x itself.
// Precondition: at least one sample lies in the band.
double band_quantile(std::span<const double> x, std::span<const double> values, double band_min,
                     double band_max, double q);

// The k-th smallest (0-based; clamped to the band's size) of values[i] over
// the samples in the band. Precondition: at least one sample lies in the band.
double band_select(std::span<const double> x, std::span<const double> values, double band_min,
                   double band_max, std::size_t k);

// max - min of values[i] over the samples in the band (0 for an empty band).
double band_spread(std::span<const double> x, std::span<const double> values, double band_min,
                   double band_max);

// The samples at either end of the x range, where baseline estimators look
// for the background: those within kEdgeFraction of the range from each end,
// widened where needed to the kEdgeMinSamples samples nearest each end (fewer
// only when there are fewer samples) so that a median has something to work
// on with sparse or irregular x. Narrow enough to stay clear of peaks unless
// they sit at the very ends.
inline constexpr double kEdgeFraction = 0.1;
inline constexpr std::size_t kEdgeMinSamples = 3;
struct EdgeBands {
  double low_min = 0.0, low_max = 0.0;    // low band: low_min <= x <= low_max
  double high_min = 0.0, high_max = 0.0;  // high band: high_min <= x <= high_max
};
EdgeBands edge_bands(std::span<const double> x);

// Distance from `origin` along `direction` (+1 towards larger x, -1 towards
// smaller) to where signal(i) first drops below `level`, interpolated
// linearly between the farthest sample short of the crossing that is at or
// above the level and the nearest one beyond that is below it. NaN when the
// signal never drops below the level on that side. x may be unsorted ("first"
// and "farthest" are by position, found with two scans). The sample at the
// origin is expected at or above the level, so the result is > 0.
template <class Signal>
double level_crossing_distance(std::span<const double> x, double origin, double direction,
                               double level, const Signal& signal) {
  const auto outward = [&](double xi) { return direction * (xi - origin); };
  double out_distance = std::numeric_limits<double>::infinity();
  double out_value = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = outward(x[i]);
    if (d > 0.0 && d < out_distance) {
      if (const double v = signal(i); v < level) {
        out_distance = d;
        out_value = v;
      }
    }
  }
  if (!std::isfinite(out_distance)) return std::numeric_limits<double>::quiet_NaN();
  // Every sample strictly between the origin and the crossing is at or above
  // the level (else it would be the crossing); samples sharing the origin's x
  // but below the level are skipped. So in_value >= level > out_value.
  double in_distance = 0.0;
  double in_value = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = outward(x[i]);
    if (d >= 0.0 && d < out_distance && d >= in_distance) {
      if (const double v = signal(i); v >= level) {
        in_distance = d;
        in_value = v;
      }
    }
  }
  if (std::isnan(in_value)) return out_distance;
  const double fraction = (in_value - level) / (in_value - out_value);
  return in_distance + (out_distance - in_distance) * fraction;
}

// The largest |remaining| and where it is, with the full width at half
// maximum: twice the distance to the half-level crossing (linearly
// interpolated between samples) on the narrower side. Peaks of either sign.
struct PeakGuess {
  double height = 0.0;  // signed value of remaining at the extremum
  double center = 0.0;
  double fwhm = 1.0;  // always finite and > 0
};
PeakGuess find_peak(std::span<const double> x, std::span<const double> remaining);

// Joint estimation of a catalogue model (estimate.cpp, called by
// Model::estimate): the model's terms in order, each with its parameters.
struct JointTerm {
  const Term* term = nullptr;
  std::span<double> p;
};
// Whether the terms qualify: all catalogue terms, the non-baselines all peaks
// (from_peak) or all decays (from_decay), at least one of them, and few
// enough for the fixed-size buffers.
bool can_estimate_jointly(std::span<const JointTerm> terms);
// Writes every term's parameters from (x, y); `remaining` (x.size() doubles)
// is scratch. Finite for finite data. Allocates nothing.
void estimate_jointly(std::span<const double> x, std::span<const double> y,
                      std::span<const JointTerm> terms, std::span<double> remaining);
// Where the terms' values at p are not all finite for finite y (an estimate
// overflowing somewhere), flat terms instead: amplitudes 0, the mean of y as
// the first baseline's constant. scratch: x.size() doubles.
void make_finite(std::span<const double> x, std::span<const double> y,
                 std::span<const JointTerm> terms, std::span<double> scratch);

// remaining[i] -= term(x[i]; p) for a term that is linear in its first
// `linear_leading` parameters (every catalogue term is: the amplitude, or all
// coefficients of a baseline). Negating those parameters negates the term
// exactly, so this is the term's own accumulate, with no second formula to
// keep in step. The estimators pass their own functor (*this).
template <TermFunctor F>
void subtract_term(const F& term, std::span<const double> p, int linear_leading,
                   std::span<const double> x, std::span<double> remaining) {
  constexpr std::size_t kMaxParameters = 8;  // poly5 has the most: 6
  assert(p.size() <= kMaxParameters);
  // Zeroed only for -Wmaybe-uninitialized (the term reads just p.size() values).
  double negated[kMaxParameters] = {};
  for (std::size_t k = 0; k < p.size(); ++k)
    negated[k] = static_cast<int>(k) < linear_leading ? -p[k] : p[k];
  term.accumulate(std::span<const double>(negated, p.size()), x, remaining);
}

}  // namespace lmbatch::models::detail
