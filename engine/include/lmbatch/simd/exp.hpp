// lmbatch's own exp: one algorithm for the scalar path and for the SIMD lanes
// (issue #19), so that a model evaluated in lanes and one evaluated sample by
// sample give the same bits.
//
// The algorithm is Szabolcs Nagy's (ARM optimized-routines, glibc >= 2.28):
// exp(x) = 2^(k/N) exp(r), N = 128, k = round(x N/ln2), r = x - k ln2/N with
// ln2/N split in a 33-bit high part (k ln2hi/N exact) and a low part; 2^(k/N)
// from a 128-entry table (each entry a double and a relative tail); exp(r)
// - 1 by a degree-5 polynomial. Written here without fused multiply-adds
// (the engine builds with -ffp-contract=off, and the vector code uses only
// Mul and Add): the same bits with GCC and Clang, scalar and in lanes, on
// every x86-64. glibc's exp is the same algorithm but its build is picked at
// run time: its FMA build (AVX2 machines) differs from this one in the last
// bit on 3.1e-4 of the arguments (bench/exp_accuracy.cpp).
//
// Accuracy against a correctly rounded exp (MPFR, 10^7 arguments over the
// whole range, bench/exp_accuracy.cpp): at most 0.507 ulp, 99.945 % correctly
// rounded (glibc's FMA build: 0.506 ulp, 99.956 %).
// Special values: exp(NaN) = NaN (the same NaN, quieted), exp(+inf) = +inf,
// exp(-inf) = +0, overflow (x > 709.78...) +inf, underflow to subnormals
// rounded once (no double rounding), below -745.13... +0. errno and the
// floating-point exception flags are not part of the contract.
#pragma once

#include <cstddef>

namespace lmbatch::simd {

// e^x, as described above. Pure function: same bits on every x86-64 (SSE2 or
// later) and every compiler that keeps IEEE semantics without contraction.
double exp(double x) noexcept;

// y[i] = exp(x[i]) for i < n by the vector code of the dispatched target
// (W = lane_width() lanes at a time): the same bits as exp() above, lane by
// lane. x and y may be the same array.
void exp_lanes(const double* x, double* y, std::size_t n) noexcept;

}  // namespace lmbatch::simd
