// lmbatch's own log and log1p: one algorithm for the scalar path and for the
// SIMD lanes (issue #19), so that a loss evaluated in lanes and one evaluated
// sample by sample give the same bits (cauchy's rho(z) = ln(1 + z), Poisson's
// deviance through ln(y / f); batch/loss.hpp).
//
// The method is fdlibm's e_log.c and s_log1p.c (Sun Microsystems, 1993),
// written here from their description: the argument is 2^k (1 + f) with
// 1 + f in [sqrt(2)/2, sqrt(2)); log(1 + f) = f - hfsq + s (hfsq + R(s^2))
// with s = f / (2 + f), hfsq = f^2 / 2 and R fdlibm's degree-7 Remez
// polynomial; k ln 2 in a high part (k ln2hi exact) and a low part. log takes
// f and k from x's representation, exactly (subnormals scaled by 2^54 first).
// log1p takes them from u = 1 + x and adds back u's rounding error c / u, or
// takes f = x exactly where 1 + x already lies in [sqrt(2)/2, sqrt(2)); c by
// Fast2Sum, exact (fdlibm's choice of formula rounds for x in [0.414, 1): 2
// ulp errors there; see log.cpp). Only +, -, *, / and operations on the
// representation (the engine builds with -ffp-contract=off): the same bits
// with GCC and Clang, scalar and in lanes, on every x86-64.
//
// Accuracy against long double's logl and log1pl
// (tests/simd/test_loss_functions.cpp), worst over 4 10^7 arguments: log
// 0.796 ulp, log1p 0.855 ulp (the tests hold 0.9). Special values: log(0) =
// -inf, log(x < 0) = NaN, log(+inf) = +inf; log1p(-1) = -inf, log1p(x < -1) =
// NaN, log1p(+inf) = +inf, log1p(x) = x for |x| < 2^-54 (signed zeros kept);
// NaN gives NaN (quieted). errno and the floating-point exception flags are
// not part of the contract.
#pragma once

#include <cstddef>

namespace lmbatch::simd {

// ln x and ln(1 + x), as described above. Pure functions: the same bits on
// every x86-64.
double log(double x) noexcept;
double log1p(double x) noexcept;

// y[i] = log(x[i]) or log1p(x[i]) for i < n by the vector code of the
// dispatched target: the same bits as log() and log1p(), lane by lane. x and
// y may be the same array.
void log_lanes(const double* x, double* y, std::size_t n) noexcept;
void log1p_lanes(const double* x, double* y, std::size_t n) noexcept;

}  // namespace lmbatch::simd
