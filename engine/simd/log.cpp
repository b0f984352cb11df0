// lmbatch::simd::log and log1p, scalar (see lmbatch/simd/log.hpp). The vector
// code (log-inl.h) does the same operations, lane by lane: keep them in step.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "lmbatch/simd/log.hpp"
#include "log_constants.hpp"

namespace lmbatch::simd {
namespace {

using C = detail::LogConstants;
constexpr double kInf = std::numeric_limits<double>::infinity();

// k ln 2 + log(1 + f) + c, 1 + f in [sqrt(2)/2, sqrt(2)], c a correction far
// below f's ulp.
double log_of_reduced(double f, double k, double c) {
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double R =
      z * (C::kL1 +
           z * (C::kL2 + z * (C::kL3 + z * (C::kL4 + z * (C::kL5 + z * (C::kL6 + z * C::kL7))))));
  const double hfsq = 0.5 * f * f;
  return k * C::kLn2Hi - ((hfsq - (s * (hfsq + R) + (k * C::kLn2Lo + c))) - f);
}

// v (positive, normal) = 2^k (1 + f) with 1 + f in [sqrt(2)/2, sqrt(2)):
// f, exactly, and k added to `k`.
double reduce(double v, double& k) {
  const auto bits = std::bit_cast<std::int64_t>(v);
  const std::int64_t significand = bits & C::kSignificandMask;
  const bool high = significand >= C::kSqrt2Significand;
  k += static_cast<double>((bits >> 52) - 1023 + (high ? 1 : 0));
  return std::bit_cast<double>(significand | (high ? C::kExponentOfHalf : C::kExponentOfOne)) - 1.0;
}

}  // namespace

double log(double x) noexcept {
  if (!(x > 0.0 && x < kInf)) [[unlikely]] {
    if (x == 0.0) return -kInf;
    if (x != x || x == kInf) return x + x;            // NaN (quieted), +inf
    return std::numeric_limits<double>::quiet_NaN();  // x < 0, -inf
  }
  double k = 0.0;
  if (x < C::kSmallestNormal) x *= C::kTwoTo54, k = -54.0;  // exact
  const double f = reduce(x, k);
  return log_of_reduced(f, k, 0.0);
}

double log1p(double x) noexcept {
  if (!(x > -1.0 && x < kInf) || std::fabs(x) < C::kTiny) [[unlikely]] {
    if (std::fabs(x) < C::kTiny || x == kInf) return x;
    if (x == -1.0) return -kInf;
    if (x != x) return x + x;                         // NaN, quieted
    return std::numeric_limits<double>::quiet_NaN();  // x < -1, -inf
  }
  double f = x, c = 0.0, k = 0.0;
  if (!(x > C::kSmallLow && x < C::kSmallHigh)) {
    // 1 + x = 2^k (1 + f); c: the rounding error of u = 1 + x, relative to
    // u. Both differences are exact (Fast2Sum, the larger operand first:
    // Sterbenz makes u - 1 exact for x < 1, u - x for x >= 1). fdlibm
    // switches on k > 0 instead, where for x in [0.414, 1) u - x may round:
    // 2 ulp errors there.
    const double u = 1.0 + x;
    f = reduce(u, k);
    c = (x < 1.0 ? x - (u - 1.0) : 1.0 - (u - x)) / u;
  }
  return log_of_reduced(f, k, c);
}

}  // namespace lmbatch::simd
