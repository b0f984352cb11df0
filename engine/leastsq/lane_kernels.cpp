// The m-sized work of MINPACK lmder in SIMD lanes, one problem per lane
// (lanes.hpp): the norms of the residuals (enorm) and qrfac with column
// pivoting and Q^T f, each lane exactly the scalar routine's arithmetic
// (minpack.cpp): the same operations on the same operands in the same order,
// every sum accumulated in index order from +0. Per-lane branches become
// masks: both sides are computed and the lane keeps the side its own scalar
// run takes (IfThenElse), so a lane's result never depends on the others.
// The rare vectors that enorm's plain sum cannot settle (zero, tiny, huge,
// NaN: minpack::PlainNormBounds) go to the scalar enorm, lane by lane.
//
// Compiled once per instruction set by Highway's foreach_target; lanes.cpp
// calls the best one the CPU has (HWY_DYNAMIC_DISPATCH).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "leastsq/lane_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
//
#include <hwy/highway.h>

#include <cstdint>
#include <vector>

#include "lmbatch/leastsq/minpack.hpp"

#ifndef LMBATCH_LANE_KERNELS_SHARED
#define LMBATCH_LANE_KERNELS_SHARED
namespace lmbatch::leastsq::lanes {
// enorm of lane `lane` of an interleaved vector of `len` rows (stride w),
// through the scalar routine: the rare case for the lanes.
inline double lane_enorm(const double* x, int len, int w, int lane, double* gather) {
  for (int i = 0; i < len; ++i) gather[i] = x[static_cast<long>(i) * w + lane];
  return minpack::enorm(len, gather);
}
}  // namespace lmbatch::leastsq::lanes
#endif

HWY_BEFORE_NAMESPACE();
namespace lmbatch::leastsq::lanes {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using D = hn::ScalableTag<double>;
using V = hn::Vec<D>;

int Width() {
  return static_cast<int>(hn::Lanes(D()));
}
const char* Target() {
  return hwy::TargetName(HWY_TARGET);
}

// The square of each lane's |x| when above rdwarf (or NaN), else +0
// (minpack.cpp's square_above_rdwarf).
HWY_INLINE V SquareAboveDwarf(D d, V x) {
  const V xabs = hn::Abs(x);
  return hn::IfThenZeroElse(hn::Le(xabs, hn::Set(d, minpack::kEnormDwarf)), hn::Mul(xabs, xabs));
}

// Each lane's plain sum of squares over rows [0, len) of x (stride w).
HWY_INLINE V SquareSum(D d, const double* HWY_RESTRICT x, int len) {
  const size_t w = hn::Lanes(d);
  V s = hn::Zero(d);
  for (int i = 0; i < len; ++i) s = hn::Add(s, SquareAboveDwarf(d, hn::LoadU(d, x + i * w)));
  return s;
}

// enorm of each lane of x (len rows): sqrt of the plain sum where
// PlainNormBounds says it is enorm's answer, else the scalar enorm.
HWY_INLINE V Norms(D d, const double* HWY_RESTRICT x, int len, V sums, double* gather) {
  const minpack::PlainNormBounds bounds(len);
  const auto plain = hn::And(hn::Lt(sums, hn::Set(d, bounds.giant_squared)),
                             hn::Ge(sums, hn::Set(d, bounds.floor)));
  const V roots = hn::Sqrt(sums);
  if (hn::AllTrue(d, plain)) return roots;
  const int w = static_cast<int>(hn::Lanes(d));
  HWY_ALIGN double out[hn::MaxLanes(D())];
  HWY_ALIGN double mask[hn::MaxLanes(D())];
  hn::Store(roots, d, out);
  hn::Store(hn::VecFromMask(d, plain), d, mask);
  for (int l = 0; l < w; ++l)
    if (mask[l] == 0.0) out[l] = lane_enorm(x, len, w, l, gather);
  return hn::Load(d, out);
}

void ResidualNorms(const double* HWY_RESTRICT x, int len, double* HWY_RESTRICT out,
                   double* HWY_RESTRICT gather) {
  const D d;
  hn::Store(Norms(d, x, len, SquareSum(d, x, len), gather), d, out);
}

// qrfac (minpack.cpp) with pivot = true and qtb, on every lane: a is n
// columns of m x W, qtb is m x W (fvec on entry, Q^T fvec on return); rdiag,
// acnorm, ipvt (as doubles), wa and tail are n x W. tail[k] holds the norm of
// rows j..m-1 of column k at the start of step j, always known here (the
// scalar routine sums it, or takes enorm when it must, to the same bits).
void Qrfac(int m, int n, double* HWY_RESTRICT a, double* HWY_RESTRICT qtb,
           double* HWY_RESTRICT rdiag, double* HWY_RESTRICT acnorm, double* HWY_RESTRICT ipvt,
           double* HWY_RESTRICT wa, double* HWY_RESTRICT tail, double* HWY_RESTRICT gather) {
  const D d;
  const size_t w = hn::Lanes(d);
  const size_t mw = static_cast<size_t>(m) * w;
  auto col = [a, mw](int j) { return a + static_cast<size_t>(j) * mw; };
  auto at = [w](double* v, int j) { return v + static_cast<size_t>(j) * w; };
  const V zero = hn::Zero(d);

  // Initial column norms.
  for (int j = 0; j < n; ++j) {
    const V norm = Norms(d, col(j), m, SquareSum(d, col(j), m), gather);
    hn::Store(norm, d, at(acnorm, j));
    hn::Store(norm, d, at(rdiag, j));
    hn::Store(norm, d, at(wa, j));
    hn::Store(norm, d, at(tail, j));
    hn::Store(hn::Set(d, static_cast<double>(j)), d, at(ipvt, j));
  }

  const int minmn = m < n ? m : n;
  for (int j = 0; j < minmn; ++j) {
    double* aj = col(j);
    // Bring the column of largest norm into the pivot position, per lane:
    // kmax is the first k >= j with the largest rdiag (a strict >, as the
    // scalar loop, so NaN never wins).
    V best = hn::Load(d, at(rdiag, j));
    V kmax = hn::Set(d, static_cast<double>(j));
    for (int k = j + 1; k < n; ++k) {
      const V rk = hn::Load(d, at(rdiag, k));
      const auto greater = hn::Gt(rk, best);
      best = hn::IfThenElse(greater, rk, best);
      kmax = hn::IfThenElse(greater, hn::Set(d, static_cast<double>(k)), kmax);
    }
    for (int k = j + 1; k < n; ++k) {
      const auto swap = hn::Eq(kmax, hn::Set(d, static_cast<double>(k)));
      if (hn::AllFalse(d, swap)) continue;
      double* ak = col(k);
      for (int i = 0; i < m; ++i) {
        const V x = hn::Load(d, aj + i * w), y = hn::Load(d, ak + i * w);
        hn::Store(hn::IfThenElse(swap, y, x), d, aj + i * w);
        hn::Store(hn::IfThenElse(swap, x, y), d, ak + i * w);
      }
      // rdiag[kmax] = rdiag[j]; wa[kmax] = wa[j]; swap ipvt, tail.
      hn::Store(hn::IfThenElse(swap, hn::Load(d, at(rdiag, j)), hn::Load(d, at(rdiag, k))), d,
                at(rdiag, k));
      hn::Store(hn::IfThenElse(swap, hn::Load(d, at(wa, j)), hn::Load(d, at(wa, k))), d, at(wa, k));
      for (double* v : {ipvt, tail}) {
        const V x = hn::Load(d, at(v, j)), y = hn::Load(d, at(v, k));
        hn::Store(hn::IfThenElse(swap, y, x), d, at(v, j));
        hn::Store(hn::IfThenElse(swap, x, y), d, at(v, k));
      }
    }

    // Householder transformation reducing column j to a multiple of e_j, in
    // the lanes whose pivot column is not zero (`live`).
    V ajnorm = hn::Load(d, at(tail, j));
    const auto live = hn::Ne(ajnorm, zero);
    ajnorm = hn::IfThenElse(hn::And(live, hn::Lt(hn::Load(d, aj + j * w), zero)), hn::Neg(ajnorm),
                            ajnorm);
    for (int i = j; i < m; ++i) {
      const V x = hn::Load(d, aj + i * w);
      hn::Store(hn::IfThenElse(live, hn::Div(x, ajnorm), x), d, aj + i * w);
    }
    const V ajj = hn::Load(d, aj + j * w);
    const V pivot = hn::IfThenElse(live, hn::Add(ajj, hn::Set(d, 1.0)), ajj);
    hn::Store(pivot, d, aj + j * w);

    // Apply it to the remaining columns and to qtb (lmder's label 80 loop):
    // sum = v . a_k over rows j..m-1, a_k -= (sum / v_j) v.
    for (int k = j + 1; k <= n; ++k) {
      double* ak = k < n ? col(k) : qtb;
      V sum = hn::Zero(d);
      for (int i = j; i < m; ++i)
        sum = hn::Add(sum, hn::Mul(hn::Load(d, aj + i * w), hn::Load(d, ak + i * w)));
      const V temp = hn::Div(sum, pivot);
      for (int i = j; i < m; ++i) {
        const V x = hn::Load(d, ak + i * w);
        hn::Store(hn::IfThenElse(live, hn::Sub(x, hn::Mul(temp, hn::Load(d, aj + i * w))), x), d,
                  ak + i * w);
      }
    }

    // Norms of rows j+1..m-1 of the remaining columns (the next pivot's, and
    // MINPACK's recomputed rdiag), then rdiag's downdate.
    constexpr double p05 = 5.0e-2;
    const int len = m - j - 1;
    for (int k = j + 1; k < n; ++k) {
      double* tail_rows = col(k) + static_cast<size_t>(j + 1) * w;
      const V tk = Norms(d, tail_rows, len, SquareSum(d, tail_rows, len), gather);
      hn::Store(tk, d, at(tail, k));
      const V rk = hn::Load(d, at(rdiag, k));
      const auto downdate = hn::And(live, hn::Ne(rk, zero));
      if (hn::AllFalse(d, downdate)) continue;
      const V t = hn::Div(hn::Load(d, col(k) + static_cast<size_t>(j) * w), rk);
      const V one_minus = hn::Sub(hn::Set(d, 1.0), hn::Mul(t, t));
      // std::max(0.0, v): v where 0 < v, else 0 (NaN too).
      const V clamped = hn::IfThenElseZero(hn::Lt(zero, one_minus), one_minus);
      const V scaled = hn::Mul(rk, hn::Sqrt(clamped));
      const V ratio = hn::Div(scaled, hn::Load(d, at(wa, k)));
      const auto recompute = hn::Not(hn::Gt(hn::Mul(hn::Set(d, p05), hn::Mul(ratio, ratio)),
                                            hn::Set(d, minpack::kMachineEpsilon)));
      const V updated = hn::IfThenElse(recompute, tk, scaled);
      hn::Store(hn::IfThenElse(downdate, updated, rk), d, at(rdiag, k));
      hn::Store(hn::IfThenElse(hn::And(downdate, recompute), tk, hn::Load(d, at(wa, k))), d,
                at(wa, k));
    }
    hn::Store(hn::Neg(ajnorm), d, at(rdiag, j));  // label 100
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmbatch::leastsq::lanes
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmbatch::leastsq::lanes {
HWY_EXPORT(Width);
HWY_EXPORT(Target);
HWY_EXPORT(ResidualNorms);
HWY_EXPORT(Qrfac);

int width() {
  return HWY_DYNAMIC_DISPATCH(Width)();
}
void residual_norms(const double* x, int len, double* out, double* gather) {
  HWY_DYNAMIC_DISPATCH(ResidualNorms)(x, len, out, gather);
}
void qrfac(int m, int n, double* a, double* qtb, double* rdiag, double* acnorm, double* ipvt,
           double* wa, double* tail, double* gather) {
  HWY_DYNAMIC_DISPATCH(Qrfac)(m, n, a, qtb, rdiag, acnorm, ipvt, wa, tail, gather);
}
std::vector<std::int64_t> targets() {
  std::vector<std::int64_t> out;
  for (std::int64_t t = hwy::SupportedTargets() & HWY_TARGETS; t != 0; t &= t - 1)
    out.push_back(t & -t);  // lowest bit first: Highway numbers the best targets lowest
  return out;
}
void use_target(std::int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
}
const char* target_name() {
  return HWY_DYNAMIC_DISPATCH(Target)();
}
}  // namespace lmbatch::leastsq::lanes
#endif
