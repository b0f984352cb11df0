// lmbatch's own atan: one algorithm for the scalar path and for the SIMD
// lanes (issue #19), so that a loss evaluated in lanes and one evaluated
// sample by sample give the same bits (arctan's rho(z) = atan(z),
// batch/loss.hpp).
//
// The method is fdlibm's s_atan.c (Sun Microsystems, 1993), written here
// from its description: |x| reduced to |t| <= 7/16 around one of 0, 1/2, 1,
// 3/2 and infinity (t = x, (2x - 1)/(2 + x), (x - 1)/(x + 1), (x - 3/2)/(1 +
// 3x/2), -1/x), atan(t) = t - t (s1 + s2) with fdlibm's degree-11 odd
// polynomial split in even and odd powers of t^4, and atan of the centre in a
// high and a low part. Only +, -, *, / and comparisons (the engine builds
// with -ffp-contract=off): the same bits with GCC and Clang, scalar and in
// lanes, on every x86-64.
//
// Accuracy against long double's atanl (tests/simd/test_loss_functions.cpp):
// 0.847 ulp at worst over 4 10^7 arguments (the test holds 0.9).
// Special values: atan(+-inf) = +-pi/2 (rounded), atan(NaN) = NaN
// (quieted), atan(x) = x for |x| < 2^-27 (signed zeros kept), +-pi/2 from
// |x| >= 2^66 on. errno and the floating-point exception flags are not part
// of the contract.
#pragma once

#include <cstddef>

namespace lmbatch::simd {

// atan(x), as described above. Pure function: same bits on every x86-64.
double atan(double x) noexcept;

// y[i] = atan(x[i]) for i < n by the vector code of the dispatched target:
// the same bits as atan() above, lane by lane. x and y may be the same array.
void atan_lanes(const double* x, double* y, std::size_t n) noexcept;

}  // namespace lmbatch::simd
