// The 18 More-Garbow-Hillstrom nonlinear least-squares test problems of the
// MINPACK-1 test drivers (lmddrv / lmfdrv), transcribed statement by statement
// from the Fortran test routines ssqfcn, ssqjac and initpt (Argonne, March 1980;
// problems described in shared/data/minpack/PROBLEMS.md).
//
// Bit-level reproduction: every expression keeps the Fortran operation order
// (a*b/c is (a*b)/c, sums left to right, x**2 written as x*x as gfortran emits
// it) and uses scalar libm exp/sin/cos/atan/sqrt. The evaluations agree bit for
// bit with the Python reference (tools/minpack_problems.py) that produced
// scipy's reference runs. Compile without floating-point contraction
// (-ffp-contract=off) and without -ffast-math.
#pragma once

namespace lmbatch::test {

// Residuals fvec[0..m-1] of problem nprob (1..18, MINPACK's numbering) at x[0..n-1].
void ssqfcn(int m, int n, const double* x, double* fvec, int nprob);

// Jacobian d fvec_i / d x_j, stored column-major m x n: fjac[i + j*m].
void ssqjac(int m, int n, const double* x, double* fjac, int nprob);

// Standard starting point times factor. Watson (11), whose standard start is 0,
// instead starts from x_j = factor when factor != 1 (as MINPACK's initpt).
void initpt(int n, double* x, int nprob, double factor);

}  // namespace lmbatch::test
