// MINPACK-1 enorm, qrfac, qrsolv, lmpar, statement by statement. The Fortran
// labels are kept in comments where the control flow jumps, so each block can be
// checked against the original. Fortran's x**2 is written x*x (what gfortran emits).
#include "lmbatch/leastsq/minpack.hpp"

#include <algorithm>
#include <cmath>

namespace lmbatch::leastsq::minpack {
namespace {
inline double square(double v) {
  return v * v;
}
}  // namespace

double enorm(std::span<const double> x) {
  constexpr double rdwarf = 3.834e-20;
  constexpr double rgiant = 1.304e19;
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

void qrfac(int m, int n, double* a, int lda, bool pivot, int* ipvt, double* rdiag, double* acnorm,
           double* wa) {
  constexpr double p05 = 5.0e-2;
  auto col = [a, lda](int j) { return a + static_cast<long>(j) * lda; };

  // Initial column norms.
  for (int j = 0; j < n; ++j) {
    acnorm[j] = enorm(m, col(j));
    rdiag[j] = acnorm[j];
    wa[j] = rdiag[j];
    if (pivot) ipvt[j] = j;
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
      }
    }
    // Householder transformation reducing column j to a multiple of e_j.
    double ajnorm = enorm(m - j, aj + j);
    if (ajnorm != 0.0) {
      if (aj[j] < 0.0) ajnorm = -ajnorm;
      for (int i = j; i < m; ++i) aj[i] /= ajnorm;
      aj[j] += 1.0;
      // Apply it to the remaining columns and update their norms.
      for (int k = j + 1; k < n; ++k) {
        double* ak = col(k);
        double sum = 0.0;
        for (int i = j; i < m; ++i) sum += aj[i] * ak[i];
        const double temp = sum / aj[j];
        for (int i = j; i < m; ++i) ak[i] -= temp * aj[i];
        if (pivot && rdiag[k] != 0.0) {
          const double t = ak[j] / rdiag[k];
          rdiag[k] *= std::sqrt(std::max(0.0, 1.0 - t * t));
          if (!(p05 * square(rdiag[k] / wa[k]) > kMachineEpsilon)) {
            rdiag[k] = enorm(m - j - 1, ak + j + 1);
            wa[k] = rdiag[k];
          }
        }
      }
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
