// lmbatch::simd::log and log1p in Highway vectors: per lane exactly the
// operations of the scalar functions (log.cpp), in the same order, so every
// lane gives the scalar bits. Only Add, Sub, Mul, Div (never MulAdd: a fused
// multiply-add rounds once where the scalar code rounds twice), integer ops
// on the representation and blends. The scalar code's branches become masks:
// every lane takes the main path (log1p: the reduction of 1 + x, and f = x
// where the scalar code takes it; log: the scaling of subnormals); the
// special arguments take the scalar branch's value by a blend, computed only
// where some lane needs it.
//
// Per-target inline code (Highway's "-inl.h" convention): include it after
// hwy/highway.h in a file compiled once per target (foreach_target.h).
#if defined(LMBATCH_SIMD_LOG_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMBATCH_SIMD_LOG_INL_H_
#undef LMBATCH_SIMD_LOG_INL_H_
#else
#define LMBATCH_SIMD_LOG_INL_H_
#endif

#include <limits>

#include "hwy/highway.h"
#include "simd/log_constants.hpp"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace log_detail {

// reduce() of log.cpp: v (positive, normal) = 2^k (1 + f), 1 + f in
// [sqrt(2)/2, sqrt(2)); returns f and adds k to `k`.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Reduce(D d, V v, V& k) {
  using C = detail::LogConstants;
  const hn::RebindToSigned<D> di;
  const auto bits = hn::BitCast(di, v);
  const auto significand = hn::And(bits, hn::Set(di, C::kSignificandMask));
  const auto high = hn::Not(hn::Lt(significand, hn::Set(di, C::kSqrt2Significand)));
  auto ki = hn::Sub(hn::ShiftRight<52>(bits), hn::Set(di, 1023));
  ki = hn::IfThenElse(high, hn::Add(ki, hn::Set(di, 1)), ki);
  k = hn::Add(k, hn::ConvertTo(d, ki));
  const auto exponent =
      hn::IfThenElse(high, hn::Set(di, C::kExponentOfHalf), hn::Set(di, C::kExponentOfOne));
  return hn::Sub(hn::BitCast(d, hn::Or(significand, exponent)), hn::Set(d, 1.0));
}

// log_of_reduced() of log.cpp: k ln 2 + log(1 + f) + c.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V LogOfReduced(D d, V f, V k, V c) {
  using C = detail::LogConstants;
  const V s = hn::Div(f, hn::Add(hn::Set(d, 2.0), f));
  const V z = hn::Mul(s, s);
  V R = hn::Mul(z, hn::Set(d, C::kL7));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL6), R));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL5), R));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL4), R));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL3), R));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL2), R));
  R = hn::Mul(z, hn::Add(hn::Set(d, C::kL1), R));
  const V hfsq = hn::Mul(hn::Mul(hn::Set(d, 0.5), f), f);
  const V low =
      hn::Add(hn::Mul(s, hn::Add(hfsq, R)), hn::Add(hn::Mul(k, hn::Set(d, C::kLn2Lo)), c));
  return hn::Sub(hn::Mul(k, hn::Set(d, C::kLn2Hi)), hn::Sub(hn::Sub(hfsq, low), f));
}

}  // namespace log_detail

// ln x on every lane: the bits of lmbatch::simd::log(x[l]) in lane l.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Log(D d, V x) {
  using C = detail::LogConstants;
  const V zero = hn::Zero(d), inf = hn::Inf(d);
  const auto subnormal = hn::Lt(x, hn::Set(d, C::kSmallestNormal));
  V k = hn::IfThenElseZero(subnormal, hn::Set(d, -54.0));
  const V v = hn::IfThenElse(subnormal, hn::Mul(x, hn::Set(d, C::kTwoTo54)), x);
  const V f = log_detail::Reduce(d, v, k);
  V y = log_detail::LogOfReduced(d, f, k, zero);
  // The scalar code's early return: NaN, x <= 0, +inf.
  const auto other = hn::Not(hn::And(hn::Gt(x, zero), hn::Lt(x, inf)));
  if (HWY_UNLIKELY(!hn::AllFalse(d, other))) {
    V special = hn::Set(d, std::numeric_limits<double>::quiet_NaN());  // x < 0, -inf
    special = hn::IfThenElse(hn::Or(hn::IsNaN(x), hn::Eq(x, inf)), hn::Add(x, x), special);
    special = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), special);
    y = hn::IfThenElse(other, special, y);
  }
  return y;
}

// ln(1 + x) on every lane: the bits of lmbatch::simd::log1p(x[l]) in lane l.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Log1p(D d, V x) {
  using C = detail::LogConstants;
  const V one = hn::Set(d, 1.0);
  // 1 + x = 2^k (1 + f), and the correction c.
  const V u = hn::Add(one, x);
  V k = hn::Zero(d);
  V f = log_detail::Reduce(d, u, k);
  V c = hn::Div(
      hn::IfThenElse(hn::Lt(x, one), hn::Sub(x, hn::Sub(u, one)), hn::Sub(one, hn::Sub(u, x))), u);
  // 1 + x in (sqrt(2)/2, sqrt(2)): f = x, k = c = 0.
  const auto small =
      hn::And(hn::Gt(x, hn::Set(d, C::kSmallLow)), hn::Lt(x, hn::Set(d, C::kSmallHigh)));
  f = hn::IfThenElse(small, x, f);
  k = hn::IfThenZeroElse(small, k);
  c = hn::IfThenZeroElse(small, c);
  V y = log_detail::LogOfReduced(d, f, k, c);

  // The scalar code's early return: NaN, x <= -1, +inf, |x| < 2^-54.
  const V inf = hn::Inf(d);
  const auto tiny = hn::Lt(hn::Abs(x), hn::Set(d, C::kTiny));
  const auto other = hn::Or(hn::Not(hn::And(hn::Gt(x, hn::Set(d, -1.0)), hn::Lt(x, inf))), tiny);
  if (HWY_UNLIKELY(!hn::AllFalse(d, other))) {
    V special = hn::Set(d, std::numeric_limits<double>::quiet_NaN());  // x < -1, -inf
    special = hn::IfThenElse(hn::IsNaN(x), hn::Add(x, x), special);    // NaN, quieted
    special = hn::IfThenElse(hn::Eq(x, hn::Set(d, -1.0)), hn::Neg(inf), special);
    special = hn::IfThenElse(hn::Or(tiny, hn::Eq(x, inf)), x, special);
    y = hn::IfThenElse(other, special, y);
  }
  return y;
}

}  // namespace lmbatch::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LMBATCH_SIMD_LOG_INL_H_
