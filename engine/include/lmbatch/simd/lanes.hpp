// SIMD lanes (issue #19): several problems side by side, one per lane.
//
// The engine is built for generic x86-64 and picks the widest vector unit the
// CPU has at run time (lmbatch/simd/targets.hpp): AVX-512 (8 doubles), AVX2
// (4), SSE4 (2), or, on machines without SSE4, Highway's scalar target (1
// lane). The targets compiled are set once, in engine/CMakeLists.txt
// (HWY_DISABLED_TARGETS).
#pragma once

#include <cstddef>

namespace lmbatch::simd {

// W: doubles per vector of the dispatched target, the number of problems the
// lane kernels (models::Model::value_lanes, the lane solver) run side by side.
// Constant for the life of the process (unless simd::use_target changes it).
int lane_width() noexcept;

// Element by element, in vectors, with the scalar expression's bits (no
// reordering, no contraction): r = y - f, or (y - f) / sigma where sigma is
// given; and x = -x, or -x / sigma, then times g where g is given. The
// residuals of y - f and their Jacobian -df/dp, weighted by 1 / sigma (and
// under a robust loss or poisson scaled by its factor g, loss.hpp).
void residuals_lanes(const double* y, const double* f, const double* sigma, double* r,
                     std::size_t count) noexcept;
void negate_lanes(double* x, const double* sigma, std::size_t count,
                  const double* g = nullptr) noexcept;

}  // namespace lmbatch::simd
