// MINPACK-1's linear-algebra building blocks for Levenberg-Marquardt, kept
// recognisable routine by routine (More, Garbow, Hillstrom, "User Guide for
// MINPACK-1", ANL-80-74, 1980). Each function follows the Fortran routine of the
// same name statement by statement, so that the iterates match scipy's bundled
// MINPACK bit for bit. Matrices are column-major with a leading dimension, as in
// Fortran; indices are 0-based (ipvt holds 0-based column numbers).
//
// These sources must be compiled without floating-point contraction
// (-ffp-contract=off): a fused multiply-add changes the last bit of a sum and can
// flip an accept/reject decision of the driver.
#pragma once

#include <span>

namespace lmbatch::leastsq::minpack {

// dpmpar(1) and dpmpar(2) as scipy's bundled MINPACK defines them: 12-digit
// literals, not DBL_EPSILON / DBL_MIN. The forward-difference step and several
// stringent-tolerance tests depend on the exact value.
inline constexpr double kMachineEpsilon = 2.22044604926e-16;
inline constexpr double kSmallestPositive = 2.22507385852e-308;

// enorm's thresholds (MINPACK's rdwarf and rgiant).
inline constexpr double kEnormDwarf = 3.834e-20;
inline constexpr double kEnormGiant = 1.304e19;

// enorm without its three-sum loop. enorm adds the squares of its intermediate
// components (rdwarf < |x_i| < agiant = rgiant/len) into s2, in order, and
// treats small and large ones apart. A plain sum, in the same order, of the
// squares of every component above rdwarf (large and NaN ones included: the
// additions of +0 for the small ones change nothing) is enorm's s2, and enorm's
// answer is sqrt(s2) exactly, when holds(s2):
//  - s2 < fl(agiant^2): no component was large or NaN (a sum of non-negative
//    terms never decreases and squaring rounds monotonically), so enorm's s1 is
//    0 and its s2 is this one;
//  - s2 >= 2^56 rdwarf^2 len and s2 >= rdwarf: the small components, if any,
//    enter enorm's result as sqrt(s2 * (1 + (x3max/s2)*(x3max*s3))) with
//    x3max <= rdwarf and s3 <= len, a term below 2^-54 that 1 + term rounds
//    away.
// Otherwise (zero, tiny or huge vectors, NaN, Inf) enorm's own loop decides.
// qrfac's column sums and the SIMD lanes (lanes.hpp) use it.
struct PlainNormBounds {
  double giant_squared;  // fl(agiant^2)
  double floor;          // max(rdwarf, 2^56 rdwarf^2 len)
  explicit PlainNormBounds(int len) {
    const double agiant = kEnormGiant / static_cast<double>(len);
    giant_squared = agiant * agiant;
    const double small = 0x1p56 * (kEnormDwarf * kEnormDwarf) * static_cast<double>(len);
    floor = kEnormDwarf < small ? small : kEnormDwarf;  // std::max
  }
  bool holds(double s2) const { return s2 < giant_squared && s2 >= floor; }
};

// enorm: Euclidean norm of x, accumulated in three sums (small, intermediate,
// large components) to avoid destructive underflow and overflow.
double enorm(std::span<const double> x);
inline double enorm(int n, const double* x) {
  return enorm(std::span<const double>(x, n));
}

// qrfac: Householder QR factorisation of the m x n matrix a (leading dimension
// lda) with column pivoting (pivot = true) as in LINPACK's dqrdc. On return the
// upper triangle of a holds R without its diagonal, the lower trapezoid the
// Householder vectors; rdiag holds R's diagonal, acnorm the norms of the columns
// of the input a, and ipvt the permutation (column j of a*P is column ipvt[j]
// of a). wa and tail_norm are scratch of length n.
//
// When qtb is given (length m), each Householder transformation is also applied
// to it as soon as it is formed, leaving Q^T b there: lmder's loop between labels
// 80 and 120, fused into the factorisation with the same operations, so the same
// bits. The sums of one step (over the remaining columns and b) run side by side,
// each still accumulated in MINPACK's order, and the norm of the next pivot
// column is summed while its update is fresh; MINPACK's arithmetic is unchanged.
void qrfac(int m, int n, double* a, int lda, bool pivot, int* ipvt, double* rdiag, double* acnorm,
           double* wa, double* tail_norm, double* qtb = nullptr);

// qrsolv: given the QR factorisation a*P = Q*R (r, ipvt from qrfac), a diagonal
// d (diag) and qtb = the first n elements of Q^T b, solves
//     a*x = b,  d*x = 0   in the least-squares sense,
// completing R with Givens rotations. r's strict lower triangle receives the
// strict upper triangle of S (the triangular factor of P^T (a^T a + d d) P), whose
// diagonal goes to sdiag; R's upper triangle and diagonal are preserved.
void qrsolv(int n, double* r, int ldr, const int* ipvt, const double* diag, const double* qtb,
            double* x, double* sdiag, double* wa);

// lmpar: determines the Levenberg-Marquardt parameter par such that the solution
// x of  a*x = b, sqrt(par)*D*x = 0  satisfies  |D x| within 10% of delta (or
// par = 0 when the Gauss-Newton step is already inside the trust region).
// On input par is an initial estimate; on output the final value. x receives the
// step, sdiag as in qrsolv, wa1 and wa2 are scratch of length n.
void lmpar(int n, double* r, int ldr, const int* ipvt, const double* diag, const double* qtb,
           double delta, double& par, double* x, double* sdiag, double* wa1, double* wa2);

}  // namespace lmbatch::leastsq::minpack
