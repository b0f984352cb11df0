// MINPACK-1 enorm, qrfac, qrsolv, lmpar, statement by statement. The Fortran
// labels are kept in comments where the control flow jumps, so each block can be
// checked against the original. Fortran's x**2 is written x*x (what gfortran emits).
#include "lmbatch/leastsq/minpack.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace lmbatch::leastsq::minpack {
namespace {
inline double square(double v) {
  return v * v;
}

constexpr double rdwarf = kEnormDwarf;
constexpr double rgiant = kEnormGiant;

// The square of x when |x| > rdwarf (or NaN), else +0; without a branch, since
// small components come in runs (a peak's far tails) and defeat prediction.
inline double square_above_rdwarf(double x) {
  const double xabs = std::fabs(x);
  const std::uint64_t keep = -static_cast<std::uint64_t>(!(xabs <= rdwarf));
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(xabs * xabs) & keep);
}

// enorm's general loop (labels 10-80), for vectors with small or large components.
double enorm_three_sums(std::span<const double> x) {
  double s1 = 0.0, s2 = 0.0, s3 = 0.0;
  double x1max = 0.0, x3max = 0.0;
  const double agiant = rgiant / static_cast<double>(x.size());
  for (const double xi : x) {
    const double xabs = std::fabs(xi);
    if (xabs > rdwarf && xabs < agiant) {
      s2 += xabs * xabs;  // label 70: intermediate components
    } else if (xabs <= rdwarf) {
      // label 30: small components
      if (xabs > x3max) {
        s3 = 1.0 + s3 * square(x3max / xabs);
        x3max = xabs;
      } else if (xabs != 0.0) {
        s3 += square(xabs / x3max);
      }
    } else {
      // large components (also reached by NaN, which then propagates)
      if (xabs <= x1max) {
        s1 += square(xabs / x1max);
      } else {
        s1 = 1.0 + s1 * square(x1max / xabs);
        x1max = xabs;
      }
    }
  }
  if (s1 != 0.0) return x1max * std::sqrt(s1 + (s2 / x1max) / x1max);
  if (s2 != 0.0) {
    if (s2 >= x3max) return std::sqrt(s2 * (1.0 + (x3max / s2) * (x3max * s3)));
    return std::sqrt(x3max * ((s2 / x3max) + (x3max * s3)));
  }
  return x3max * std::sqrt(s3);
}

// The sums of qrfac and of lmder's Q^T f loop, up to eight of them side by side,
// in up to four pairs of lanes of GCC/Clang vectors (one SSE2 register each on
// baseline x86-64). Each lane is IEEE double arithmetic and each sum is still accumulated
// in index order, one rounding per term, exactly as its own loop would: running
// independent sums together only lets the processor overlap their additions,
// whose latency bounds a single sum.
using Pair = double __attribute__((vector_size(2 * sizeof(double))));
using PairBits = std::int64_t __attribute__((vector_size(2 * sizeof(double))));
// Four pairs: up to eight sums in flight, enough to cover an addition's latency
// (4 cycles) at two additions per cycle.
constexpr int kPairs = 4, kGroup = 2 * kPairs;
struct GroupSums {
  Pair pair[kPairs] = {};
};

// Runs kernel on groups of up to eight columns, with as many pairs of lanes as
// the group needs (kernel<pairs>; an odd group repeats its last column in the
// spare lane), and stores each column's sum in out.
template <typename Kernel>
void in_groups(double* const* cols, int count, double* out, Kernel kernel) {
  for (int c0 = 0; c0 < count; c0 += kGroup) {
    const int k = std::min(kGroup, count - c0);
    const double* group[kGroup];
    for (int l = 0; l < kGroup; ++l) group[l] = cols[c0 + std::min(l, k - 1)];
    GroupSums sums;
    switch ((k + 1) / 2) {
      case 1:
        sums = kernel.template operator()<1>(group);
        break;
      case 2:
        sums = kernel.template operator()<2>(group);
        break;
      case 3:
        sums = kernel.template operator()<3>(group);
        break;
      default:
        sums = kernel.template operator()<4>(group);
        break;
    }
    for (int l = 0; l < k; ++l) out[c0 + l] = sums.pair[l / 2][l % 2];
  }
}

// out[c] = sum over i < len of v[i] * cols[c][i].
void dot_columns(int len, const double* v, double* const* cols, int count, double* out) {
  in_groups(cols, count, out, [len, v]<int pairs>(const double* const* c) {
    // Written out: GCC 12 leaves a loop over the pairs rolled, with the sums in
    // memory, which puts a store and a load into every addition's chain.
    Pair s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (int i = 0; i < len; ++i) {
      const Pair vi = {v[i], v[i]};
      s0 += vi * Pair{c[0][i], c[1][i]};
      if constexpr (pairs >= 2) s1 += vi * Pair{c[2][i], c[3][i]};
      if constexpr (pairs >= 3) s2 += vi * Pair{c[4][i], c[5][i]};
      if constexpr (pairs >= 4) s3 += vi * Pair{c[6][i], c[7][i]};
    }
    return GroupSums{{s0, s1, s2, s3}};
  });
}

// The squares of x's lanes above rdwarf (or NaN), +0 for the others: enorm's
// intermediate sum, without a branch (small components come in runs, a peak's
// far tails, and defeat prediction).
inline Pair squares_above_rdwarf(Pair x) {
  const PairBits magnitude = {std::numeric_limits<std::int64_t>::max(),
                              std::numeric_limits<std::int64_t>::max()};
  const Pair dwarf = {rdwarf, rdwarf};
  const Pair xabs = reinterpret_cast<Pair>(reinterpret_cast<PairBits>(x) & magnitude);
  const PairBits small = xabs <= dwarf;
  return reinterpret_cast<Pair>(reinterpret_cast<PairBits>(xabs * xabs) & ~small);
}

// out[c] = enorm(len, cols[c]) when PlainNormBounds shows it is the square root
// of the plain sum, else -1.
void norm_columns(int len, double* const* cols, int count, double* out) {
  in_groups(cols, count, out, [len]<int pairs>(const double* const* c) {
    Pair s0 = {}, s1 = {}, s2 = {}, s3 = {};  // written out, as in dot_columns
    for (int i = 0; i < len; ++i) {
      s0 += squares_above_rdwarf(Pair{c[0][i], c[1][i]});
      if constexpr (pairs >= 2) s1 += squares_above_rdwarf(Pair{c[2][i], c[3][i]});
      if constexpr (pairs >= 3) s2 += squares_above_rdwarf(Pair{c[4][i], c[5][i]});
      if constexpr (pairs >= 4) s3 += squares_above_rdwarf(Pair{c[6][i], c[7][i]});
    }
    return GroupSums{{s0, s1, s2, s3}};
  });
  const PlainNormBounds bounds(len);
  for (int c = 0; c < count; ++c) out[c] = bounds.holds(out[c]) ? std::sqrt(out[c]) : -1.0;
}
}  // namespace

double enorm(std::span<const double> x) {
  double s2 = 0.0;
  for (const double xi : x) s2 += square_above_rdwarf(xi);
  if (PlainNormBounds(static_cast<int>(x.size())).holds(s2)) return std::sqrt(s2);
  return enorm_three_sums(x);
}

void qrfac(int m, int n, double* a, int lda, bool pivot, int* ipvt, double* rdiag, double* acnorm,
           double* wa, double* tail_norm, double* qtb) {
  constexpr double p05 = 5.0e-2;
  auto col = [a, lda](int j) { return a + static_cast<long>(j) * lda; };
  // A norm the lanes summed (>= 0), or enorm's own loop where they could not
  // decide (-1: see norm_columns).
  auto known_or_enorm = [](double known, int len, const double* x) {
    return known >= 0.0 ? known : enorm(len, x);
  };
  // At most this many columns (and b) are passed to the grouped kernels at once;
  // their pointers live on the stack. Beyond it the columns go in batches.
  constexpr int kBatch = 32;
  double* cols[kBatch + 1];
  double sums[kBatch + 1];

  // Initial column norms. tail_norm[k] holds enorm of rows j..m-1 of column k at
  // the start of step j when it is known (>= 0), else -1: step 0 needs the norm
  // of the whole pivot column, which is acnorm.
  for (int j0 = 0; j0 < n; j0 += kBatch) {
    const int count = std::min(kBatch, n - j0);
    for (int c = 0; c < count; ++c) cols[c] = col(j0 + c);
    norm_columns(m, cols, count, sums);
    for (int c = 0; c < count; ++c) {
      const int j = j0 + c;
      acnorm[j] = known_or_enorm(sums[c], m, col(j));
      rdiag[j] = acnorm[j];
      wa[j] = rdiag[j];
      tail_norm[j] = acnorm[j];
      if (pivot) ipvt[j] = j;
    }
  }

  // Reduce a to R with Householder transformations.
  const int minmn = std::min(m, n);
  for (int j = 0; j < minmn; ++j) {
    double* aj = col(j);
    if (pivot) {
      // Bring the column of largest norm into the pivot position.
      int kmax = j;
      for (int k = j; k < n; ++k)
        if (rdiag[k] > rdiag[kmax]) kmax = k;
      if (kmax != j) {
        std::swap_ranges(aj, aj + m, col(kmax));
        rdiag[kmax] = rdiag[j];
        wa[kmax] = wa[j];
        std::swap(ipvt[j], ipvt[kmax]);
        std::swap(tail_norm[j], tail_norm[kmax]);
      }
    }
    // Householder transformation reducing column j to a multiple of e_j.
    double ajnorm = known_or_enorm(tail_norm[j], m - j, aj + j);
    if (ajnorm != 0.0) {
      if (aj[j] < 0.0) ajnorm = -ajnorm;
      for (int i = j; i < m; ++i) aj[i] /= ajnorm;
      aj[j] += 1.0;
      // Apply it to the remaining columns (and to b: lmder's label 80 loop, whose
      // operations, -sum/a(j,j) added, round as these do).
      int k0 = j + 1;
      do {
        const int count = std::min(kBatch, n - k0);
        const bool with_b = qtb && k0 + count == n;
        for (int c = 0; c < count; ++c) cols[c] = col(k0 + c) + j;
        if (with_b) cols[count] = qtb + j;
        const int total = count + (with_b ? 1 : 0);
        dot_columns(m - j, aj + j, cols, total, sums);
        for (int c = 0; c < total; ++c) {
          double* ak = cols[c];
          const double temp = sums[c] / aj[j];
          for (int i = 0; i < m - j; ++i) ak[i] -= temp * aj[j + i];
        }
        // Norms of rows j+1..m-1 of the updated columns: the pivot's norm at the
        // next step, and MINPACK's recomputed rdiag below. Only one of them is
        // the next pivot's: while one group of lanes holds them all, summing all
        // costs no more than the pivot's own sum alone (a chain of additions);
        // with more columns left, the next step sums its pivot's.
        if (n - j - 1 <= kGroup) {
          for (int c = 0; c < count; ++c) cols[c] += 1;
          norm_columns(m - j - 1, cols, count, sums);
        } else {
          std::fill(sums, sums + count, -1.0);
        }
        for (int c = 0; c < count; ++c) {
          const int k = k0 + c;
          tail_norm[k] = sums[c];
          if (pivot && rdiag[k] != 0.0) {
            const double t = col(k)[j] / rdiag[k];
            rdiag[k] *= std::sqrt(std::max(0.0, 1.0 - t * t));
            if (!(p05 * square(rdiag[k] / wa[k]) > kMachineEpsilon)) {
              rdiag[k] = known_or_enorm(tail_norm[k], m - j - 1, col(k) + j + 1);
              wa[k] = rdiag[k];
            }
          }
        }
        k0 += count;
      } while (k0 < n);
    } else {
      for (int k = j + 1; k < n; ++k) tail_norm[k] = -1.0;
    }
    rdiag[j] = -ajnorm;  // label 100
  }
}

void qrsolv(int n, double* r, int ldr, const int* ipvt, const double* diag, const double* qtb,
            double* x, double* sdiag, double* wa) {
  auto R = [r, ldr](int i, int j) -> double& { return r[i + static_cast<long>(j) * ldr]; };

  // Copy R and Q^T b to preserve input and initialise S; save R's diagonal in x.
  for (int j = 0; j < n; ++j) {
    for (int i = j; i < n; ++i) R(i, j) = R(j, i);
    x[j] = R(j, j);
    wa[j] = qtb[j];
  }

  // Eliminate the diagonal matrix d using Givens rotations.
  for (int j = 0; j < n; ++j) {
    // Prepare the row of d to be eliminated, locating the diagonal element
    // using P from the QR factorisation.
    const int l = ipvt[j];
    if (diag[l] != 0.0) {
      for (int k = j; k < n; ++k) sdiag[k] = 0.0;
      sdiag[j] = diag[l];
      // The transformations modify only a single element of Q^T b beyond the
      // first n, which is initially zero.
      double qtbpj = 0.0;
      for (int k = j; k < n; ++k) {
        if (sdiag[k] == 0.0) continue;
        double sin, cos;
        if (!(std::fabs(R(k, k)) >= std::fabs(sdiag[k]))) {
          const double cotan = R(k, k) / sdiag[k];
          sin = 0.5 / std::sqrt(0.25 + 0.25 * square(cotan));
          cos = sin * cotan;
        } else {  // label 40
          const double tan = sdiag[k] / R(k, k);
          cos = 0.5 / std::sqrt(0.25 + 0.25 * square(tan));
          sin = cos * tan;
        }
        // Modified diagonal element of R and modified element of (Q^T b, 0).
        R(k, k) = cos * R(k, k) + sin * sdiag[k];
        const double temp = cos * wa[k] + sin * qtbpj;
        qtbpj = -sin * wa[k] + cos * qtbpj;
        wa[k] = temp;
        // Accumulate the transformation in the row of S.
        for (int i = k + 1; i < n; ++i) {
          const double t = cos * R(i, k) + sin * sdiag[i];
          sdiag[i] = -sin * R(i, k) + cos * sdiag[i];
          R(i, k) = t;
        }
      }
    }
    // label 90: store the diagonal element of S, restore that of R.
    sdiag[j] = R(j, j);
    R(j, j) = x[j];
  }

  // Solve the triangular system for z; if singular, a least-squares solution.
  int nsing = n;
  for (int j = 0; j < n; ++j) {
    if (sdiag[j] == 0.0 && nsing == n) nsing = j;
    if (nsing < n) wa[j] = 0.0;
  }
  for (int j = nsing - 1; j >= 0; --j) {
    double sum = 0.0;
    for (int i = j + 1; i < nsing; ++i) sum += R(i, j) * wa[i];
    wa[j] = (wa[j] - sum) / sdiag[j];
  }

  // Permute the components of z back to components of x.
  for (int j = 0; j < n; ++j) x[ipvt[j]] = wa[j];
}

void lmpar(int n, double* r, int ldr, const int* ipvt, const double* diag, const double* qtb,
           double delta, double& par, double* x, double* sdiag, double* wa1, double* wa2) {
  constexpr double p1 = 0.1;
  constexpr double p001 = 1.0e-3;
  constexpr double dwarf = kSmallestPositive;
  auto R = [r, ldr](int i, int j) -> double& { return r[i + static_cast<long>(j) * ldr]; };

  // Gauss-Newton direction; if the Jacobian is rank-deficient, a least-squares
  // solution.
  int nsing = n;
  for (int j = 0; j < n; ++j) {
    wa1[j] = qtb[j];
    if (R(j, j) == 0.0 && nsing == n) nsing = j;
    if (nsing < n) wa1[j] = 0.0;
  }
  for (int j = nsing - 1; j >= 0; --j) {
    wa1[j] /= R(j, j);
    const double temp = wa1[j];
    for (int i = 0; i < j; ++i) wa1[i] -= R(i, j) * temp;
  }
  for (int j = 0; j < n; ++j) x[ipvt[j]] = wa1[j];

  // Evaluate the function at the origin and test for acceptance of the
  // Gauss-Newton direction.
  int iter = 0;
  for (int j = 0; j < n; ++j) wa2[j] = diag[j] * x[j];
  double dxnorm = enorm(n, wa2);
  double fp = dxnorm - delta;
  if (fp <= p1 * delta) {
    par = 0.0;  // label 220 with iter == 0
    return;
  }

  // If the Jacobian is not rank deficient, the Newton step provides a lower
  // bound parl for the zero of the function; otherwise parl = 0.
  double parl = 0.0;
  if (nsing >= n) {
    for (int j = 0; j < n; ++j) {
      const int l = ipvt[j];
      wa1[j] = diag[l] * (wa2[l] / dxnorm);
    }
    for (int j = 0; j < n; ++j) {
      double sum = 0.0;
      for (int i = 0; i < j; ++i) sum += R(i, j) * wa1[i];
      wa1[j] = (wa1[j] - sum) / R(j, j);
    }
    const double temp = enorm(n, wa1);
    parl = ((fp / delta) / temp) / temp;
  }

  // Upper bound paru for the zero of the function.
  for (int j = 0; j < n; ++j) {
    double sum = 0.0;
    for (int i = 0; i <= j; ++i) sum += R(i, j) * qtb[i];
    const int l = ipvt[j];
    wa1[j] = sum / diag[l];
  }
  const double gnorm = enorm(n, wa1);
  double paru = gnorm / delta;
  if (paru == 0.0) paru = dwarf / std::min(delta, p1);

  // If the input par lies outside (parl, paru), set it to the closer endpoint.
  par = std::max(par, parl);
  par = std::min(par, paru);
  if (par == 0.0) par = gnorm / dxnorm;

  for (;;) {  // label 150
    ++iter;
    // Evaluate the function at the current value of par.
    if (par == 0.0) par = std::max(dwarf, p001 * paru);
    const double sqrt_par = std::sqrt(par);
    for (int j = 0; j < n; ++j) wa1[j] = sqrt_par * diag[j];
    qrsolv(n, r, ldr, ipvt, wa1, qtb, x, sdiag, wa2);
    for (int j = 0; j < n; ++j) wa2[j] = diag[j] * x[j];
    dxnorm = enorm(n, wa2);
    const double fp_old = fp;
    fp = dxnorm - delta;

    // Accept par if the function is small enough; also stop in the exceptional
    // cases where parl is zero or the number of iterations has reached 10.
    if (std::fabs(fp) <= p1 * delta || (parl == 0.0 && fp <= fp_old && fp_old < 0.0) || iter == 10)
      return;

    // Newton correction.
    for (int j = 0; j < n; ++j) {
      const int l = ipvt[j];
      wa1[j] = diag[l] * (wa2[l] / dxnorm);
    }
    for (int j = 0; j < n; ++j) {
      wa1[j] /= sdiag[j];
      const double temp = wa1[j];
      for (int i = j + 1; i < n; ++i) wa1[i] -= R(i, j) * temp;
    }
    const double temp = enorm(n, wa1);
    const double parc = ((fp / delta) / temp) / temp;

    // Depending on the sign of the function, update parl or paru.
    if (fp > 0.0) parl = std::max(parl, par);
    if (fp < 0.0) paru = std::min(paru, par);
    // Improved estimate for par.
    par = std::max(parl, par + parc);
  }
}

}  // namespace lmbatch::leastsq::minpack
