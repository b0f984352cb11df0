// The engine's enorm and qrfac interleave independent sums and skip enorm's
// three-sum loop when every component is intermediate; MINPACK's arithmetic must
// be unchanged. Here they are checked bit for bit against a plain statement-by-
// statement transcription of the Fortran (enorm, qrfac, and lmder's Q^T f loop
// between labels 80 and 120) on matrices built to reach every branch: zero,
// duplicate, tiny, huge and non-finite columns, m = n, no pivoting.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "lmbatch/leastsq/minpack.hpp"

namespace mp = lmbatch::leastsq::minpack;

using lmbatch::test::same_bits;
namespace {
double square(double v) {
  return v * v;
}

double reference_enorm(int n, const double* x) {
  const double rdwarf = 3.834e-20, rgiant = 1.304e19;
  double s1 = 0, s2 = 0, s3 = 0, x1max = 0, x3max = 0;
  const double agiant = rgiant / n;
  for (int i = 0; i < n; ++i) {
    const double xabs = std::fabs(x[i]);
    if (xabs > rdwarf && xabs < agiant) {
      s2 += xabs * xabs;
    } else if (xabs <= rdwarf) {
      if (xabs > x3max) {
        s3 = 1.0 + s3 * square(x3max / xabs);
        x3max = xabs;
      } else if (xabs != 0.0) {
        s3 += square(xabs / x3max);
      }
    } else if (xabs <= x1max) {
      s1 += square(xabs / x1max);
    } else {
      s1 = 1.0 + s1 * square(x1max / xabs);
      x1max = xabs;
    }
  }
  if (s1 != 0.0) return x1max * std::sqrt(s1 + (s2 / x1max) / x1max);
  if (s2 != 0.0) {
    if (s2 >= x3max) return std::sqrt(s2 * (1.0 + (x3max / s2) * (x3max * s3)));
    return std::sqrt(x3max * ((s2 / x3max) + (x3max * s3)));
  }
  return x3max * std::sqrt(s3);
}

// qrfac as in MINPACK-1, then lmder's loop forming Q^T b from the factored a.
void reference_qrfac_qtb(int m, int n, double* a, bool pivot, int* ipvt, double* rdiag,
                         double* acnorm, double* b) {
  std::vector<double> wa(n);
  auto col = [&](int j) { return a + static_cast<long>(j) * m; };
  for (int j = 0; j < n; ++j) {
    acnorm[j] = reference_enorm(m, col(j));
    rdiag[j] = wa[j] = acnorm[j];
    if (pivot) ipvt[j] = j;
  }
  for (int j = 0; j < std::min(m, n); ++j) {
    double* aj = col(j);
    if (pivot) {
      int kmax = j;
      for (int k = j; k < n; ++k)
        if (rdiag[k] > rdiag[kmax]) kmax = k;
      if (kmax != j) {
        for (int i = 0; i < m; ++i) std::swap(aj[i], col(kmax)[i]);
        rdiag[kmax] = rdiag[j];
        wa[kmax] = wa[j];
        std::swap(ipvt[j], ipvt[kmax]);
      }
    }
    double ajnorm = reference_enorm(m - j, aj + j);
    if (ajnorm != 0.0) {
      if (aj[j] < 0.0) ajnorm = -ajnorm;
      for (int i = j; i < m; ++i) aj[i] /= ajnorm;
      aj[j] += 1.0;
      for (int k = j + 1; k < n; ++k) {
        double* ak = col(k);
        double sum = 0.0;
        for (int i = j; i < m; ++i) sum += aj[i] * ak[i];
        const double temp = sum / aj[j];
        for (int i = j; i < m; ++i) ak[i] -= temp * aj[i];
        if (pivot && rdiag[k] != 0.0) {
          const double t = ak[j] / rdiag[k];
          rdiag[k] *= std::sqrt(std::max(0.0, 1.0 - t * t));
          if (0.05 * square(rdiag[k] / wa[k]) <= mp::kMachineEpsilon) {
            rdiag[k] = reference_enorm(m - j - 1, ak + j + 1);
            wa[k] = rdiag[k];
          }
        }
      }
    }
    rdiag[j] = -ajnorm;
  }
  for (int j = 0; j < std::min(m, n); ++j) {
    const double* aj = col(j);
    if (aj[j] == 0.0) continue;
    double sum = 0.0;
    for (int i = j; i < m; ++i) sum += aj[i] * b[i];
    const double temp = -sum / aj[j];
    for (int i = j; i < m; ++i) b[i] += aj[i] * temp;
  }
}

enum class Shape {
  gaussian,
  zero_column,
  duplicate_columns,
  tiny_column,
  huge_column,
  nearly_dependent,
  mixed_scales,
  non_finite
};

std::vector<double> make_matrix(int m, int n, Shape shape, std::mt19937_64& rng) {
  std::normal_distribution<double> normal;
  std::vector<double> a(static_cast<size_t>(m) * n);
  for (double& v : a) v = normal(rng);
  const int k = n > 1 ? 1 : 0;
  auto column = [&](int j) { return a.begin() + static_cast<long>(j) * m; };
  switch (shape) {
    case Shape::gaussian:
      break;
    case Shape::zero_column:
      std::fill(column(k), column(k) + m, 0.0);
      break;
    case Shape::duplicate_columns:
      if (n > 1) std::copy(column(0), column(0) + m, column(n - 1));
      break;
    case Shape::tiny_column:
      for (int i = 0; i < m; ++i) column(k)[i] *= 1e-25;  // below rdwarf: enorm's small sums
      break;
    case Shape::huge_column:
      for (int i = 0; i < m; ++i) column(k)[i] *= 1e18;  // above rgiant/m: the large sums
      break;
    case Shape::nearly_dependent:
      // Forces MINPACK's recomputation of a column norm (rdiag shrinks by > 1/sqrt(eps)).
      if (n > 1)
        for (int i = 0; i < m; ++i) column(n - 1)[i] = column(0)[i] + 1e-9 * column(n - 1)[i];
      break;
    case Shape::mixed_scales:
      for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) column(j)[i] *= std::pow(10.0, (i + 3 * j) % 7 - 3);
      column(k)[0] = 0.0;
      break;
    case Shape::non_finite:
      column(k)[m / 2] = (m % 2) ? NAN : INFINITY;
      break;
  }
  return a;
}
}  // namespace

TEST_CASE("enorm's fast path gives the three-sum loop's bits", "[minpack]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  // Below rdwarf, just above it, small enough to fail the plain sum's bounds,
  // ordinary, large for long vectors, beyond rgiant, zero.
  const double scales[] = {1e-21, 1e-19, 1e-12, 1e-11, 1.0, 1e17, 1e19, 0.0};
  int cases = 0;
  for (const int n : {0, 1, 2, 3, 7, 64, 129}) {
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<double> x(n);
      for (double& v : x) v = normal(rng) * scales[std::uniform_int_distribution<int>(0, 7)(rng)];
      if (n > 0 && trial % 10 == 9) x[trial % n] = trial % 20 == 9 ? NAN : -INFINITY;
      const double got = mp::enorm(x), want = reference_enorm(n, x.data());
      INFO("n = " << n << ", trial " << trial);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
      } else {
        CHECK(std::memcmp(&got, &want, sizeof got) == 0);
      }
      ++cases;
    }
  }
  CHECK(cases == 7 * 200);
}

TEST_CASE("qrfac and the fused Q^T b give MINPACK's bits", "[minpack]") {
  std::mt19937_64 rng(11);
  const std::pair<int, int> sizes[] = {{1, 1},   {3, 3},   {5, 2},   {25, 5}, {128, 4},
                                       {40, 11}, {12, 12}, {90, 37}, {300, 6}};
  const Shape shapes[] = {Shape::gaussian,     Shape::zero_column, Shape::duplicate_columns,
                          Shape::tiny_column,  Shape::huge_column, Shape::nearly_dependent,
                          Shape::mixed_scales, Shape::non_finite};
  int compared = 0;
  for (const auto& [m, n] : sizes) {
    for (const Shape shape : shapes) {
      for (const bool pivot : {true, false}) {
        for (const bool with_b : {true, false}) {
          INFO("m = " << m << ", n = " << n << ", shape " << static_cast<int>(shape) << ", pivot "
                      << pivot << ", b " << with_b);
          const std::vector<double> a0 = make_matrix(m, n, shape, rng);
          std::vector<double> b0(m);
          std::normal_distribution<double> normal;
          for (double& v : b0) v = normal(rng);

          std::vector<double> a_ref = a0, b_ref = b0, rdiag_ref(n), acnorm_ref(n);
          std::vector<int> ipvt_ref(n, -1);
          reference_qrfac_qtb(m, n, a_ref.data(), pivot, ipvt_ref.data(), rdiag_ref.data(),
                              acnorm_ref.data(), b_ref.data());

          std::vector<double> a = a0, b = b0, rdiag(n), acnorm(n), wa(n), tail(n);
          std::vector<int> ipvt(n, -1);
          mp::qrfac(m, n, a.data(), m, pivot, ipvt.data(), rdiag.data(), acnorm.data(), wa.data(),
                    tail.data(), with_b ? b.data() : nullptr);

          if (shape == Shape::non_finite) {
            // Only that the NaN/Inf shows where the driver looks for it.
            CHECK_FALSE(std::isfinite(acnorm[n > 1 ? 1 : 0]));
            continue;
          }
          CHECK(same_bits(a, a_ref));
          CHECK(same_bits(rdiag, rdiag_ref));
          CHECK(same_bits(acnorm, acnorm_ref));
          CHECK(ipvt == ipvt_ref);
          CHECK(same_bits(b, with_b ? b_ref : b0));
          ++compared;
        }
      }
    }
  }
  CHECK(compared == 9 * 7 * 2 * 2);
}
