// The constants of lmbatch::simd::log and log1p (lmbatch/simd/log.hpp),
// shared by their scalar code (log.cpp) and their vector code (log-inl.h).
// Given by their bits, so that no decimal conversion can move them.
#pragma once

#include <bit>
#include <cstdint>

namespace lmbatch::simd::detail {

struct LogConstants {
  // fdlibm's ln 2 split: ln2hi has its low 32 bits zero, so k ln2hi is exact
  // for |k| < 2^11; ln2lo = ln 2 - ln2hi, rounded.
  static constexpr double kLn2Hi = std::bit_cast<double>(std::uint64_t{0x3fe62e42fee00000});
  static constexpr double kLn2Lo = std::bit_cast<double>(std::uint64_t{0x3dea39ef35793c76});
  // fdlibm's Remez coefficients: R(z) = z (L1 + z (L2 + ... + z L7)),
  // |log(1 + f) - (f - hfsq + s (hfsq + R))| < 2^-58.45 for s^2 <= 0.1716^2.
  static constexpr double kL1 = std::bit_cast<double>(std::uint64_t{0x3fe5555555555593});
  static constexpr double kL2 = std::bit_cast<double>(std::uint64_t{0x3fd999999997fa04});
  static constexpr double kL3 = std::bit_cast<double>(std::uint64_t{0x3fd2492494229359});
  static constexpr double kL4 = std::bit_cast<double>(std::uint64_t{0x3fcc71c51d8e78af});
  static constexpr double kL5 = std::bit_cast<double>(std::uint64_t{0x3fc7466496cb03de});
  static constexpr double kL6 = std::bit_cast<double>(std::uint64_t{0x3fc39a09d078c69f});
  static constexpr double kL7 = std::bit_cast<double>(std::uint64_t{0x3fc2f112df3e5244});
  // 1 + x in (sqrt(2)/2, sqrt(2)) for x in (kSmallLow, kSmallHigh): f = x.
  static constexpr double kSmallLow = -0.2928932188134524;   // 1 - sqrt(2)/2
  static constexpr double kSmallHigh = 0.41421356237309503;  // sqrt(2) - 1
  // Below 2^-54 in magnitude log1p(x) rounds to x.
  static constexpr double kTiny = 0x1p-54;
  // log's subnormal arguments are scaled into the normal range first.
  static constexpr double kSmallestNormal = 0x1p-1022, kTwoTo54 = 0x1p54;
  // The significand bits of sqrt(2): a significand at or above them is
  // taken down an octave, so that 1 + f lies in [sqrt(2)/2, sqrt(2)).
  static constexpr std::int64_t kSqrt2Significand = 0x6a09e667f3bcd;
  static constexpr std::int64_t kSignificandMask = (std::int64_t{1} << 52) - 1;
  static constexpr std::int64_t kExponentOfOne = std::int64_t{1023} << 52;
  static constexpr std::int64_t kExponentOfHalf = std::int64_t{1022} << 52;
};

}  // namespace lmbatch::simd::detail
