// Run-time dispatch for a Highway kernel source (foreach_target.h), without
// libhwy: in the source's HWY_ONCE part, LMBATCH_SIMD_DISPATCH(Fn) is the
// instance of Fn compiled for simd::chosen_target() (the baseline's where
// that target was not compiled in).
#pragma once

#include <hwy/highway.h>

#include "lmbatch/simd/targets.hpp"

namespace lmbatch::simd::detail {
template <class Fn>
Fn choose(Fn avx3, Fn avx2, Fn sse4, Fn baseline) {
  const std::int64_t t = chosen_target();
  if (t == HWY_AVX3 && avx3) return avx3;
  if (t == HWY_AVX2 && avx2) return avx2;
  if (t == HWY_SSE4 && sse4) return sse4;
  return baseline;
}
}  // namespace lmbatch::simd::detail

#if (HWY_TARGETS & HWY_AVX3) && HWY_STATIC_TARGET != HWY_AVX3
#define LMBATCH_SIMD_AVX3(FN) &N_AVX3::FN
#else
#define LMBATCH_SIMD_AVX3(FN) nullptr
#endif
#if (HWY_TARGETS & HWY_AVX2) && HWY_STATIC_TARGET != HWY_AVX2
#define LMBATCH_SIMD_AVX2(FN) &N_AVX2::FN
#else
#define LMBATCH_SIMD_AVX2(FN) nullptr
#endif
#if (HWY_TARGETS & HWY_SSE4) && HWY_STATIC_TARGET != HWY_SSE4
#define LMBATCH_SIMD_SSE4(FN) &N_SSE4::FN
#else
#define LMBATCH_SIMD_SSE4(FN) nullptr
#endif
// HWY_ONCE's pass is the baseline's (HWY_STATIC_TARGET): HWY_NAMESPACE names it.
#define LMBATCH_SIMD_DISPATCH(FN)                                \
  ::lmbatch::simd::detail::choose<decltype(&HWY_NAMESPACE::FN)>( \
      LMBATCH_SIMD_AVX3(FN), LMBATCH_SIMD_AVX2(FN), LMBATCH_SIMD_SSE4(FN), &HWY_NAMESPACE::FN)
