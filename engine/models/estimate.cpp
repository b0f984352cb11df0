// Joint starting values for catalogue models of several peaks or decays
// (Model::estimate; see term_support.hpp).
//
// The terms' own estimators are greedy: each takes the largest feature left
// by the ones before it. On noisy spectra with two peaks the second copy then
// lands on a noise spike on the flank of the first, or on the baseline, and
// the fit ends in a worse local minimum (issue 17: 29 % of the pixels of a
// two-gaussian cube). Here the model looks at all of its terms at once:
//
// - Peaks: the baselines are taken from the edges (their own estimators),
//   the rest is smoothed lightly (binomial passes, as many as the noise and
//   the widest feature call for), its maxima ranked by topographic
//   prominence (the height of a peak above the higher of the two lowest
//   points that separate it from any higher peak, as scipy.signal's
//   peak_prominences) and the k most prominent above the noise taken, in
//   order of position, for the k peak terms. Widths come from the
//   half-prominence crossings, corrected for the smoothing. Peaks that do not
//   show as maxima (a weak shoulder) are placed at the largest residual
//   left by the others.
// - Decays: a sum of k exponentials plus a polynomial baseline of degree D
//   solves a linear differential equation of order k; integrated k times it
//   is linear in the data's repeated integrals, so its coefficients come
//   from one linear least-squares fit, and the decay rates are the roots of
//   its characteristic polynomial (J. Jacquelin, "Régressions et équations
//   intégrales", 2009; the integrals average the noise out, where
//   differences would amplify it).
// - Then every linear parameter (amplitudes, baseline coefficients) by
//   linear least squares on the samples themselves, kept when it is sensible.
//
// Nothing is allocated: the data are binned onto a grid of at most kGrid
// points on the stack (exactly the samples, sorted, when there are no more
// than that), and least squares runs by Givens rotations row by row.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>

#include "term_support.hpp"

namespace lmbatch::models::detail {
namespace {

constexpr std::size_t kGrid = 1024;    // grid points (samples beyond: binned)
constexpr std::size_t kMaxPeaks = 16;  // peak terms estimated jointly
constexpr std::size_t kMaxDecays = 4;  // decay terms estimated jointly
constexpr int kMaxColumns = 24;        // linear parameters solved together
constexpr std::size_t kMaxCandidates = kMaxPeaks + 8;
constexpr double kFwhmPerSigma = 2.3548200450309493;  // 2 sqrt(2 ln 2)

bool is_peak(const Term& t) {
  return t.from_peak != nullptr;
}
bool is_decay(const Term& t) {
  return t.from_decay != nullptr;
}

// Catalogue baselines are the polynomials c0 + c1 x + ... (model.hpp).
int baseline_degree(const Term& t) {
  return static_cast<int>(t.parameters.size()) - 1;
}

// Linear least squares min |A z - b| built row by row with Givens rotations
// (Golub & Van Loan, 5.2.3): only the triangular factor is kept.
class LeastSquares {
 public:
  explicit LeastSquares(int n) : n_(n) {
    for (int j = 0; j < n_; ++j) {
      std::fill_n(r_[j].begin(), n_, 0.0);
      qtb_[j] = 0.0;
      norms_[j] = 0.0;
    }
  }
  void add_row(const double* a, double b) {
    std::array<double, kMaxColumns> row;
    for (int j = 0; j < n_; ++j) {
      row[j] = a[j];
      norms_[j] += a[j] * a[j];
    }
    for (int j = 0; j < n_; ++j) {
      if (row[j] == 0.0) continue;
      // sqrt(a^2 + b^2), by hypot only where the squares would overflow or
      // underflow (hypot is several times slower).
      double h =
          r_[j][j] == 0.0 ? std::fabs(row[j]) : std::sqrt(r_[j][j] * r_[j][j] + row[j] * row[j]);
      if (!(h > 1e-150 && h < 1e150)) h = std::hypot(r_[j][j], row[j]);
      const double c = r_[j][j] / h, s = row[j] / h;
      r_[j][j] = h;
      for (int k = j + 1; k < n_; ++k) {
        const double t = r_[j][k];
        r_[j][k] = c * t + s * row[k];
        row[k] = c * row[k] - s * t;
      }
      const double t = qtb_[j];
      qtb_[j] = c * t + s * b;
      b = c * b - s * t;
    }
  }
  // The solution; a column whose pivot is negligible against its norm (no
  // information beyond the others) gets 0. False if anything is not finite.
  bool solve(double* z) const {
    bool finite = true;
    for (int j = n_ - 1; j >= 0; --j) {
      const double pivot = r_[j][j];
      if (!(std::fabs(pivot) > 1e-10 * std::sqrt(norms_[j]))) {
        z[j] = 0.0;
        continue;
      }
      double sum = qtb_[j];
      for (int k = j + 1; k < n_; ++k) sum -= r_[j][k] * z[k];
      z[j] = sum / pivot;
      finite = finite && std::isfinite(z[j]);
    }
    return finite;
  }

 private:
  int n_;
  std::array<std::array<double, kMaxColumns>, kMaxColumns> r_;
  std::array<double, kMaxColumns> qtb_;
  std::array<double, kMaxColumns> norms_;
};

// The samples sorted into at most kGrid bins over [min x, max x], each the
// mean x and mean value of its samples; empty bins dropped. With no more
// samples than kGrid on a regular grid: the samples themselves, sorted.
struct Grid {
  std::array<double, kGrid> x, y;
  std::size_t n = 0;
  void build(std::span<const double> xs, std::span<const double> values,
             std::array<double, kGrid>& count) {
    n = 0;
    if (xs.empty()) return;
    const XRange range = x_range(xs);
    const double width = range.width();
    if (!(width > 0.0 && std::isfinite(width))) return;
    const std::size_t bins = std::min(xs.size(), kGrid);
    std::fill_n(x.begin(), bins, 0.0);
    std::fill_n(y.begin(), bins, 0.0);
    std::fill_n(count.begin(), bins, 0.0);
    const double scale = static_cast<double>(bins - 1) / width;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double position = (xs[i] - range.min) * scale + 0.5;
      const auto b = std::min(bins - 1, static_cast<std::size_t>(std::max(0.0, position)));
      x[b] += xs[i];
      y[b] += values[i];
      count[b] += 1.0;
    }
    for (std::size_t b = 0; b < bins; ++b) {
      if (count[b] == 0.0) continue;
      x[n] = x[b] / count[b];
      y[n] = y[b] / count[b];
      ++n;
    }
  }
};

// One pass of the binomial filter (1, 2, 1)/4, ends held.
void binomial_pass(double* a, std::size_t n) {
  if (n < 3) return;
  double previous = a[0];
  for (std::size_t i = 0; i < n; ++i) {
    const double current = a[i];
    const double next = i + 1 < n ? a[i + 1] : current;
    a[i] = 0.25 * previous + 0.5 * current + 0.25 * next;
    previous = current;
  }
}

// The standard deviation of white noise after `passes` binomial passes, per
// unit before: sqrt(sum of the squared weights) = sqrt(C(4p, 2p) / 16^p).
// As the product of (2p + i) / (4 i), i = 1..2p (16^p = 4^(2p)), which stays
// near 1/sqrt(2 pi p): no lgamma, whose global signgam is a data race between
// threads (ThreadSanitizer, the CI's TSan step).
double smoothing_noise_factor(int passes) {
  double c = 1.0;
  for (int i = 1; i <= 2 * passes; ++i) c *= (2.0 * passes + i) / (4.0 * i);
  return std::sqrt(c);
}

// The noise of the grid values: median |second difference| / 0.6745 / sqrt(6)
// (white noise of standard deviation s gives second differences of standard
// deviation sqrt(6) s; the median ignores the few large ones at peaks).
double noise_level(const Grid& g, std::array<double, kGrid>& scratch) {
  if (g.n < 3) return 0.0;
  const std::size_t count = g.n - 2;
  for (std::size_t i = 0; i < count; ++i)
    scratch[i] = std::fabs(g.y[i] - 2.0 * g.y[i + 1] + g.y[i + 2]);
  const auto middle = scratch.begin() + static_cast<std::ptrdiff_t>(count / 2);
  std::nth_element(scratch.begin(), middle, scratch.begin() + static_cast<std::ptrdiff_t>(count));
  return *middle / (0.6745 * std::sqrt(6.0));
}

// Where t falls to `level` going from index i in direction dir (+1/-1), as
// an x distance (linear interpolation between grid points); NaN if never.
double crossing(const Grid& g, const double* t, std::size_t i, int dir, double level) {
  std::size_t j = i;
  for (;;) {
    if (dir < 0 && j == 0) return std::numeric_limits<double>::quiet_NaN();
    const std::size_t next = dir > 0 ? j + 1 : j - 1;
    if (next >= g.n) return std::numeric_limits<double>::quiet_NaN();
    if (t[next] < level) {
      const double fraction = (t[j] - level) / (t[j] - t[next]);
      const double at = g.x[j] + (g.x[next] - g.x[j]) * fraction;
      return std::fabs(at - g.x[i]);
    }
    j = next;
  }
}

// A peak's full width at `level` below its top: twice the narrower side's
// half width (a neighbour only ever widens one side; an edge cuts one off).
double width_at(const Grid& g, const double* t, std::size_t i, double level) {
  const double right = crossing(g, t, i, +1, level);
  const double left = crossing(g, t, i, -1, level);
  double w = std::numeric_limits<double>::quiet_NaN();
  if (!std::isnan(right) && !std::isnan(left)) {
    w = 2.0 * std::min(right, left);
  } else if (!std::isnan(right)) {
    w = 2.0 * right;
  } else if (!std::isnan(left)) {
    w = 2.0 * left;
  }
  return w;
}

// The vertex of the parabola through three neighbouring grid points.
double vertex(const Grid& g, const double* t, std::size_t i) {
  if (i == 0 || i + 1 >= g.n) return g.x[i];
  const double curvature = t[i - 1] - 2.0 * t[i] + t[i + 1];
  if (!(curvature < 0.0)) return g.x[i];
  const double offset = std::clamp(0.5 * (t[i - 1] - t[i + 1]) / curvature, -0.5, 0.5);
  const double step = offset > 0.0 ? g.x[i + 1] - g.x[i] : g.x[i] - g.x[i - 1];
  return g.x[i] + offset * step;
}

// Topographic prominence of the maximum at i (scipy.signal.peak_prominences).
double prominence(const double* t, std::size_t n, std::size_t i) {
  double left_min = t[i];
  for (std::size_t j = i; j-- > 0;) {
    if (t[j] > t[i]) break;
    left_min = std::min(left_min, t[j]);
  }
  double right_min = t[i];
  for (std::size_t j = i + 1; j < n; ++j) {
    if (t[j] > t[i]) break;
    right_min = std::min(right_min, t[j]);
  }
  return t[i] - std::max(left_min, right_min);
}

struct Peak {
  double center = 0.0, height = 0.0, fwhm = 1.0;
};

// The terms that are not baselines, in model order, and how many.
struct Counts {
  std::size_t peaks = 0, decays = 0, others = 0;
  int degree = -1;  // the baselines' highest degree (-1: none)
};
Counts count_terms(std::span<const JointTerm> terms) {
  Counts c;
  for (const JointTerm& jt : terms) {
    if (jt.term == nullptr) {
      ++c.others;
    } else if (jt.term->is_baseline) {
      c.degree = std::max(c.degree, baseline_degree(*jt.term));
    } else if (is_peak(*jt.term)) {
      ++c.peaks;
    } else if (is_decay(*jt.term)) {
      ++c.decays;
    } else {
      ++c.others;
    }
  }
  return c;
}

int linear_columns(std::span<const JointTerm> terms, bool baselines, bool others) {
  int n = 0;
  for (const JointTerm& jt : terms)
    n += jt.term->is_baseline ? (baselines ? static_cast<int>(jt.p.size()) : 0) : (others ? 1 : 0);
  return n;
}

// Least squares over the linear parameters (every coefficient of the
// baselines, when `baselines`; the amplitude, first parameter, of the other
// terms, when `others`), the rest held at their values in p. Writes them to
// p and returns true when the solution is finite; p is left alone otherwise.
bool solve_linear(std::span<const double> x, std::span<const double> y,
                  std::span<const JointTerm> terms, bool baselines, bool others) {
  const int n = linear_columns(terms, baselines, others);
  if (n == 0 || n > kMaxColumns || x.size() < static_cast<std::size_t>(n)) return false;
  constexpr std::size_t kBlock = 64;
  LeastSquares ls(n);
  std::array<double, kBlock * kMaxColumns> columns;
  std::array<double, kBlock> fixed;
  std::array<double, 8> unit;  // poly5 has the most parameters: 6
  for (std::size_t start = 0; start < x.size(); start += kBlock) {
    const std::size_t size = std::min(kBlock, x.size() - start);
    const auto xb = x.subspan(start, size);
    std::fill_n(fixed.begin(), size, 0.0);
    std::fill_n(columns.begin(), static_cast<std::size_t>(n) * kBlock, 0.0);
    // Baselines first, then the others, each group in model order: the
    // same bits wherever a baseline is written in the specification.
    int column = 0;
    for (const bool group : {true, false})
      for (const JointTerm& jt : terms) {
        if (jt.term->is_baseline != group) continue;
        const std::size_t np = jt.p.size();
        const bool free = group ? baselines : others;
        if (!free) {
          jt.term->accumulate(jt.p, xb, std::span<double>(fixed.data(), size));
          continue;
        }
        const std::size_t linear = group ? np : 1;
        for (std::size_t k = 0; k < linear; ++k) {
          for (std::size_t q = 0; q < np; ++q)
            unit[q] = q < linear ? (q == k ? 1.0 : 0.0) : jt.p[q];
          jt.term->accumulate(std::span<const double>(unit.data(), np), xb,
                              std::span<double>(columns.data() + column * kBlock, size));
          ++column;
        }
      }
    std::array<double, kMaxColumns> row;
    for (std::size_t i = 0; i < size; ++i) {
      bool finite = true;
      for (int c = 0; c < n; ++c) {
        row[c] = columns[c * kBlock + i];
        finite = finite && std::isfinite(row[c]);
      }
      const double rhs = y[start + i] - fixed[i];
      if (!finite || !std::isfinite(rhs)) return false;
      ls.add_row(row.data(), rhs);
    }
  }
  std::array<double, kMaxColumns> z;
  if (!ls.solve(z.data())) return false;
  int column = 0;
  for (const bool group : {true, false})
    for (const JointTerm& jt : terms) {
      if (jt.term->is_baseline != group || !(group ? baselines : others)) continue;
      const std::size_t linear = group ? jt.p.size() : 1;
      for (std::size_t k = 0; k < linear; ++k) jt.p[k] = z[column++];
    }
  return true;
}

// The parameters of every term, saved and restored around trials.
struct Saved {
  std::array<double, 4 * kMaxColumns> values;
  std::size_t count = 0;
  void save(std::span<const JointTerm> terms) {
    count = 0;
    for (const JointTerm& jt : terms)
      for (const double v : jt.p)
        if (count < values.size()) values[count++] = v;
  }
  void restore(std::span<const JointTerm> terms) const {
    std::size_t i = 0;
    for (const JointTerm& jt : terms)
      for (double& v : jt.p)
        if (i < count) v = values[i++];
  }
};

// Greedy, as a model of terms that cannot be estimated jointly: baselines
// first, then the others in order, each from what the earlier ones leave.
void estimate_greedy(std::span<const double> x, std::span<const double> y,
                     std::span<const JointTerm> terms, std::span<double> remaining,
                     bool baselines_done) {
  if (!baselines_done) std::copy(y.begin(), y.end(), remaining.begin());
  for (const bool baselines : {true, false}) {
    if (baselines && baselines_done) continue;
    for (const JointTerm& jt : terms)
      if (jt.term->is_baseline == baselines) jt.term->estimate(x, remaining, jt.p);
  }
}

// Baselines from the edges (their own estimators), leaving the rest of y in
// `remaining`.
void estimate_baselines(std::span<const double> x, std::span<const double> y,
                        std::span<const JointTerm> terms, std::span<double> remaining) {
  std::copy(y.begin(), y.end(), remaining.begin());
  for (const JointTerm& jt : terms)
    if (jt.term->is_baseline) jt.term->estimate(x, remaining, jt.p);
}

// ---------------------------------------------------------------- peaks --

struct Workspace {
  Grid grid;
  std::array<double, kGrid> smooth, other, shape;
};

// The peaks' sum over the grid (sign-adjusted), each of `shape`.
void peak_values(const Grid& g, const Term& shape, const double* params, std::size_t count,
                 double* out) {
  const std::size_t np = shape.parameters.size();
  std::fill_n(out, g.n, 0.0);
  for (std::size_t j = 0; j < count; ++j)
    shape.accumulate(std::span<const double>(params + j * np, np),
                     std::span<const double>(g.x.data(), g.n), std::span<double>(out, g.n));
}

// Gauss-Newton on the peaks' parameters against the grid's (sign-adjusted,
// unsmoothed) values, halving steps that do not lower the sum of squares, a
// few iterations (returns the sum of squares): the peaks placed so far take
// the widths and heights that
// fit them, so that what they leave shows the peaks still missing, not
// their own misfit. Each peak is of `shape`, its parameters amplitude,
// center, width (and more) in that order. Steps that make an amplitude or a
// width non-positive, or move a center off the data, are not taken.
double refine_peaks(const Grid& g, double sign, const Term& shape, Peak* peaks, std::size_t count,
                    double min_width) {
  const std::size_t np = shape.parameters.size();
  const std::size_t n = count * np;
  if (n > static_cast<std::size_t>(kMaxColumns) || g.n < n + 1)
    return std::numeric_limits<double>::infinity();
  std::array<double, 8> unit_params;
  shape.from_peak(1.0, 0.0, 1.0, std::span<double>(unit_params.data(), np));
  const double width_per_fwhm = unit_params[2];
  std::array<double, kMaxColumns> params, trial, step;
  for (std::size_t j = 0; j < count; ++j)
    shape.from_peak(peaks[j].height, peaks[j].center, peaks[j].fwhm,
                    std::span<double>(params.data() + j * np, np));
  const double lo = g.x[0], hi = g.x[g.n - 1];
  constexpr std::size_t kBlock = 64;
  std::array<double, kBlock> f;
  std::array<double, kBlock * kMaxColumns> jac;
  // The steps look only at the grid within 5 FWHM of the peaks (where their
  // derivatives are not negligible); the sum of squares returned is over
  // the whole grid, so that layouts can be compared.
  std::size_t first = 0, last = g.n;
  const auto window = [&](const double* q) {
    double from = std::numeric_limits<double>::infinity(), to = -from;
    for (std::size_t j = 0; j < count; ++j) {
      const double reach = 5.0 * q[j * np + 2] / width_per_fwhm;
      from = std::min(from, q[j * np + 1] - reach);
      to = std::max(to, q[j * np + 1] + reach);
    }
    first = static_cast<std::size_t>(std::lower_bound(g.x.begin(), g.x.begin() + g.n, from) -
                                     g.x.begin());
    last = static_cast<std::size_t>(std::upper_bound(g.x.begin(), g.x.begin() + g.n, to) -
                                    g.x.begin());
    if (last < first + n + 1) first = 0, last = g.n;
  };
  const auto ssr = [&](const double* q) {
    double sum = 0.0;
    for (std::size_t start = first; start < last; start += kBlock) {
      const std::size_t size = std::min(kBlock, last - start);
      std::fill_n(f.begin(), size, 0.0);
      for (std::size_t j = 0; j < count; ++j)
        shape.accumulate(std::span<const double>(q + j * np, np),
                         std::span<const double>(g.x.data() + start, size),
                         std::span<double>(f.data(), size));
      for (std::size_t i = 0; i < size; ++i) {
        const double r = sign * g.y[start + i] - f[i];
        sum += r * r;
      }
    }
    return sum;
  };
  const auto valid = [&](const double* q) {
    for (std::size_t j = 0; j < count; ++j) {
      const double* pj = q + j * np;
      for (std::size_t k = 0; k < np; ++k)
        if (!std::isfinite(pj[k])) return false;
      if (!(pj[0] > 0.0 && pj[2] >= 0.5 * min_width * width_per_fwhm && pj[1] >= lo && pj[1] <= hi))
        return false;
    }
    return true;
  };
  for (int iteration = 0; iteration < 5; ++iteration) {
    window(params.data());
    double current = ssr(params.data());
    LeastSquares ls(static_cast<int>(n));
    std::array<double, kMaxColumns> row;
    for (std::size_t start = first; start < last; start += kBlock) {
      const std::size_t size = std::min(kBlock, last - start);
      const auto xb = std::span<const double>(g.x.data() + start, size);
      std::fill_n(f.begin(), size, 0.0);
      for (std::size_t j = 0; j < count; ++j) {
        const auto pj = std::span<const double>(params.data() + j * np, np);
        shape.accumulate(pj, xb, std::span<double>(f.data(), size));
        shape.jacobian(pj, xb, jac.data() + j * np * kBlock, static_cast<int>(kBlock));
      }
      for (std::size_t i = 0; i < size; ++i) {
        for (std::size_t c = 0; c < n; ++c) row[c] = jac[c * kBlock + i];
        ls.add_row(row.data(), sign * g.y[start + i] - f[i]);
      }
    }
    if (!ls.solve(step.data())) break;
    bool taken = false;
    double scale = 1.0;
    for (int halving = 0; halving < 6 && !taken; ++halving, scale *= 0.5) {
      for (std::size_t c = 0; c < n; ++c) trial[c] = params[c] + scale * step[c];
      if (!valid(trial.data())) continue;
      const double value = ssr(trial.data());
      if (value < current) {
        taken = true;
        if (current - value <= 1e-4 * current) iteration = 1000;  // close enough for a start
        params = trial;
      }
    }
    if (!taken) break;
  }
  for (std::size_t j = 0; j < count; ++j) {
    peaks[j].height = params[j * np];
    peaks[j].center = params[j * np + 1];
    peaks[j].fwhm = params[j * np + 2] / width_per_fwhm;
  }
  first = 0, last = g.n;
  return ssr(params.data());
}

void estimate_peaks(std::span<const double> x, std::span<const double> y,
                    std::span<const JointTerm> terms, std::span<double> remaining, std::size_t k) {
  estimate_baselines(x, y, terms, remaining);
  Workspace ws;
  Grid& g = ws.grid;
  g.build(x, remaining, ws.other);
  if (g.n < 3) {
    estimate_greedy(x, y, terms, remaining, true);
    return;
  }
  double* t = ws.smooth.data();
  const double noise = noise_level(g, ws.other);

  // Polarity and the widest feature, from the data after two passes.
  std::copy_n(g.y.begin(), g.n, t);
  binomial_pass(t, g.n);
  binomial_pass(t, g.n);
  std::size_t top = 0;
  for (std::size_t i = 1; i < g.n; ++i)
    if (std::fabs(t[i]) > std::fabs(t[top])) top = i;
  const double sign = t[top] < 0.0 ? -1.0 : 1.0;
  const double top_height = std::fabs(t[top]);
  for (std::size_t i = 0; i < g.n; ++i) t[i] *= sign;
  const double spacing = (g.x[g.n - 1] - g.x[0]) / static_cast<double>(g.n - 1);
  double top_width = width_at(g, t, top, 0.5 * t[top]);
  if (!(top_width > 0.0)) top_width = 4.0 * spacing;

  // Light smoothing where there is noise: about a fifth of the widest
  // feature's FWHM as the filter's standard deviation (p binomial passes:
  // variance p/2 grid steps^2), at least 2 passes, at most 32.
  int passes = 0;
  if (noise > 1e-3 * top_height) {
    const double steps = top_width / spacing / 5.0;
    const double wanted = 2.0 * steps * steps;
    passes =
        std::isfinite(wanted) ? static_cast<int>(std::clamp(std::round(wanted), 2.0, 32.0)) : 2;
  }
  std::copy_n(g.y.begin(), g.n, t);
  for (std::size_t i = 0; i < g.n; ++i) t[i] *= sign;
  for (int p = 0; p < passes; ++p) binomial_pass(t, g.n);
  const double smoothing_fwhm2 = kFwhmPerSigma * kFwhmPerSigma * 0.5 * passes * spacing * spacing;
  const double threshold =
      std::max(3.0 * noise * smoothing_noise_factor(passes), 1e-9 * top_height);
  const auto corrected = [&](double w) {
    const double w2 = w * w - smoothing_fwhm2;
    return std::max(w2 > 0.0 ? std::sqrt(w2) : 0.0, 0.5 * w);
  };

  // Maxima standing out of the noise, the most prominent first.
  struct Candidate {
    std::size_t index = 0;
    double prominence = 0.0;
  };
  std::array<Candidate, kMaxCandidates> candidates;
  std::size_t found = 0;
  for (std::size_t i = 1; i + 1 < g.n; ++i) {
    if (!(t[i] > t[i - 1] && t[i] >= t[i + 1] && t[i] > threshold)) continue;
    const double prom = prominence(t, g.n, i);
    if (!(prom > threshold)) continue;
    std::size_t at = found < kMaxCandidates ? found++ : kMaxCandidates;
    if (at == kMaxCandidates) {
      if (prom <= candidates[kMaxCandidates - 1].prominence) continue;
      at = kMaxCandidates - 1;
    }
    while (at > 0 && candidates[at - 1].prominence < prom) {
      candidates[at] = candidates[at - 1];
      --at;
    }
    candidates[at] = {i, prom};
  }
  // A candidate's width: at half its height above the baseline, on the
  // narrower side (a weak peak on the flank of a strong one measures its
  // free side), else at half its prominence; never below 1.5 grid steps
  // (narrower is not resolved).
  const double min_width = 1.5 * spacing;
  const auto width_of = [&](const double* signal, std::size_t i, double prom) {
    double w = width_at(g, signal, i, 0.5 * signal[i]);
    if (!(w > 0.0)) w = width_at(g, signal, i, signal[i] - 0.5 * prom);
    if (!(w > 0.0)) w = top_width;
    return std::max(corrected(w), min_width);
  };

  // The first peak is the most prominent maximum (the largest value if none
  // stands out). Each next one is, of the remaining maxima and the largest
  // residual, the one a peak there explains most of what the peaks so far
  // leave (the matched filter's (r.g)^2/(g.g), g the peak as smoothed): a
  // weak shoulder that shows as no maximum beats a noise bump on the
  // baseline, and a second peak never lands on top of the first.
  std::array<Peak, kMaxPeaks> peaks;
  std::array<bool, kMaxCandidates> used{};
  std::size_t placed = 0;
  if (found > 0) {
    // Smoothing lowers a peak as it widens it (a gaussian keeps its area):
    // the height is scaled back by the widths' ratio.
    const std::size_t i = candidates[0].index;
    const double width = width_of(t, i, candidates[0].prominence);
    const double smoothed_width = std::sqrt(width * width + smoothing_fwhm2);
    peaks[placed++] = {vertex(g, t, i), t[i] * smoothed_width / width, width};
    used[0] = true;
  } else {
    peaks[placed++] = {g.x[top], std::max(t[top], 0.0), std::max(corrected(top_width), min_width)};
  }
  // Placement runs with the first peak term's shape for every peak.
  const Term* shape_term = nullptr;
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline && shape_term == nullptr) shape_term = jt.term;
  // (Refined only to show what it leaves for the next: a lone peak's start
  // is the fit's business.)
  if (placed < k) refine_peaks(g, sign, *shape_term, peaks.data(), placed, min_width);
  double* r = ws.other.data();
  double* shape = ws.shape.data();
  std::array<double, kMaxPeaks * 4> placed_params;
  const std::size_t shape_np = shape_term->parameters.size();
  const double smoothing_var = 0.5 * passes * spacing * spacing;
  // The unit peak at (center, fwhm) as smoothed (a gaussian stands for every
  // shape: this only places peaks), over the grid.
  const auto unit = [&](double center, double fwhm, double* out) {
    const double sigma = std::sqrt(fwhm * fwhm / (kFwhmPerSigma * kFwhmPerSigma) + smoothing_var);
    for (std::size_t i = 0; i < g.n; ++i) {
      const double u = (g.x[i] - center) / sigma;
      out[i] = std::exp(-0.5 * (u * u));
    }
  };
  while (placed < k) {
    // What the peaks so far leave, smoothed as the data were.
    for (std::size_t j = 0; j < placed; ++j)
      shape_term->from_peak(peaks[j].height, peaks[j].center, peaks[j].fwhm,
                            std::span<double>(placed_params.data() + j * shape_np, shape_np));
    peak_values(g, *shape_term, placed_params.data(), placed, r);
    for (int pass = 0; pass < passes; ++pass) binomial_pass(r, g.n);
    for (std::size_t i = 0; i < g.n; ++i) r[i] = t[i] - r[i];
    std::size_t best_residual = 0;
    for (std::size_t i = 1; i < g.n; ++i)
      if (r[i] > r[best_residual]) best_residual = i;
    double mean_width = 0.0;
    for (std::size_t j = 0; j < placed; ++j)
      mean_width += peaks[j].fwhm / static_cast<double>(placed);

    Peak best{};
    double best_score = -1.0;
    const auto consider = [&](double center, double fwhm) {
      for (std::size_t j = 0; j < placed; ++j)
        if (std::fabs(center - peaks[j].center) < 0.25 * peaks[j].fwhm) return;
      unit(center, fwhm, shape);
      double rg = 0.0, gg = 0.0;
      for (std::size_t i = 0; i < g.n; ++i) {
        rg += r[i] * shape[i];
        gg += shape[i] * shape[i];
      }
      if (!(gg > 0.0)) return;
      const double score = rg > 0.0 ? rg * rg / gg : 0.0;
      if (score > best_score) {
        best_score = score;
        best = {center, rg > 0.0 ? rg / gg : 0.0, fwhm};
      }
    };
    for (std::size_t c = 0; c < found; ++c) {
      if (used[c]) continue;
      const std::size_t i = candidates[c].index;
      consider(vertex(g, t, i), width_of(t, i, candidates[c].prominence));
    }
    {
      double w = width_at(g, r, best_residual, 0.5 * r[best_residual]);
      w = w > 0.0 ? corrected(w) : mean_width;
      w = std::clamp(w, std::max(min_width, 0.25 * mean_width),
                     std::max(min_width, 3.0 * mean_width));
      consider(vertex(g, r, best_residual), w);
    }
    if (best_score < 0.0) {
      // Everything lies on top of a peak placed already: beside the last one.
      const Peak& last = peaks[placed - 1];
      best = {last.center + 0.5 * last.fwhm, 0.0, last.fwhm};
    }
    for (std::size_t c = 0; c < found; ++c)
      if (!used[c] && std::fabs(vertex(g, t, candidates[c].index) - best.center) == 0.0)
        used[c] = true;
    // A peak of no height has no say in its own position: a small one.
    best.height = std::max(best.height, std::max(threshold, 0.05 * peaks[0].height));
    // Against it: one of the peaks so far split in two, for a pair too close
    // to show apart (the peak fitted alone then spans both). Each layout is
    // refined; the lower sum of squares wins.
    std::array<Peak, kMaxPeaks> trial = peaks;
    trial[placed] = best;
    double best_ssr = refine_peaks(g, sign, *shape_term, trial.data(), placed + 1, min_width);
    std::array<Peak, kMaxPeaks> chosen = trial;
    for (std::size_t j = 0; j < placed; ++j) {
      trial = peaks;
      const Peak whole = peaks[j];
      trial[j] = {whole.center - 0.3 * whole.fwhm, 0.6 * whole.height, 0.6 * whole.fwhm};
      trial[placed] = {whole.center + 0.3 * whole.fwhm, 0.6 * whole.height, 0.6 * whole.fwhm};
      if (trial[j].fwhm < min_width) continue;
      const double split_ssr =
          refine_peaks(g, sign, *shape_term, trial.data(), placed + 1, min_width);
      if (split_ssr < best_ssr) {
        best_ssr = split_ssr;
        chosen = trial;
      }
    }
    peaks = chosen;
    ++placed;
  }

  std::sort(peaks.begin(), peaks.begin() + static_cast<std::ptrdiff_t>(placed),
            [](const Peak& a, const Peak& b) { return a.center < b.center; });
  std::size_t next = 0;
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline) {
      const Peak& pk = peaks[next++];
      jt.term->from_peak(sign * pk.height, pk.center, pk.fwhm, jt.p);
    }

  // A lone peak keeps its measured height over the edge baseline: the fit
  // adjusts the two at once at no risk, and the least squares below would
  // cost a third of the fit's time.
  if (k == 1) return;
  // Amplitudes and baselines together, kept when every amplitude keeps the
  // polarity and stays within reach of the data; else the baselines alone.
  double largest = 0.0;
  for (std::size_t i = 0; i < g.n; ++i) largest = std::max(largest, std::fabs(g.y[i]));
  Saved saved;
  saved.save(terms);
  if (solve_linear(x, y, terms, true, true)) {
    bool sensible = true;
    for (const JointTerm& jt : terms)
      if (!jt.term->is_baseline)
        sensible = sensible && sign * jt.p[0] > 0.0 && std::fabs(jt.p[0]) <= 4.0 * largest + 1e-300;
    if (sensible) return;
    saved.restore(terms);
  }
  if (!solve_linear(x, y, terms, true, false)) saved.restore(terms);
}

// --------------------------------------------------------------- decays --

// Real roots lambda > 0 of q(lambda) = P(-lambda), P(s) = s^k - a1 s^(k-1)
// - ... - ak, in [low, high]: sign changes on a logarithmic scan, refined by
// bisection; where a pair of roots is complex or nearly double, the local
// minima of |q| stand in for them.
std::size_t decay_rates(const double* a, std::size_t k, double low, double high, double* rates) {
  const auto q = [&](double lambda) {
    const double s = -lambda;
    double v = 1.0;
    for (std::size_t j = 0; j < k; ++j) v = v * s - a[j];
    return v;
  };
  constexpr int kScan = 400;
  const double step = std::log(high / low) / kScan;
  std::size_t count = 0;
  double previous = q(low);
  double previous_lambda = low;
  for (int i = 1; i <= kScan && count < k; ++i) {
    const double lambda = low * std::exp(step * i);
    const double value = q(lambda);
    if ((previous < 0.0) != (value < 0.0)) {
      double lo = previous_lambda, hi = lambda;
      const bool lo_negative = previous < 0.0;
      for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        if ((q(mid) < 0.0) == lo_negative) {
          lo = mid;
        } else {
          hi = mid;
        }
      }
      rates[count++] = 0.5 * (lo + hi);
    }
    previous = value;
    previous_lambda = lambda;
  }
  if (count < k) {
    // Local minima of |q| away from the roots found (a complex pair's real
    // part, roughly).
    double a0 = std::fabs(q(low));
    double a1 = std::fabs(q(low * std::exp(step)));
    for (int i = 2; i <= kScan && count < k; ++i) {
      const double lambda = low * std::exp(step * (i - 1));
      const double a2 = std::fabs(q(low * std::exp(step * i)));
      if (a1 < a0 && a1 <= a2) {
        bool near = false;
        for (std::size_t j = 0; j < count; ++j)
          near = near || std::fabs(std::log(lambda / rates[j])) < 0.3;
        if (!near) rates[count++] = lambda;
      }
      a0 = a1;
      a1 = a2;
    }
  }
  return count;
}

// Insertion sort, largest first, of the few (at most kMaxDecays) rates
// (std::sort's unrolled prefix draws a false -Warray-bounds from GCC 12).
void sort_descending(double* a, std::size_t count) {
  for (std::size_t i = 1; i < count; ++i)
    for (std::size_t j = i; j > 0 && a[j - 1] < a[j]; --j) std::swap(a[j - 1], a[j]);
}

// Whether the non-baseline terms' amplitudes (first parameters) have both signs.
bool mixed_polarity(std::span<const JointTerm> terms) {
  bool positive = false, negative = false;
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline) {
      positive = positive || jt.p[0] > 0.0;
      negative = negative || jt.p[0] < 0.0;
    }
  return positive && negative;
}

void estimate_decays(std::span<const double> x, std::span<const double> y,
                     std::span<const JointTerm> terms, std::span<double> remaining, std::size_t k,
                     int degree) {
  estimate_baselines(x, y, terms, remaining);
  Workspace ws;
  Grid& g = ws.grid;
  g.build(x, y, ws.other);
  const int poly = static_cast<int>(k) + degree + 1;  // polynomial coefficients
  const int n = static_cast<int>(k) + poly;
  std::array<double, kMaxDecays> rates{};
  std::size_t count = 0;
  double span = 1.0;
  if (n <= kMaxColumns && g.n >= static_cast<std::size_t>(n) + 2) {
    // y = sum_j a_j S_j(u) + polynomial of degree k + D in u, with u the
    // position scaled to [0, 1] and S_j its j-fold integral (trapezoids).
    span = g.x[g.n - 1] - g.x[0];
    LeastSquares ls(n);
    std::array<double, kMaxDecays + 1> integral{}, before{};
    std::array<double, kMaxColumns> row;
    for (std::size_t i = 0; i < g.n; ++i) {
      const double u = (g.x[i] - g.x[0]) / span;
      if (i > 0) {
        const double du = u - (g.x[i - 1] - g.x[0]) / span;
        before = integral;
        integral[0] = g.y[i];
        for (std::size_t j = 1; j <= k; ++j)
          integral[j] = before[j] + 0.5 * (before[j - 1] + integral[j - 1]) * du;
      } else {
        integral.fill(0.0);
        integral[0] = g.y[0];
      }
      for (std::size_t j = 0; j < k; ++j) row[j] = integral[j + 1];
      double power = 1.0;
      for (int d = 0; d < poly; ++d) {
        row[k + static_cast<std::size_t>(d)] = power;
        power *= u;
      }
      ls.add_row(row.data(), g.y[i]);
    }
    std::array<double, kMaxColumns> z;
    if (ls.solve(z.data())) {
      // Rates from a twentieth of the range to half a grid step (scaled).
      count = decay_rates(z.data(), k, 0.05, 0.5 * static_cast<double>(g.n), rates.data());
    }
  }
  if (count == 0) {
    estimate_greedy(x, y, terms, remaining, true);
    solve_linear(x, y, terms, true, true);
    return;
  }
  // Fast first. Rates missing (fewer found than terms) are added by factors
  // of 3 beyond those found: the j-th term's faster than all for odd j,
  // slower for even j (on the cubes of bench/quality, a second decay missed
  // is mostly the fast one, a third the slow one); rates closer than a
  // factor 1.5 (a near-double root: the data show fewer decays than terms)
  // are moved apart, since equal decay constants would give the fit equal
  // Jacobian columns it cannot separate.
  for (std::size_t j = count; j < k; ++j) {
    const auto [slowest, fastest] =
        std::minmax_element(rates.begin(), rates.begin() + static_cast<std::ptrdiff_t>(j));
    rates[j] = j % 2 == 1 ? *fastest * 3.0 : *slowest / 3.0;
  }
  sort_descending(rates.data(), k);
  for (std::size_t j = 1; j < k; ++j) rates[j] = std::min(rates[j], rates[j - 1] / 1.5);
  std::size_t next = 0;
  double previous_tau = 0.0;
  const XRange range = x_range(x);
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline) {
      double tau = span / rates[next++];
      // exp(-x/tau) must stay representable at every sample (as the term's
      // own estimator keeps it), and the clamp must not make two equal.
      tau = std::max(tau, std::max(std::fabs(range.min), std::fabs(range.max)) / 700.0);
      tau = std::max(tau, 1.5 * previous_tau);
      previous_tau = tau;
      jt.term->from_decay(0.0, tau, jt.p);
    }
  // Amplitudes (and baselines) by least squares; amplitudes stay 0 if that
  // fails, which the fit can leave.
  Saved saved;
  saved.save(terms);
  if (!solve_linear(x, y, terms, true, true)) solve_linear(x, y, terms, false, true);
  // Decays of one polarity: least squares can answer two decays of opposite
  // signs that cancel (a dip or a crossing the data do not show), a model
  // that goes negative, where a Poisson fit has no likelihood at all (loss
  // poisson: ier -2 at its own estimate). Then the amplitudes alone over the
  // edge baseline, and any still of the other sign at a tenth of the largest
  // (not 0: its decay constant's column would vanish).
  if (!mixed_polarity(terms)) return;
  saved.restore(terms);
  solve_linear(x, y, terms, false, true);
  double total = 0.0, largest = 0.0;
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline) {
      total += jt.p[0];
      largest = std::max(largest, std::fabs(jt.p[0]));
    }
  const double sign = total < 0.0 ? -1.0 : 1.0;
  for (const JointTerm& jt : terms)
    if (!jt.term->is_baseline && !(sign * jt.p[0] > 0.0)) jt.p[0] = sign * 0.1 * largest;
}

}  // namespace

// Every term finite: a model whose values are not finite for finite data
// (overflowing terms) falls back to flat terms (amplitudes 0, the data's
// mean as the first baseline's constant), which the fit can leave.
void make_finite(std::span<const double> x, std::span<const double> y,
                 std::span<const JointTerm> terms, std::span<double> scratch) {
  std::fill_n(scratch.begin(), x.size(), 0.0);
  bool finite = true;
  for (const JointTerm& jt : terms) {
    for (const double v : jt.p) finite = finite && std::isfinite(v);
    if (finite) jt.term->accumulate(jt.p, x, scratch.first(x.size()));
  }
  for (std::size_t i = 0; finite && i < x.size(); ++i) finite = std::isfinite(scratch[i]);
  if (finite) return;
  double mean = 0.0;
  for (const double v : y) mean += v / static_cast<double>(y.size());
  if (!std::isfinite(mean)) mean = 0.0;
  const double scale = fallback_scale(x);
  const XRange range = x_range(x);
  bool first_baseline = true;
  for (const JointTerm& jt : terms) {
    if (jt.term->is_baseline) {
      std::fill(jt.p.begin(), jt.p.end(), 0.0);
      if (first_baseline) jt.p[0] = mean;
      first_baseline = false;
    } else if (is_peak(*jt.term)) {
      jt.term->from_peak(0.0, 0.5 * range.min + 0.5 * range.max, scale, jt.p);
    } else if (is_decay(*jt.term)) {
      jt.term->from_decay(0.0, scale, jt.p);
    }
  }
}

bool can_estimate_jointly(std::span<const JointTerm> terms) {
  const Counts c = count_terms(terms);
  if (c.others > 0) return false;
  if (c.peaks > 0 && c.decays == 0) return c.peaks <= kMaxPeaks;
  if (c.decays > 0 && c.peaks == 0) return c.decays <= kMaxDecays;
  return false;
}

void estimate_jointly(std::span<const double> x, std::span<const double> y,
                      std::span<const JointTerm> terms, std::span<double> remaining) {
  const Counts c = count_terms(terms);
  if (c.peaks > 0) {
    estimate_peaks(x, y, terms, remaining, c.peaks);
  } else {
    estimate_decays(x, y, terms, remaining, c.decays, c.degree);
  }
  make_finite(x, y, terms, remaining);
}

}  // namespace lmbatch::models::detail
