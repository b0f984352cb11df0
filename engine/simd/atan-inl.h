// lmbatch::simd::atan in Highway vectors: per lane exactly the operations of
// the scalar atan (atan.cpp), in the same order, so every lane gives the
// scalar bits. Only Add, Sub, Mul, Div, sign operations and blends (never
// MulAdd: a fused multiply-add rounds once where the scalar code rounds
// twice). The scalar code's choice of centre becomes masks: each lane's
// numerator and denominator, and atan of its centre, are picked by blends
// and divided once; the special arguments (NaN, |x| < 2^-27, |x| >= 2^66)
// take the scalar branch's value by a blend, computed only where some lane
// needs it.
//
// Per-target inline code (Highway's "-inl.h" convention): include it after
// hwy/highway.h in a file compiled once per target (foreach_target.h).
#if defined(LMBATCH_SIMD_ATAN_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMBATCH_SIMD_ATAN_INL_H_
#undef LMBATCH_SIMD_ATAN_INL_H_
#else
#define LMBATCH_SIMD_ATAN_INL_H_
#endif

#include "hwy/highway.h"
#include "simd/atan_constants.hpp"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// atan(x) on every lane: the bits of lmbatch::simd::atan(x[l]) in lane l.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Atan(D d, V x) {
  using C = detail::AtanConstants;
  const V one = hn::Set(d, 1.0), two = hn::Set(d, 2.0), three_halves = hn::Set(d, 1.5);
  const V a = hn::Abs(x);
  const auto small = hn::Lt(a, hn::Set(d, C::kSmall));
  const auto half = hn::Lt(a, hn::Set(d, C::kHalfEnd));
  const auto unit = hn::Lt(a, hn::Set(d, C::kOneEnd));
  const auto three = hn::Lt(a, hn::Set(d, C::kThreeHalvesEnd));
  // The reduction t = num / den around the lane's centre (inf, 3/2, 1, 1/2:
  // the masks nest), t = x around 0; and atan of the centre, hi + lo.
  V num = hn::Neg(one), den = a;
  V hi = hn::Set(d, C::kHi[3]), lo = hn::Set(d, C::kLo[3]);
  num = hn::IfThenElse(three, hn::Sub(a, three_halves), num);
  den = hn::IfThenElse(three, hn::Add(one, hn::Mul(three_halves, a)), den);
  hi = hn::IfThenElse(three, hn::Set(d, C::kHi[2]), hi);
  lo = hn::IfThenElse(three, hn::Set(d, C::kLo[2]), lo);
  num = hn::IfThenElse(unit, hn::Sub(a, one), num);
  den = hn::IfThenElse(unit, hn::Add(a, one), den);
  hi = hn::IfThenElse(unit, hn::Set(d, C::kHi[1]), hi);
  lo = hn::IfThenElse(unit, hn::Set(d, C::kLo[1]), lo);
  num = hn::IfThenElse(half, hn::Sub(hn::Mul(two, a), one), num);
  den = hn::IfThenElse(half, hn::Add(two, a), den);
  hi = hn::IfThenElse(half, hn::Set(d, C::kHi[0]), hi);
  lo = hn::IfThenElse(half, hn::Set(d, C::kLo[0]), lo);
  const V t = hn::IfThenElse(small, x, hn::Div(num, den));

  const V z = hn::Mul(t, t);
  const V w = hn::Mul(z, z);
  V s1 = hn::Mul(w, hn::Set(d, C::kT[10]));
  s1 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[8]), s1));
  s1 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[6]), s1));
  s1 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[4]), s1));
  s1 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[2]), s1));
  s1 = hn::Mul(z, hn::Add(hn::Set(d, C::kT[0]), s1));
  V s2 = hn::Mul(w, hn::Set(d, C::kT[9]));
  s2 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[7]), s2));
  s2 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[5]), s2));
  s2 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[3]), s2));
  s2 = hn::Mul(w, hn::Add(hn::Set(d, C::kT[1]), s2));
  const V poly = hn::Mul(t, hn::Add(s1, s2));
  V r = hn::Sub(hi, hn::Sub(hn::Sub(poly, lo), t));
  r = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Neg(r), r);
  V y = hn::IfThenElse(small, hn::Sub(t, poly), r);

  // The scalar code's early return: NaN, |x| < 2^-27, |x| >= 2^66.
  const auto tiny = hn::Lt(a, hn::Set(d, C::kTiny));
  const auto other = hn::Not(hn::And(hn::Not(tiny), hn::Lt(a, hn::Set(d, C::kHuge))));
  if (HWY_UNLIKELY(!hn::AllFalse(d, other))) {
    const V hi3 = hn::Set(d, C::kHi[3]), lo3 = hn::Set(d, C::kLo[3]);
    V special =
        hn::IfThenElse(hn::Gt(x, hn::Zero(d)), hn::Add(hi3, lo3), hn::Sub(hn::Neg(hi3), lo3));
    special = hn::IfThenElse(tiny, x, special);
    special = hn::IfThenElse(hn::IsNaN(x), hn::Add(x, x), special);
    y = hn::IfThenElse(other, special, y);
  }
  return y;
}

}  // namespace lmbatch::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LMBATCH_SIMD_ATAN_INL_H_
