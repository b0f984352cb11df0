// The constants of lmbatch::simd::atan (lmbatch/simd/atan.hpp), shared by its
// scalar code (atan.cpp) and its vector code (atan-inl.h). Given by their
// bits, so that no decimal conversion can move them.
#pragma once

#include <bit>
#include <cstdint>

namespace lmbatch::simd::detail {

constexpr double from_bits(std::uint64_t b) {
  return std::bit_cast<double>(b);
}

struct AtanConstants {
  static constexpr auto bits = from_bits;
  // atan(1/2), atan(1), atan(3/2), atan(inf) = pi/2: the nearest double and
  // the rest, rounded (checked against 80-digit series).
  static constexpr double kHi[4] = {bits(0x3fddac670561bb4f), bits(0x3fe921fb54442d18),
                                    bits(0x3fef730bd281f69b), bits(0x3ff921fb54442d18)};
  static constexpr double kLo[4] = {bits(0x3c7a2b7f222f65e2), bits(0x3c81a62633145c07),
                                    bits(0x3c7007887af0cbbd), bits(0x3c91a62633145c07)};
  // fdlibm's coefficients: atan(t) = t - t (z (T0 + w (T2 + ... + w T10)) +
  // w (T1 + w (T3 + ... + w T9))), z = t^2, w = z^2, for |t| <= 7/16.
  static constexpr double kT[11] = {
      bits(0x3fd555555555550d), bits(0xbfc999999998ebc4), bits(0x3fc24924920083ff),
      bits(0xbfbc71c6fe231671), bits(0x3fb745cdc54c206e), bits(0xbfb3b0f2af749a6d),
      bits(0x3fb10d66a0d03d51), bits(0xbfadde2d52defd9a), bits(0x3fa97b4b24760deb),
      bits(0xbfa2b4442c6a6c2f), bits(0x3f90ad3ae322da11)};
  // The reduction's switches on |x|: 7/16, 11/16, 19/16, 39/16.
  static constexpr double kSmall = 0.4375, kHalfEnd = 0.6875, kOneEnd = 1.1875,
                          kThreeHalvesEnd = 2.4375;
  // Below 2^-27 in magnitude atan(x) rounds to x; from 2^66 on, to +-pi/2.
  static constexpr double kTiny = 0x1p-27, kHuge = 0x1p66;
};

}  // namespace lmbatch::simd::detail
