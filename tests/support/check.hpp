// Comparison helpers shared by the tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

namespace lmbatch::test {

// Whether two results hold the same bits, the contract of "bit-identical":
// the sign of a zero and a NaN's payload count, unlike ==.
inline bool same_bits(const void* a, const void* b, std::size_t bytes) {
  return bytes == 0 || std::memcmp(a, b, bytes) == 0;
}
inline bool same_bits(double a, double b) {
  return same_bits(&a, &b, sizeof a);
}
inline bool same_bits(std::span<const double> a, std::span<const double> b) {
  return a.size() == b.size() && same_bits(a.data(), b.data(), a.size_bytes());
}
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && same_bits(a.data(), b.data(), a.size() * sizeof(T));
}

// |a - b| / max(|a|, |b|), or 0 when both are below tiny (MINPACK-1 problems
// converge to exact zeros that land as +-1e-300-ish noise).
inline double relative_difference(double a, double b, double tiny = 1e-300) {
  if (a == b) return 0.0;
  if (std::fabs(a) < tiny && std::fabs(b) < tiny) return 0.0;
  return std::fabs(a - b) / std::max(std::fabs(a), std::fabs(b));
}

inline double max_relative_difference(std::span<const double> a, std::span<const double> b,
                                      double tiny = 1e-300) {
  if (a.size() != b.size()) return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, relative_difference(a[i], b[i], tiny));
  return worst;
}

}  // namespace lmbatch::test

#include <Eigen/SVD>
#include <vector>

namespace lmbatch::test {

// 2-norm condition number of R D^-1, where R is the upper triangle of the
// first n rows of scipy's fjac (n x m row-major) and D scales R's columns to
// unit norm. cov_x = (R P^T)^-1 (R P^T)^-T inherits a relative error of about
// cond(R D^-1)^2 * eps from a backward-stable triangular inversion (column
// scaling does not change the computed inverse's relative accuracy), so two
// correct implementations can only be expected to agree that far.
inline double condition_of_r(const std::vector<double>& fjac_n_by_m, int n, int m) {
  Eigen::MatrixXd r = Eigen::MatrixXd::Zero(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) r(i, j) = fjac_n_by_m[static_cast<size_t>(j) * m + i];
  for (int j = 0; j < n; ++j)
    if (const double norm = r.col(j).norm(); norm > 0.0) r.col(j) /= norm;
  const Eigen::JacobiSVD<Eigen::MatrixXd> svd(r);
  const auto& s = svd.singularValues();
  return s(n - 1) == 0.0 ? INFINITY : s(0) / s(n - 1);
}

// Whether cov_x is determined to rel_tol by R's (column-scaled) conditioning.
inline bool covariance_is_determined(double cond_r, double rel_tol = 1e-6) {
  return cond_r * cond_r * 2.220446049250313e-16 <= rel_tol;
}

}  // namespace lmbatch::test
