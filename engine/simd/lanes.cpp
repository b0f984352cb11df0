// lane_width() and exp_lanes(), compiled once per SIMD target (Highway's
// foreach_target.h) and dispatched at run time.
#include <cstddef>

#include "lmbatch/simd/exp.hpp"
#include "lmbatch/simd/lanes.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/lanes.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/exp-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

int LaneWidth() {
  return static_cast<int>(hn::Lanes(hn::ScalableTag<double>()));
}

void ExpLanes(const double* x, double* y, std::size_t n) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + w <= n; i += w) hn::StoreU(Exp(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {  // the remainder, padded with zeros (still through the vector code)
    HWY_ALIGN double buffer[HWY_MAX_BYTES / sizeof(double)] = {};
    for (std::size_t j = 0; i + j < n; ++j) buffer[j] = x[i + j];
    hn::Store(Exp(d, hn::Load(d, buffer)), d, buffer);
    for (std::size_t j = 0; i + j < n; ++j) y[i + j] = buffer[j];
  }
}

}  // namespace lmbatch::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "simd/dispatch.hpp"

namespace lmbatch::simd {

// Not cached: tests switch targets (simd::use_target).
int lane_width() noexcept {
  return LMBATCH_SIMD_DISPATCH(LaneWidth)();
}

void exp_lanes(const double* x, double* y, std::size_t n) noexcept {
  LMBATCH_SIMD_DISPATCH(ExpLanes)(x, y, n);
}

}  // namespace lmbatch::simd
#endif  // HWY_ONCE
