// lmbatch::simd::atan, scalar (see lmbatch/simd/atan.hpp). The vector code
// (atan-inl.h) does the same operations, lane by lane: keep them in step.
#include <cmath>

#include "atan_constants.hpp"
#include "lmbatch/simd/atan.hpp"

namespace lmbatch::simd {

double atan(double x) noexcept {
  using C = detail::AtanConstants;
  const double a = std::fabs(x);
  if (!(a >= C::kTiny && a < C::kHuge)) [[unlikely]] {
    if (x != x) return x + x;  // NaN, quieted
    if (a < C::kTiny) return x;
    return x > 0.0 ? C::kHi[3] + C::kLo[3] : -C::kHi[3] - C::kLo[3];
  }
  // t: the reduced argument; centre: which of atan(1/2) ... atan(inf) it is
  // taken around (-1: around 0, t = x).
  double t = x;
  int centre = -1;
  if (a >= C::kSmall) {
    if (a < C::kHalfEnd) {
      centre = 0, t = (2.0 * a - 1.0) / (2.0 + a);
    } else if (a < C::kOneEnd) {
      centre = 1, t = (a - 1.0) / (a + 1.0);
    } else if (a < C::kThreeHalvesEnd) {
      centre = 2, t = (a - 1.5) / (1.0 + 1.5 * a);
    } else {
      centre = 3, t = -1.0 / a;
    }
  }
  const double z = t * t;
  const double w = z * z;
  const double s1 =
      z * (C::kT[0] +
           w * (C::kT[2] + w * (C::kT[4] + w * (C::kT[6] + w * (C::kT[8] + w * C::kT[10])))));
  const double s2 =
      w * (C::kT[1] + w * (C::kT[3] + w * (C::kT[5] + w * (C::kT[7] + w * C::kT[9]))));
  if (centre < 0) return t - t * (s1 + s2);
  const double r = C::kHi[centre] - ((t * (s1 + s2) - C::kLo[centre]) - t);
  return x < 0.0 ? -r : r;
}

}  // namespace lmbatch::simd
