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
// calls the instance for the CPU (simd/dispatch.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "leastsq/lane_kernels.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
//
#include <hwy/highway.h>

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

// Loops over a group's G <= 4 columns carry "#pragma GCC unroll 4": GCC 12 at
// -O2 kept them rolled, so the G sums lived in memory and every row's add
// waited on a store (perf annotate: a third of Qrfac's samples on those
// stores; the engine took 22 % longer on workload 1). Unrolled, the sums stay
// in registers; the operations and their order are the same.

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

// SquareSum of G vectors x[g] at once (independent sums overlap), into
// sums (G x W).
template <int G>
HWY_INLINE void SquareSums(D d, const double* const* x, int len, double* HWY_RESTRICT sums) {
  const size_t w = hn::Lanes(d);
  V s[G];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) s[g] = hn::Zero(d);
  for (int i = 0; i < len; ++i)
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g)
      s[g] = hn::Add(s[g], SquareAboveDwarf(d, hn::Load(d, x[g] + i * w)));
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) hn::Store(s[g], d, sums + g * w);
}

// enorm of each lane of x (len rows): sqrt of the plain sum where
// PlainNormBounds says it is enorm's answer, else the scalar enorm. Lanes
// outside `wanted` get the plain root whatever it is (nobody reads them).
HWY_INLINE V Norms(D d, const double* HWY_RESTRICT x, int len, V sums, double* gather,
                   hn::Mask<D> wanted) {
  const minpack::PlainNormBounds bounds(len);
  const auto plain = hn::Or(hn::Not(wanted), hn::And(hn::Lt(sums, hn::Set(d, bounds.giant_squared)),
                                                     hn::Ge(sums, hn::Set(d, bounds.floor))));
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

// The norms of the lanes whose wanted[l] != 0 (the others: anything).
void ResidualNorms(const double* HWY_RESTRICT x, int len, const double* HWY_RESTRICT wanted,
                   double* HWY_RESTRICT out, double* HWY_RESTRICT gather) {
  const D d;
  const auto mask = hn::Ne(hn::Load(d, wanted), hn::Zero(d));
  hn::Store(Norms(d, x, len, SquareSum(d, x, len), gather, mask), d, out);
}

// fdjac2's column in the lanes whose column[l] = j >= 0: rows i of column j
// of jac (n columns of m x W) = (trial[i] - fvec[i]) / step, the scalar
// expression (lm_core.cpp, Phase::fd_column); the other lanes' data, and the
// other columns, untouched. The lanes need not difference the same column:
// each row's quotients are formed once and stored, masked, into each column
// some lane asks for.
void FdColumns(int m, const double* HWY_RESTRICT column, const double* HWY_RESTRICT step,
               const double* HWY_RESTRICT trial, const double* HWY_RESTRICT fvec,
               double* HWY_RESTRICT jac) {
  const D d;
  const size_t w = hn::Lanes(d);
  const size_t mw = static_cast<size_t>(m) * w;
  const V columns = hn::Load(d, column);
  const V h = hn::Load(d, step);
  // The distinct columns asked for (at most W) and their lanes.
  int js[hn::MaxLanes(D())];
  int count = 0;
  for (size_t l = 0; l < w; ++l) {
    const int j = static_cast<int>(column[l]);
    if (j < 0) continue;
    bool seen = false;
    for (int c = 0; c < count; ++c) seen = seen || js[c] == j;
    if (!seen) js[count++] = j;
  }
  if (count == 1) {  // the lanes in step (the usual case)
    const auto mask = hn::Eq(columns, hn::Set(d, static_cast<double>(js[0])));
    double* out = jac + static_cast<size_t>(js[0]) * mw;
    for (int i = 0; i < m; ++i) {
      const V q = hn::Div(hn::Sub(hn::Load(d, trial + i * w), hn::Load(d, fvec + i * w)), h);
      hn::Store(hn::IfThenElse(mask, q, hn::Load(d, out + i * w)), d, out + i * w);
    }
    return;
  }
  for (int i = 0; i < m; ++i) {
    const V q = hn::Div(hn::Sub(hn::Load(d, trial + i * w), hn::Load(d, fvec + i * w)), h);
    for (int c = 0; c < count; ++c) {
      const auto mask = hn::Eq(columns, hn::Set(d, static_cast<double>(js[c])));
      double* out = jac + static_cast<size_t>(js[c]) * mw + i * w;
      hn::Store(hn::IfThenElse(mask, q, hn::Load(d, out)), d, out);
    }
  }
}

// One Householder step on G columns c[g] at once (independent sums overlap
// their additions' latency), each exactly as the scalar qrfac: in the live
// lanes sum = v . c over rows j..m-1 (from +0, in order), then
// c -= (sum / pivot) v; and each column's plain sum of squares over rows
// j+1..m-1 after the update, into tails (G x W).
template <int G, bool kAllLive, bool kTails>
HWY_INLINE void ApplyHouseholder(D d, const double* HWY_RESTRICT v, double* const* c, int j, int m,
                                 V pivot, hn::Mask<D> live, double* HWY_RESTRICT tails) {
  const size_t w = hn::Lanes(d);
  V sum[G], temp[G], tail[G];
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) sum[g] = tail[g] = hn::Zero(d);
  for (int i = j; i < m; ++i) {
    const V vi = hn::Load(d, v + i * w);
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) sum[g] = hn::Add(sum[g], hn::Mul(vi, hn::Load(d, c[g] + i * w)));
  }
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) temp[g] = hn::Div(sum[g], pivot);
  // Where every lane is live (the common case) no lane keeps its old value.
  auto update = [&](int i, int g) {
    const V x = hn::Load(d, c[g] + i * w);
    const V updated = hn::Sub(x, hn::Mul(temp[g], hn::Load(d, v + i * w)));
    const V y = kAllLive ? updated : hn::IfThenElse(live, updated, x);
    hn::Store(y, d, c[g] + i * w);
    return y;
  };
#pragma GCC unroll 4
  for (int g = 0; g < G; ++g) update(j, g);
  for (int i = j + 1; i < m; ++i)
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) {
      const V y = update(i, g);
      if (kTails) tail[g] = hn::Add(tail[g], SquareAboveDwarf(d, y));
    }
  if (kTails)
#pragma GCC unroll 4
    for (int g = 0; g < G; ++g) hn::Store(tail[g], d, tails + g * w);
}

// ApplyHouseholder on a group of G columns (the last may be qtb, whose norm
// is not wanted but costs little to sum); on qtb alone, without norms.
template <int G>
HWY_INLINE void ApplyHouseholderGroup(D d, const double* HWY_RESTRICT v, double* const* c, int j,
                                      int m, V pivot, hn::Mask<D> live, bool qtb_alone,
                                      double* HWY_RESTRICT tails) {
  const bool all_live = hn::AllTrue(d, live);
  if (qtb_alone) {
    if (all_live)
      ApplyHouseholder<G, true, false>(d, v, c, j, m, pivot, live, tails);
    else
      ApplyHouseholder<G, false, false>(d, v, c, j, m, pivot, live, tails);
  } else if (all_live) {
    ApplyHouseholder<G, true, true>(d, v, c, j, m, pivot, live, tails);
  } else {
    ApplyHouseholder<G, false, true>(d, v, c, j, m, pivot, live, tails);
  }
}

// fvec = trial in the lanes whose take[l] != 0 (m rows).
void TakeRows(int m, const double* HWY_RESTRICT take, const double* HWY_RESTRICT trial,
              double* HWY_RESTRICT fvec) {
  const D d;
  const size_t w = hn::Lanes(d);
  const auto mask = hn::Ne(hn::Load(d, take), hn::Zero(d));
  for (int i = 0; i < m; ++i)
    hn::Store(hn::IfThenElse(mask, hn::Load(d, trial + i * w), hn::Load(d, fvec + i * w)), d,
              fvec + i * w);
}

// qrfac (minpack.cpp) with pivot = true and qtb, on the lanes whose
// factor[l] != 0: a is n columns of m x W, qtb is m x W (fvec on entry, Q^T
// fvec on return); rdiag, acnorm, ipvt (as doubles), wa and tail are n x W.
// The other lanes' a is left as it was, bit for bit (lmdif: a lane may be
// half-way through its difference columns), and their qtb, rdiag, acnorm,
// ipvt, wa and tail hold anything (read by nobody: every factorisation
// starts them afresh). tail[k] holds the norm of
// rows j..m-1 of column k at the start of step j, always known here (the
// scalar routine sums it, or takes enorm when it must, to the same bits).
void Qrfac(int m, int n, const double* HWY_RESTRICT factor, double* HWY_RESTRICT a,
           double* HWY_RESTRICT qtb, double* HWY_RESTRICT rdiag, double* HWY_RESTRICT acnorm,
           double* HWY_RESTRICT ipvt, double* HWY_RESTRICT wa, double* HWY_RESTRICT tail,
           double* HWY_RESTRICT gather) {
  const D d;
  const size_t w = hn::Lanes(d);
  const auto wanted = hn::Ne(hn::Load(d, factor), hn::Zero(d));
  const size_t mw = static_cast<size_t>(m) * w;
  auto col = [a, mw](int j) { return a + static_cast<size_t>(j) * mw; };
  auto at = [w](double* v, int j) { return v + static_cast<size_t>(j) * w; };
  const V zero = hn::Zero(d);

  // Initial column norms, up to four columns per pass over the rows.
  HWY_ALIGN double sums[4 * hn::MaxLanes(D())];
  for (int j = 0; j < n; ++j) {
    if (j % 4 == 0) {
      const double* group[4];
      const int count = n - j < 4 ? n - j : 4;
      for (int g = 0; g < count; ++g) group[g] = col(j + g);
      switch (count) {
        case 1:
          SquareSums<1>(d, group, m, sums);
          break;
        case 2:
          SquareSums<2>(d, group, m, sums);
          break;
        case 3:
          SquareSums<3>(d, group, m, sums);
          break;
        default:
          SquareSums<4>(d, group, m, sums);
          break;
      }
    }
    const V norm = Norms(d, col(j), m, hn::Load(d, sums + (j % 4) * w), gather, wanted);
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
      const auto swap = hn::And(wanted, hn::Eq(kmax, hn::Set(d, static_cast<double>(k))));
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
    // the lanes whose pivot column is not zero (`live`). Not(Eq), not Ne:
    // Highway's Ne is the ordered comparison (false for NaN), the scalar
    // code's != the unordered one (true), so a NaN norm is live in both.
    V ajnorm = hn::Load(d, at(tail, j));
    const auto live = hn::And(wanted, hn::Not(hn::Eq(ajnorm, zero)));
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
    // sum = v . a_k over rows j..m-1, a_k -= (sum / v_j) v; and the new norm
    // of rows j+1..m-1 of each column (the next pivot's, and MINPACK's
    // recomputed rdiag), summed as each element is updated.
    HWY_ALIGN double sums_out[4 * hn::MaxLanes(D())];
    for (int k0 = j + 1; k0 <= n; k0 += 4) {
      double* group[4];
      const int count = n + 1 - k0 < 4 ? n + 1 - k0 : 4;
      for (int g = 0; g < count; ++g) group[g] = k0 + g < n ? col(k0 + g) : qtb;
      const bool qtb_alone = k0 == n;
      switch (count) {
        case 1:
          ApplyHouseholderGroup<1>(d, aj, group, j, m, pivot, live, qtb_alone, sums_out);
          break;
        case 2:
          ApplyHouseholderGroup<2>(d, aj, group, j, m, pivot, live, qtb_alone, sums_out);
          break;
        case 3:
          ApplyHouseholderGroup<3>(d, aj, group, j, m, pivot, live, qtb_alone, sums_out);
          break;
        default:
          ApplyHouseholderGroup<4>(d, aj, group, j, m, pivot, live, qtb_alone, sums_out);
          break;
      }
      for (int g = 0; g < count && k0 + g < n; ++g) {
        double* tail_rows = col(k0 + g) + static_cast<size_t>(j + 1) * w;
        hn::Store(Norms(d, tail_rows, m - j - 1, hn::Load(d, sums_out + g * w), gather, wanted), d,
                  at(tail, k0 + g));
      }
    }

    // rdiag's downdate.
    constexpr double p05 = 5.0e-2;
    for (int k = j + 1; k < n; ++k) {
      const V tk = hn::Load(d, at(tail, k));
      const V rk = hn::Load(d, at(rdiag, k));
      const auto downdate = hn::And(live, hn::Not(hn::Eq(rk, zero)));  // rdiag[k] != 0
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
#include "simd/dispatch.hpp"

namespace lmbatch::leastsq::lanes {
void residual_norms(const double* x, int len, const double* wanted, double* out, double* gather) {
  LMBATCH_SIMD_DISPATCH(ResidualNorms)(x, len, wanted, out, gather);
}
void fd_columns(int m, const double* column, const double* step, const double* trial,
                const double* fvec, double* jac) {
  LMBATCH_SIMD_DISPATCH(FdColumns)(m, column, step, trial, fvec, jac);
}
void take_rows(int m, const double* take, const double* trial, double* fvec) {
  LMBATCH_SIMD_DISPATCH(TakeRows)(m, take, trial, fvec);
}
void qrfac(int m, int n, const double* factor, double* a, double* qtb, double* rdiag,
           double* acnorm, double* ipvt, double* wa, double* tail, double* gather) {
  LMBATCH_SIMD_DISPATCH(Qrfac)(m, n, factor, a, qtb, rdiag, acnorm, ipvt, wa, tail, gather);
}
}  // namespace lmbatch::leastsq::lanes
#endif
