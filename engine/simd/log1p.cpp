// lmbatch::simd::log1p, scalar (see lmbatch/simd/log1p.hpp). The vector code
// (log1p-inl.h) does the same operations, lane by lane: keep them in step.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "lmbatch/simd/log1p.hpp"
#include "log1p_constants.hpp"

namespace lmbatch::simd {

double log1p(double x) noexcept {
  using C = detail::Log1pConstants;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (!(x > -1.0 && x < kInf) || std::fabs(x) < C::kTiny) [[unlikely]] {
    if (std::fabs(x) < C::kTiny || x == kInf) return x;
    if (x == -1.0) return -kInf;
    if (x != x) return x + x;                         // NaN, quieted
    return std::numeric_limits<double>::quiet_NaN();  // x < -1, -inf
  }
  double f = x, c = 0.0, k = 0.0;
  if (!(x > C::kSmallLow && x < C::kSmallHigh)) {
    // 1 + x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)); c: the rounding
    // error of u = 1 + x, relative to u. Both differences are exact
    // (Fast2Sum, the larger operand first: Sterbenz makes u - 1 exact for
    // x < 1, u - x for x >= 1). fdlibm switches on k > 0 instead, where for
    // x in [0.414, 1) u - x may round: 2 ulp errors there.
    const double u = 1.0 + x;
    const auto bits = std::bit_cast<std::int64_t>(u);
    const std::int64_t significand = bits & C::kSignificandMask;
    const bool high = significand >= C::kSqrt2Significand;
    k = static_cast<double>((bits >> 52) - 1023 + (high ? 1 : 0));
    f = std::bit_cast<double>(significand | (high ? C::kExponentOfHalf : C::kExponentOfOne)) - 1.0;
    c = (x < 1.0 ? x - (u - 1.0) : 1.0 - (u - x)) / u;
  }
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double R =
      z * (C::kL1 +
           z * (C::kL2 + z * (C::kL3 + z * (C::kL4 + z * (C::kL5 + z * (C::kL6 + z * C::kL7))))));
  const double hfsq = 0.5 * f * f;
  return k * C::kLn2Hi - ((hfsq - (s * (hfsq + R) + (k * C::kLn2Lo + c))) - f);
}

}  // namespace lmbatch::simd
