// lmbatch::simd::exp in Highway vectors: per lane exactly the operations of
// the scalar exp (exp_scalar.hpp), in the same order, so every lane gives the scalar
// bits. Only Mul, Add and Sub (never MulAdd: a fused multiply-add rounds once
// where the scalar code rounds twice), integer ops on the representation,
// table gathers and blends. The scalar code's branches become masks: every
// lane runs the main path; the lanes with |x| >= 512, |x| < 2^-54, inf or NaN
// take the scalar branch's value by a blend (computed only when some lane
// needs it: far Gaussian tails, -x/tau beyond 512, are common in fits).
//
// Per-target inline code (Highway's "-inl.h" convention): include it after
// hwy/highway.h in a file compiled once per target (foreach_target.h).
#if defined(LMBATCH_SIMD_EXP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMBATCH_SIMD_EXP_INL_H_
#undef LMBATCH_SIMD_EXP_INL_H_
#else
#define LMBATCH_SIMD_EXP_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"
#include "simd/exp_table.hpp"

HWY_BEFORE_NAMESPACE();
namespace lmbatch::simd::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace exp_detail {

// The scalar exp_special_case() (exp.cpp) on every lane: the k >= 0 branch, the
// k < 0 branch with its subnormal rounding, and the choice between them.
template <class D, class V = hn::Vec<D>, class VU = hn::Vec<hn::RebindToUnsigned<D>>>
HWY_INLINE V SpecialCase(D d, V tmp, VU sbits, VU ki) {
  using C = detail::ExpConstants;
  const hn::RebindToUnsigned<D> du;
  // k >= 0: scale * 2^-1009, and back.
  const V scale_up = hn::BitCast(d, hn::Sub(sbits, hn::Set(du, C::kOverflowRebias)));
  const V up = hn::Mul(hn::Set(d, C::kTwoTo1009), hn::Add(scale_up, hn::Mul(scale_up, tmp)));
  // k < 0: scale * 2^1022, rounded once to the subnormal precision.
  const V one = hn::Set(d, 1.0);
  const V scale = hn::BitCast(d, hn::Add(sbits, hn::Set(du, C::kUnderflowRebias)));
  const V y = hn::Add(scale, hn::Mul(scale, tmp));
  V lo = hn::Add(hn::Sub(scale, y), hn::Mul(scale, tmp));
  const V hi = hn::Add(one, y);
  lo = hn::Add(hn::Add(hn::Sub(one, hi), y), lo);
  V rounded = hn::Sub(hn::Add(hi, lo), one);
  const V zero = hn::Zero(d);
  rounded = hn::IfThenElse(hn::Eq(rounded, zero), zero, rounded);  // +0, never -0
  const V down =
      hn::Mul(hn::Set(d, C::kTwoToMinus1022), hn::IfThenElse(hn::Lt(y, one), rounded, y));
  const auto k_nonnegative =
      hn::RebindMask(d, hn::Eq(hn::And(ki, hn::Set(du, C::kSignBitOfK)), hn::Zero(du)));
  return hn::IfThenElse(k_nonnegative, up, down);
}

}  // namespace exp_detail

// e^x on every lane: the bits of lmbatch::simd::exp(x[l]) in lane l.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Exp(D d, V x) {
  using C = detail::ExpConstants;
  const hn::RebindToUnsigned<D> du;
  const hn::RebindToSigned<D> di;
  const auto ux = hn::BitCast(du, x);
  const auto abstop = hn::BitCast(di, hn::And(hn::ShiftRight<52>(ux), hn::Set(du, 0x7ff)));

  const V z = hn::Mul(hn::Set(d, C::kInvLn2N), x);
  const V shift = hn::Set(d, C::kShift);
  V kd = hn::Add(z, shift);
  const auto ki = hn::BitCast(du, kd);
  kd = hn::Sub(kd, shift);
  const V r = hn::Add(hn::Add(x, hn::Mul(kd, hn::Set(d, C::kNegLn2HiN))),
                      hn::Mul(kd, hn::Set(d, C::kNegLn2LoN)));
  // The index is in [0, N) for every lane, NaN and inf included.
  const auto idx = hn::BitCast(di, hn::And(ki, hn::Set(du, C::kN - 1)));
  const auto top = hn::ShiftLeft<C::kTopShift>(ki);
  const auto* tails = reinterpret_cast<const std::int64_t*>(detail::kExpTailBits);
  const auto* scales = reinterpret_cast<const std::int64_t*>(detail::kExpScaleBits);
  const V tail = hn::BitCast(d, hn::GatherIndex(di, tails, idx));
  const auto sbits = hn::Add(hn::BitCast(du, hn::GatherIndex(di, scales, idx)), top);
  const V r2 = hn::Mul(r, r);
  const V tmp = hn::Add(
      hn::Add(hn::Add(tail, r),
              hn::Mul(r2, hn::Add(hn::Set(d, C::kC2), hn::Mul(r, hn::Set(d, C::kC3))))),
      hn::Mul(hn::Mul(r2, r2), hn::Add(hn::Set(d, C::kC4), hn::Mul(r, hn::Set(d, C::kC5)))));
  const V scale = hn::BitCast(d, sbits);
  V y = hn::Add(scale, hn::Mul(scale, tmp));

  // The scalar code's early returns and special_case(), where any lane needs them.
  const auto tiny = hn::Lt(abstop, hn::Set(di, C::kTopTiny));
  const auto large = hn::Gt(abstop, hn::Set(di, C::kTopLarge - 1));  // includes huge
  const auto other = hn::RebindMask(d, hn::Or(tiny, large));
  if (HWY_UNLIKELY(!hn::AllFalse(d, other))) {
    const V one = hn::Set(d, 1.0);
    const auto huge = hn::RebindMask(d, hn::Gt(abstop, hn::Set(di, C::kTopHuge - 1)));
    const auto negative = hn::RebindMask(d, hn::Lt(hn::BitCast(di, ux), hn::Zero(di)));
    const V inf = hn::BitCast(d, hn::Set(du, 0x7ff0000000000000ull));
    V beyond = hn::IfThenElse(negative, hn::Zero(d), inf);           // |x| >= 1024, +-inf
    beyond = hn::IfThenElse(hn::IsNaN(x), hn::Add(one, x), beyond);  // NaN, quieted
    y = hn::IfThenElse(hn::RebindMask(d, large),
                       hn::IfThenElse(huge, beyond, exp_detail::SpecialCase(d, tmp, sbits, ki)), y);
    y = hn::IfThenElse(hn::RebindMask(d, tiny), hn::Add(one, x), y);
  }
  return y;
}

}  // namespace lmbatch::simd::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LMBATCH_SIMD_EXP_INL_H_
