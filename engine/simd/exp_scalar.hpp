// lmbatch::simd::exp's scalar code, inline (internal to the engine): the term
// files call exp_inline() in their loops, lmbatch::simd::exp() is the same
// function out of line (exp.cpp). Only for files compiled with
// -ffp-contract=off (the engine's): a contracted multiply-add would change
// bits. The vector code (exp-inl.h) does the same operations, lane by lane.
//
// The algorithm follows Szabolcs Nagy's exp (ARM optimized-routines, in glibc
// since 2.28), written from its description: reduction with N = 128, k
// rounded by adding 1.5 * 2^52 (the "shift": k then sits in the low bits of
// kd's representation, so no conversion is needed), the table entry's bits
// plus k << 45 as the scale 2^(k/N) (the integer part of k/N lands in the
// exponent field), exp(r) = 1 + r + r^2 (C2 + r C3) + r^4 (C4 + r C5) with
// |r| <= ln2/256, and scale + scale * tmp as the result. Arguments with
// 512 <= |x| < 1024 take exp_special_case(), where the scale may leave the
// normal range: k > 0 (overflow side: the scale is taken down by 2^1009 and
// the sum multiplied back, overflowing to inf when it must) or k < 0
// (underflow side: a result below 2^-1022 is rounded to its subnormal
// precision once, by adding and removing 1.0 in double-double arithmetic,
// before the exact scaling by 2^-1022; a plain product would round twice).
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "exp_table.hpp"

namespace lmbatch::simd {
namespace detail {
double exp_special_case(double tmp, std::uint64_t sbits, std::uint64_t ki) noexcept;
}  // namespace detail

inline double exp_inline(double x) noexcept {
  using C = detail::ExpConstants;
  const std::uint64_t ux = std::bit_cast<std::uint64_t>(x);
  const std::int64_t abstop = static_cast<std::int64_t>((ux >> 52) & 0x7ff);
  if (abstop < C::kTopTiny) [[unlikely]]
    return 1.0 + x;                          // |x| < 2^-54: rounds to 1 (or 1 - 2^-53)
  if (abstop >= C::kTopHuge) [[unlikely]] {  // |x| >= 1024, inf, NaN
    if (x != x) return 1.0 + x;              // NaN, quieted
    return (ux >> 63) != 0 ? 0.0 : std::numeric_limits<double>::infinity();
  }
  const double z = C::kInvLn2N * x;
  double kd = z + C::kShift;
  const std::uint64_t ki = std::bit_cast<std::uint64_t>(kd);
  kd -= C::kShift;
  // kd * kNegLn2HiN is exact (kd < 2^18, the high part has 33 bits), and so
  // is its sum with x (Sterbenz).
  const double r = (x + kd * C::kNegLn2HiN) + kd * C::kNegLn2LoN;
  const std::uint64_t idx = ki & (C::kN - 1);
  const std::uint64_t top = ki << C::kTopShift;
  const double tail = std::bit_cast<double>(detail::kExpTailBits[idx]);
  const std::uint64_t sbits = detail::kExpScaleBits[idx] + top;
  const double r2 = r * r;
  const double tmp = ((tail + r) + r2 * (C::kC2 + r * C::kC3)) + (r2 * r2) * (C::kC4 + r * C::kC5);
  if (abstop >= C::kTopLarge) [[unlikely]]
    return detail::exp_special_case(tmp, sbits, ki);  // 512 <= |x| < 1024
  const double scale = std::bit_cast<double>(sbits);
  return scale + scale * tmp;
}

}  // namespace lmbatch::simd
