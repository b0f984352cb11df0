// poly2 .. poly5: c0 + c1*x + ... + cN*x^N, evaluated by Horner's rule.
//
// Operation order mirrored by tests/support/gen_model_refs.py.
#include <algorithm>
#include <cmath>
#include <utility>

#include "term_support.hpp"

namespace lmbatch::models::detail {

template <int Degree>
void Polynomial<Degree>::accumulate(std::span<const double> p, std::span<const double> x,
                                    std::span<double> f) const {
  for (std::size_t i = 0; i < x.size(); ++i) {
    double value = p[Degree];
    for (int k = Degree - 1; k >= 0; --k) value = value * x[i] + p[k];
    f[i] += value;
  }
}

template <int Degree>
void Polynomial<Degree>::jacobian(std::span<const double>, std::span<const double> x, double* jac,
                                  int ld) const {
  for (std::size_t i = 0; i < x.size(); ++i) {
    double power = 1.0;
    jac[i] = power;
    for (int k = 1; k <= Degree; ++k) {
      power = power * x[i];
      jac[i + static_cast<std::ptrdiff_t>(k) * ld] = power;
    }
  }
}

namespace {

// Solves the n x n system a z = b in place (Gaussian elimination, partial
// pivoting); b receives z. A zero pivot leaves that unknown at zero.
template <int N>
void solve(double (&a)[N][N], double (&b)[N]) {
  for (int col = 0; col < N; ++col) {
    int pivot = col;
    for (int row = col + 1; row < N; ++row)
      if (std::fabs(a[row][col]) > std::fabs(a[pivot][col])) pivot = row;
    if (pivot != col) {
      for (int k = 0; k < N; ++k) std::swap(a[col][k], a[pivot][k]);
      std::swap(b[col], b[pivot]);
    }
    if (a[col][col] == 0.0) continue;
    for (int row = col + 1; row < N; ++row) {
      const double factor = a[row][col] / a[col][col];
      for (int k = col; k < N; ++k) a[row][k] -= factor * a[col][k];
      b[row] -= factor * b[col];
    }
  }
  for (int row = N - 1; row >= 0; --row) {
    double sum = b[row];
    for (int k = row + 1; k < N; ++k) sum -= a[row][k] * b[k];
    b[row] = a[row][row] != 0.0 ? sum / a[row][row] : 0.0;
  }
}

}  // namespace

// A polynomial baseline is usually the whole model or a broad background, so
// it starts from the least-squares polynomial through all the remaining
// data (exact on noise-free polynomial data). The fit runs in t = (x -
// mid)/half in [-1, 1], where the normal equations stay well conditioned up
// to degree 5, and is then expanded back into powers of x. A tiny ridge keeps
// the system solvable with fewer distinct x than coefficients (the extra
// coefficients then stay near zero).
template <int Degree>
void Polynomial<Degree>::estimate(std::span<const double> x, std::span<double> remaining,
                                  std::span<double> p) const {
  constexpr int n = Degree + 1;
  double coefficients[n] = {};
  if (!x.empty()) {
    const XRange range = x_range(x);
    const double mid = 0.5 * range.min + 0.5 * range.max;
    double half = 0.5 * range.width();
    if (!(half > 0.0 && std::isfinite(half))) half = 1.0;

    double moments[2 * Degree + 1] = {};  // sum of t^k
    double rhs[n] = {};                   // sum of t^k * remaining
    double mean = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double t = (x[i] - mid) / half;
      double power = 1.0;
      for (int k = 0; k <= 2 * Degree; ++k) {
        moments[k] += power;
        if (k < n) rhs[k] += power * remaining[i];
        power *= t;
      }
      mean += remaining[i];
    }
    mean /= static_cast<double>(x.size());
    double gram[n][n];
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) gram[j][k] = moments[j + k];
    for (int j = 0; j < n; ++j) gram[j][j] += 1e-12 * moments[0];
    solve(gram, rhs);

    // sum_k d_k (a x + b)^k with a = 1/half, b = -mid/half, expanded:
    // c_j = sum_{k >= j} d_k binom(k, j) a^j b^(k-j).
    const double a = 1.0 / half, b = -mid / half;
    for (int k = 0; k < n; ++k) {
      double binomial = 1.0;  // binom(k, j), updated along j
      for (int j = 0; j <= k; ++j) {
        coefficients[j] += rhs[k] * binomial * std::pow(a, j) * std::pow(b, k - j);
        binomial = binomial * (k - j) / (j + 1);
      }
    }
    const bool finite = std::all_of(std::begin(coefficients), std::end(coefficients),
                                    [](double c) { return std::isfinite(c); });
    if (!finite) {
      std::fill(std::begin(coefficients), std::end(coefficients), 0.0);
      coefficients[0] = std::isfinite(mean) ? mean : 0.0;
    }
  }
  std::copy(std::begin(coefficients), std::end(coefficients), p.begin());
  subtract_term(*this, p, n, x, remaining);
}

// Synthetic truth: c0 0.05..0.2, each higher term changing the value by at
// most 0.2 over the range.
template <int Degree>
void Polynomial<Degree>::truth(const TruthSlot& slot, std::span<const double> u,
                               std::span<double> p) {
  p[0] = 0.05 + 0.15 * u[2];
  for (int k = 1; k <= Degree; ++k) p[k] = (0.4 * u[2 + k] - 0.2) / std::pow(slot.span, k);
}

template struct Polynomial<2>;
template struct Polynomial<3>;
template struct Polynomial<4>;
template struct Polynomial<5>;
static_assert(CatalogueFunctor<Polynomial<2>> && CatalogueFunctor<Polynomial<3>> &&
              CatalogueFunctor<Polynomial<4>> && CatalogueFunctor<Polynomial<5>>);

const Term& poly2_term() {
  static const Term term =
      make_term<Polynomial<2>>("poly2", "c0+c1*x+c2*x^2", {"c0", "c1", "c2"}, /*is_baseline=*/true);
  return term;
}
const Term& poly3_term() {
  static const Term term = make_term<Polynomial<3>>("poly3", "c0+c1*x+c2*x^2+c3*x^3",
                                                    {"c0", "c1", "c2", "c3"}, /*is_baseline=*/true);
  return term;
}
const Term& poly4_term() {
  static const Term term =
      make_term<Polynomial<4>>("poly4", "c0+c1*x+c2*x^2+c3*x^3+c4*x^4",
                               {"c0", "c1", "c2", "c3", "c4"}, /*is_baseline=*/true);
  return term;
}
const Term& poly5_term() {
  static const Term term =
      make_term<Polynomial<5>>("poly5", "c0+c1*x+c2*x^2+c3*x^3+c4*x^4+c5*x^5",
                               {"c0", "c1", "c2", "c3", "c4", "c5"}, /*is_baseline=*/true);
  return term;
}

}  // namespace lmbatch::models::detail
