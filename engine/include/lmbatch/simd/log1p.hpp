// lmbatch's own log1p: one algorithm for the scalar path and for the SIMD
// lanes (issue #19), so that a loss evaluated in lanes and one evaluated
// sample by sample give the same bits (cauchy's rho(z) = ln(1 + z),
// batch/loss.hpp).
//
// The method is fdlibm's s_log1p.c (Sun Microsystems, 1993), written here
// from its description: 1 + x = 2^k (1 + f) with 1 + f in [sqrt(2)/2,
// sqrt(2)); log(1 + f) = f - hfsq + s (hfsq + R(s^2)) with s = f / (2 + f),
// hfsq = f^2 / 2 and R fdlibm's degree-7 Remez polynomial; k ln 2 in a high
// part (k ln2hi exact) and a low part; and the rounding error of 1 + x,
// c / (1 + x), added back. Where 1 + x already lies in [sqrt(2)/2,
// sqrt(2)), f = x exactly (k = 0, c = 0). c by Fast2Sum, exact (fdlibm's
// choice of formula rounds for x in [0.414, 1), 2 ulp errors there; see
// log1p.cpp). Only +, -, *, / and operations on
// the representation (the engine builds with -ffp-contract=off): the same
// bits with GCC and Clang, scalar and in lanes, on every x86-64.
//
// Accuracy against long double's log1pl (tests/simd/test_loss_functions.cpp):
// 0.855 ulp at worst over 4 10^7 arguments over (-1, DBL_MAX] (the test holds
// 0.9). Special values: log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) =
// +inf, log1p(NaN) = NaN (quieted),
// log1p(x) = x for |x| < 2^-54 (signed zeros kept). errno and the
// floating-point exception flags are not part of the contract.
#pragma once

#include <cstddef>

namespace lmbatch::simd {

// ln(1 + x), as described above. Pure function: same bits on every x86-64.
double log1p(double x) noexcept;

// y[i] = log1p(x[i]) for i < n by the vector code of the dispatched target:
// the same bits as log1p() above, lane by lane. x and y may be the same array.
void log1p_lanes(const double* x, double* y, std::size_t n) noexcept;

}  // namespace lmbatch::simd
