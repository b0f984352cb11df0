// The constants and table of lmbatch::simd::exp, shared by the scalar code
// (exp_scalar.hpp) and the vector code (exp-inl.h).
#pragma once

#include <cstdint>

namespace lmbatch::simd::detail {

struct ExpConstants {
  static constexpr std::uint64_t kN = 128;                      // table size: 2^(i/N), i < N
  static constexpr double kInvLn2N = 0x1.71547652b82fep0 * kN;  // N/ln2
  // -ln2/N = kNegLn2HiN + kNegLn2LoN; the high part has 33 significant bits.
  static constexpr double kNegLn2HiN = -0x1.62e42fefa0000p-8;
  static constexpr double kNegLn2LoN = -0x1.cf79abc9e3b3ap-47;
  // 1.5 * 2^52: z + kShift rounds z to an integer held in the low mantissa bits.
  static constexpr double kShift = 0x1.8p52;
  // exp(r) - 1 - r ~= r^2 (C2 + r C3) + r^4 (C4 + r C5) on |r| <= ln2/256
  // (the coefficients of the algorithm's published minimax polynomial).
  static constexpr double kC2 = 0x1.ffffffffffdbdp-2;
  static constexpr double kC3 = 0x1.555555555543cp-3;
  static constexpr double kC4 = 0x1.55555cf172b91p-5;
  static constexpr double kC5 = 0x1.1111167a4d017p-7;
  // k << 45 adds k / N to the exponent field (52 - 7 = 45).
  static constexpr int kTopShift = 45;
  // Biased exponents (the top 11 bits of |x|): below kTopTiny |x| < 2^-54;
  // kTopLarge: 512 <= |x| < 1024 (the scale may leave the normal range);
  // from kTopHuge: |x| >= 1024, inf and NaN.
  static constexpr std::int64_t kTopTiny = 0x3c9;
  static constexpr std::int64_t kTopLarge = 0x408;
  static constexpr std::int64_t kTopHuge = 0x409;
  // special_case(): bit 31 of ki is set for k < 0 (|k| < 2^31 here).
  static constexpr std::uint64_t kSignBitOfK = 0x80000000u;
  static constexpr std::uint64_t kOverflowRebias = 1009ull << 52;
  static constexpr std::uint64_t kUnderflowRebias = 1022ull << 52;
  static constexpr double kTwoTo1009 = 0x1p1009;
  static constexpr double kTwoToMinus1022 = 0x1p-1022;
};

// tail_i and (bits of scale_i) - (i << 45), i < 128, where scale_i is
// 2^(i/128) rounded to a double and tail_i = (2^(i/128) - scale_i) / scale_i
// rounded (tests/support/gen_exp_table.py). Defined in exp.cpp.
extern const std::uint64_t kExpTailBits[128];
extern const std::uint64_t kExpScaleBits[128];

}  // namespace lmbatch::simd::detail
