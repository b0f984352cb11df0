// lane_width() and the functions' lanes (exp, log, log1p, atan), compiled
// once per SIMD target (Highway's foreach_target.h) and dispatched at run
// time.
#include <cstddef>

#include "lmbatch/simd/atan.hpp"
#include "lmbatch/simd/exp.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/log.hpp"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "simd/lanes.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "simd/atan-inl.h"
#include "simd/exp-inl.h"
#include "simd/log-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

int LaneWidth() {
  return static_cast<int>(hn::Lanes(hn::ScalableTag<double>()));
}

// y[i] = Fn(x[i]) for i < n, W lanes at a time; the remainder padded with
// zeros, still through the vector code.
template <class Fn>
void MapLanes(const double* x, double* y, std::size_t n, Fn fn) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + w <= n; i += w) hn::StoreU(fn(d, hn::LoadU(d, x + i)), d, y + i);
  if (i < n) {
    HWY_ALIGN double buffer[HWY_MAX_BYTES / sizeof(double)] = {};
    for (std::size_t j = 0; i + j < n; ++j) buffer[j] = x[i + j];
    hn::Store(fn(d, hn::Load(d, buffer)), d, buffer);
    for (std::size_t j = 0; i + j < n; ++j) y[i + j] = buffer[j];
  }
}

void ExpLanes(const double* x, double* y, std::size_t n) {
  MapLanes(x, y, n, [](auto d, auto v) { return Exp(d, v); });
}

void LogLanes(const double* x, double* y, std::size_t n) {
  MapLanes(x, y, n, [](auto d, auto v) { return Log(d, v); });
}

void Log1pLanes(const double* x, double* y, std::size_t n) {
  MapLanes(x, y, n, [](auto d, auto v) { return Log1p(d, v); });
}

void AtanLanes(const double* x, double* y, std::size_t n) {
  MapLanes(x, y, n, [](auto d, auto v) { return Atan(d, v); });
}

// r = y - f, or (y - f) / sigma (sigma non-null), element by element.
void ResidualsLanes(const double* y, const double* f, const double* sigma, double* r,
                    std::size_t count) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  std::size_t i = 0;
  if (sigma) {
    for (; i + w <= count; i += w)
      hn::StoreU(
          hn::Div(hn::Sub(hn::LoadU(d, y + i), hn::LoadU(d, f + i)), hn::LoadU(d, sigma + i)), d,
          r + i);
    for (; i < count; ++i) r[i] = (y[i] - f[i]) / sigma[i];
  } else {
    for (; i + w <= count; i += w)
      hn::StoreU(hn::Sub(hn::LoadU(d, y + i), hn::LoadU(d, f + i)), d, r + i);
    for (; i < count; ++i) r[i] = y[i] - f[i];
  }
}

// x = -x, or -x / sigma (sigma non-null), then times g (g non-null),
// element by element.
void NegateLanes(double* x, const double* sigma, std::size_t count, const double* g) {
  const hn::ScalableTag<double> d;
  const std::size_t w = hn::Lanes(d);
  std::size_t i = 0;
  for (; i + w <= count; i += w) {
    auto v = hn::Neg(hn::LoadU(d, x + i));
    if (sigma) v = hn::Div(v, hn::LoadU(d, sigma + i));
    if (g) v = hn::Mul(v, hn::LoadU(d, g + i));
    hn::StoreU(v, d, x + i);
  }
  for (; i < count; ++i) {
    double v = -x[i];
    if (sigma) v = v / sigma[i];
    if (g) v = v * g[i];
    x[i] = v;
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

void residuals_lanes(const double* y, const double* f, const double* sigma, double* r,
                     std::size_t count) noexcept {
  LMBATCH_SIMD_DISPATCH(ResidualsLanes)(y, f, sigma, r, count);
}

void negate_lanes(double* x, const double* sigma, std::size_t count, const double* g) noexcept {
  LMBATCH_SIMD_DISPATCH(NegateLanes)(x, sigma, count, g);
}

void exp_lanes(const double* x, double* y, std::size_t n) noexcept {
  LMBATCH_SIMD_DISPATCH(ExpLanes)(x, y, n);
}

void log_lanes(const double* x, double* y, std::size_t n) noexcept {
  LMBATCH_SIMD_DISPATCH(LogLanes)(x, y, n);
}

void log1p_lanes(const double* x, double* y, std::size_t n) noexcept {
  LMBATCH_SIMD_DISPATCH(Log1pLanes)(x, y, n);
}

void atan_lanes(const double* x, double* y, std::size_t n) noexcept {
  LMBATCH_SIMD_DISPATCH(AtanLanes)(x, y, n);
}

}  // namespace lmbatch::simd
#endif  // HWY_ONCE
