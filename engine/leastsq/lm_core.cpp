// MINPACK lmdif / lmder (with fdjac2), as a resumable state machine. The body
// follows the Fortran driver statement by statement; its labels are cited where
// the original jumps. Every place where the Fortran calls fcn becomes a request
// (need_ = residuals/jacobian) and the code after the call moves to the next
// phase's handler, reached through advance().
#include <algorithm>
#include <cmath>
#include <limits>

#include "lmbatch/leastsq/leastsq.hpp"

namespace lmbatch::leastsq {

using minpack::enorm;
using minpack::kMachineEpsilon;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

void Workspace::resize(int m, int n) {
  if (m < 0) m = 0;
  if (n < 0) n = 0;
  const size_t mm = static_cast<size_t>(m), nn = static_cast<size_t>(n);
  const size_t needed = mm /*fvec*/ + 2 * mm * nn /*fjac, jac_user*/ + 6 * nn + mm /*wa4*/;
  if (storage_.size() < needed) storage_.resize(needed);
  if (ipvt_.size() < nn) ipvt_.resize(nn);
  if (pegged_.size() < nn) pegged_.resize(nn);
  m_ = m;
  n_ = n;
  double* p = storage_.data();
  auto take = [&p](size_t count) {
    double* q = p;
    p += count;
    return q;
  };
  fvec_ = take(mm);
  fjac_ = take(mm * nn);
  jac_user_ = take(mm * nn);
  diag_ = take(nn);
  qtf_ = take(nn);
  wa1_ = take(nn);
  wa2_ = take(nn);
  wa3_ = take(nn);
  wa4_ = take(mm);
  wa5_ = take(nn);
}

const char* Options::validate(int m, int n, int* parameter) const {
  if (parameter) *parameter = -1;
  if (n <= 0) return "n = 0: there are no parameters to fit";
  if (m < n) return "m < n: fewer residuals than parameters";
  if (!(ftol >= 0.0) || !std::isfinite(ftol)) return "ftol must be finite and >= 0";
  if (!(xtol >= 0.0) || !std::isfinite(xtol)) return "xtol must be finite and >= 0";
  if (!(gtol >= 0.0) || !std::isfinite(gtol)) return "gtol must be finite and >= 0";
  if (!(factor > 0.0) || !std::isfinite(factor)) return "factor must be finite and > 0";
  if (!std::isfinite(epsfcn)) return "epsfcn must be finite";
  if (!diag.empty()) {
    if (diag.size() != static_cast<size_t>(n)) return "diag must have n elements";
    for (const double d : diag)
      if (!(d > 0.0) || !std::isfinite(d)) return "diag entries must be finite and > 0";
  }
  const size_t nn = static_cast<size_t>(n);
  if (!lower.empty() && lower.size() != nn) return "lower bounds must have n elements (or none)";
  if (!upper.empty() && upper.size() != nn) return "upper bounds must have n elements (or none)";
  for (size_t j = 0; j < nn; ++j) {
    const double lo = lower.empty() ? -kInf : lower[j];
    const double up = upper.empty() ? kInf : upper[j];
    const char* why = nullptr;
    if (std::isnan(lo))
      why = "lower bound is NaN (use -inf for no bound)";
    else if (std::isnan(up))
      why = "upper bound is NaN (use +inf for no bound)";
    else if (lo > up)
      why = "lower bound > upper bound";
    if (why) {
      if (parameter) *parameter = static_cast<int>(j);
      return why;
    }
  }
  return nullptr;
}

int Options::first_outside_bounds(std::span<const double> x) const {
  for (size_t j = 0; j < x.size(); ++j) {
    const double lo = lower.empty() ? -kInf : lower[j];
    const double up = upper.empty() ? kInf : upper[j];
    // NaN is not outside: it ends the solve as non_finite, as without bounds.
    if (x[j] < lo || x[j] > up) return static_cast<int>(j);
  }
  return -1;
}

LmCore::LmCore(Workspace& ws, const Options& options, std::span<double> x, bool analytic_jacobian)
    : ws_(ws),
      opt_(options),
      x_(x.data()),
      m_(ws.m()),
      n_(static_cast<int>(x.size())),
      analytic_(analytic_jacobian) {
  ws_.factored_ = false;
  if (const char* why = opt_.validate(m_, n_, &summary_.improper_parameter)) {
    summary_.improper_reason = why;
    finish(Status::improper_input);
    return;
  }
  if (ws_.n() != n_) {
    summary_.improper_reason = "workspace sized for a different number of parameters";
    finish(Status::improper_input);
    return;
  }
  if (opt_.bounded()) {
    const int j = opt_.first_outside_bounds({x_, static_cast<size_t>(n_)});
    if (j >= 0) {
      summary_.improper_reason = "the starting point is outside the bounds";
      summary_.improper_parameter = j;
      finish(Status::improper_input);
      return;
    }
  }
  bounded_ = opt_.bounded();
  if (bounded_)
    for (int j = 0; j < n_; ++j) held_ += lower(j) == upper(j) ? 1 : 0;
  maxfev_ = opt_.effective_maxfev(n_, analytic_);
  mode_ = opt_.diag.empty() ? 1 : 2;
  if (mode_ == 2) std::copy(opt_.diag.begin(), opt_.diag.end(), ws_.diag_);
  fd_eps_ = std::sqrt(std::max(opt_.epsfcn, kMachineEpsilon));  // fdjac2
  // Evaluate the function at the starting point.
  phase_ = Phase::initial_point;
  need_ = Need::residuals;
  eval_x_ = x_;
  eval_out_ = {ws_.fvec_, static_cast<size_t>(m_)};
}

LmCore::LmCore(Workspace& ws, const Options& options, std::span<double> x, LaneMode mode)
    : LmCore(ws, options, x, mode.analytic_jacobian) {
  lanes_ = true;
}

LmCore::QrSlots LmCore::qr_slots() const {
  return {ws_.fjac_, m_, ws_.ipvt_.data(), ws_.wa1_, ws_.wa2_, ws_.wa4_};
}

void LmCore::advance_with_norm(double residual_norm) {
  lane_norm_ = residual_norm;
  advance(false);
}

void LmCore::finish(Status s) {
  // Workspace::pegged describes the returned x.
  if (bounded_)
    set_pegged();
  else
    std::fill(ws_.pegged_.begin(), ws_.pegged_.begin() + ws_.n_, std::int8_t{0});
  summary_.status = s;
  summary_.fnorm = fnorm_;
  phase_ = Phase::done;
  need_ = Need::done;
}

void LmCore::advance(bool stop) {
  switch (phase_) {
    case Phase::initial_point:
      summary_.nfev = 1;
      if (stop) return finish(Status::stopped_by_function);
      fnorm_ = lanes_ ? lane_norm_ : enorm(m_, ws_.fvec_);
      accepted_ = true;
      if (!std::isfinite(fnorm_)) {
        summary_.non_finite_at = NonFiniteAt::start_residuals;
        return finish(Status::non_finite);
      }
      // Initialise the Levenberg-Marquardt parameter and iteration counter.
      par_ = 0.0;
      iter_ = 1;
      return begin_outer_iteration();

    case Phase::fd_column: {
      // fdjac2, after the call at x + h e_j.
      x_[fd_column_] = fd_saved_xj_;
      if (stop) {
        summary_.nfev += n_ - held_;  // lmdif adds n whatever fdjac2 completed
        return finish(Status::stopped_by_function);
      }
      if (!lanes_) {  // lane mode: the caller formed the column (fd_column())
        double* column = ws_.fjac_ + static_cast<size_t>(fd_column_) * m_;
        for (int i = 0; i < m_; ++i) column[i] = (ws_.wa4_[i] - ws_.fvec_[i]) / fd_step_;
      }
      accepted_ = false;  // lane mode: x + h e_j never becomes fvec's point
      ++fd_column_;
      return request_fd_column();
    }

    case Phase::jacobian:
      ++summary_.njev;
      if (stop) return finish(Status::stopped_by_function);
      if (!opt_.col_deriv && !lanes_) {
        // Row-major m x n from the functor -> MINPACK's column-major fjac.
        for (int j = 0; j < n_; ++j)
          for (int i = 0; i < m_; ++i)
            ws_.fjac_[i + static_cast<size_t>(j) * m_] =
                ws_.jac_user_[static_cast<size_t>(i) * n_ + j];
      }
      return after_jacobian();

    case Phase::factorization:  // lane mode: the caller's qrfac is in qr_slots()
      return after_jacobian();

    case Phase::trial_point:
      ++summary_.nfev;
      if (stop) return finish(Status::stopped_by_function);
      return after_trial_point();

    case Phase::done:
      return;
  }
}

// label 30: calculate the Jacobian matrix.
void LmCore::begin_outer_iteration() {
  if (analytic_) {
    phase_ = Phase::jacobian;
    need_ = Need::jacobian;
    eval_x_ = x_;
    double* out = opt_.col_deriv ? ws_.fjac_ : ws_.jac_user_;
    eval_out_ = {out, static_cast<size_t>(m_) * n_};
    return;
  }
  fd_column_ = 0;
  request_fd_column();
}

void LmCore::request_fd_column() {
  // lmbatch: a held parameter (lower == upper) costs no call; its column is
  // zeroed in zero_pegged_columns.
  while (bounded_ && fd_column_ < n_ && lower(fd_column_) == upper(fd_column_)) ++fd_column_;
  if (fd_column_ == n_) {
    summary_.nfev += n_ - held_;
    if (lanes_) {  // the columns are the caller's: it factorises them, batched
      phase_ = Phase::factorization;
      need_ = Need::factorization;
      eval_x_ = x_;
      eval_out_ = {};
      return;
    }
    return after_jacobian();
  }
  // fdjac2: h = eps*|x_j| (eps if that is zero); f(x + h e_j) into wa4.
  const int j = fd_column_;
  fd_saved_xj_ = x_[j];
  double h = fd_eps_ * std::fabs(fd_saved_xj_);
  if (h == 0.0) h = fd_eps_;
  if (bounded_ && fd_saved_xj_ + h > upper(j)) {
    // MPFIT's automatic side (mp_fdjac2): step backward where x + h would pass
    // the upper limit, so that f is never called outside the box. Where the
    // box is narrower than h on both sides, the longer side up to its limit.
    const double lo = lower(j), up = upper(j);
    if (fd_saved_xj_ - h >= lo)
      h = -h;
    else
      h = up - fd_saved_xj_ >= fd_saved_xj_ - lo ? up - fd_saved_xj_ : lo - fd_saved_xj_;
  }
  fd_step_ = h;
  x_[j] = fd_saved_xj_ + h;
  phase_ = Phase::fd_column;
  need_ = Need::residuals;
  eval_x_ = x_;
  eval_out_ = {ws_.wa4_, static_cast<size_t>(m_)};
}

void LmCore::after_jacobian() {
  double* const fjac = ws_.fjac_;
  double* const diag = ws_.diag_;
  double* const qtf = ws_.qtf_;
  double* const wa1 = ws_.wa1_;
  double* const wa2 = ws_.wa2_;
  double* const wa3 = ws_.wa3_;
  double* const wa4 = ws_.wa4_;
  int* const ipvt = ws_.ipvt_.data();
  auto J = [fjac, m = m_](int i, int j) -> double& { return fjac[i + static_cast<size_t>(j) * m]; };

  if (bounded_ && !lanes_) zero_pegged_columns();  // lane mode: the caller's, before qrfac

  // label 40: QR factorisation of the Jacobian (wa2 = column norms), with
  // label 80's Q^T fvec formed alongside, into wa4. (Lane mode: the caller
  // made them, through qr_slots().)
  if (!lanes_) {
    std::copy(ws_.fvec_, ws_.fvec_ + m_, wa4);
    minpack::qrfac(m_, n_, fjac, m_, true, ipvt, wa1, wa2, wa3, ws_.wa5_, wa4);
  }
  ws_.factored_ = true;
  // lmbatch: a NaN/Inf anywhere in the Jacobian shows in its column norms.
  for (int j = 0; j < n_; ++j) {
    if (!std::isfinite(wa2[j])) {
      // iter_ counts accepted steps from 1: still 1 means x is x0.
      summary_.non_finite_at =
          iter_ == 1 ? NonFiniteAt::start_jacobian : NonFiniteAt::iterate_jacobian;
      return finish(Status::non_finite);
    }
  }

  if (iter_ == 1) {
    // On the first iteration in mode 1, scale by the norms of the columns of
    // the initial Jacobian.
    if (mode_ != 2)
      for (int j = 0; j < n_; ++j) diag[j] = wa2[j] == 0.0 ? 1.0 : wa2[j];
    // label 60: norm of the scaled x and initial step bound delta.
    for (int j = 0; j < n_; ++j) wa3[j] = diag[j] * x_[j];
    xnorm_ = enorm(n_, wa3);
    delta_ = opt_.factor * xnorm_;
    if (delta_ == 0.0) delta_ = opt_.factor;
  }

  // label 80: Q^T fvec is in wa4 (qrfac); store its first n components in qtf.
  for (int j = 0; j < n_; ++j) {
    J(j, j) = wa1[j];  // label 120
    qtf[j] = wa4[j];
  }

  // Norm of the scaled gradient.
  gnorm_ = 0.0;
  if (fnorm_ != 0.0) {
    for (int j = 0; j < n_; ++j) {
      const int l = ipvt[j];
      if (wa2[l] == 0.0) continue;
      double sum = 0.0;
      for (int i = 0; i <= j; ++i) sum += J(i, j) * (qtf[i] / fnorm_);
      gnorm_ = std::max(gnorm_, std::fabs(sum / wa2[l]));
    }
  }

  // label 170: test for convergence of the gradient norm.
  if (gnorm_ <= opt_.gtol) return finish(Status::gtol_reached);

  // Rescale if necessary.
  if (mode_ != 2)
    for (int j = 0; j < n_; ++j) diag[j] = std::max(diag[j], wa2[j]);

  begin_inner_iteration();
}

// label 200: beginning of the inner loop.
void LmCore::begin_inner_iteration() {
  double* const wa1 = ws_.wa1_;
  double* const wa2 = ws_.wa2_;
  double* const wa3 = ws_.wa3_;
  const double* const diag = ws_.diag_;

  // Determine the Levenberg-Marquardt parameter.
  minpack::lmpar(n_, ws_.fjac_, m_, ws_.ipvt_.data(), diag, ws_.qtf_, delta_, par_, wa1, wa2, wa3,
                 ws_.wa4_);

  // Store the direction p and x + p; calculate the norm of p.
  for (int j = 0; j < n_; ++j) {
    wa1[j] = -wa1[j];
    wa2[j] = x_[j] + wa1[j];
    wa3[j] = diag[j] * wa1[j];
  }
  pnorm_ = enorm(n_, wa3);

  // lmbatch: pnorm stays the norm of the LM step p, the trust region's
  // measure, when limit_step shortens the step actually taken. (MPFIT takes
  // the cut step's norm: a step cut at alpha ~ 1e-9 then rebuilds delta as
  // 2 |D alpha p| and the xtol test ends the solve where it started; see
  // test_bounds.cpp, "a start a hair inside a bound".)
  if (bounded_) limit_step();

  // On the first iteration, adjust the initial step bound.
  if (iter_ == 1) delta_ = std::min(delta_, pnorm_);

  // Evaluate the function at x + p (into wa4).
  phase_ = Phase::trial_point;
  need_ = Need::residuals;
  eval_x_ = wa2;
  eval_out_ = {ws_.wa4_, static_cast<size_t>(m_)};
}

void LmCore::after_trial_point() {
  constexpr double p1 = 0.1, p5 = 0.5, p25 = 0.25, p75 = 0.75, p0001 = 1.0e-4;
  double* const fjac = ws_.fjac_;
  double* const wa1 = ws_.wa1_;
  double* const wa2 = ws_.wa2_;
  double* const wa3 = ws_.wa3_;
  double* const wa4 = ws_.wa4_;
  const double* const diag = ws_.diag_;
  const int* const ipvt = ws_.ipvt_.data();
  auto J = [fjac, m = m_](int i, int j) { return fjac[i + static_cast<size_t>(j) * m]; };

  const double fnorm1 = lanes_ ? lane_norm_ : enorm(m_, wa4);

  // Scaled actual reduction.
  double actred = -1.0;
  if (p1 * fnorm1 < fnorm_) {
    const double t = fnorm1 / fnorm_;
    actred = 1.0 - t * t;
  }

  // Scaled predicted reduction and scaled directional derivative.
  double prered, dirder;
  if (!step_changed_) {
    for (int j = 0; j < n_; ++j) {
      wa3[j] = 0.0;
      const double temp = wa1[ipvt[j]];
      for (int i = 0; i <= j; ++i) wa3[i] += J(i, j) * temp;
    }
    const double temp1 = enorm(n_, wa3) / fnorm_;
    const double temp2 = (std::sqrt(par_) * pnorm_) / fnorm_;
    prered = temp1 * temp1 + temp2 * temp2 / p5;
    dirder = -(temp1 * temp1 + temp2 * temp2);
  } else {
    const detail::StepModel model =
        detail::changed_step_model(n_, fjac, m_, ipvt, ws_.qtf_, fnorm_, wa1, wa3);
    prered = model.prered;
    dirder = model.dirder;
  }

  // Ratio of the actual to the predicted reduction.
  double ratio = 0.0;
  if (prered != 0.0) ratio = actred / prered;

  // Update the step bound.
  // The comparisons are written as the Fortran's, negated where it jumps, so
  // that a NaN takes the same branch as in MINPACK.
  const bool successful = !(ratio < p0001);
  accepted_ = successful;
  if (!(ratio > p25)) {
    double temp = actred >= 0.0 ? p5 : p5 * dirder / (dirder + p5 * actred);
    if (p1 * fnorm1 >= fnorm_ || temp < p1) temp = p1;
    delta_ = temp * std::min(delta_, pnorm_ / p1);
    par_ = par_ / temp;
  } else if (!(par_ != 0.0 && ratio < p75)) {  // label 240
    delta_ = pnorm_ / p5;
    par_ = p5 * par_;
  }

  // label 260: test for successful iteration.
  if (successful) {
    // Successful iteration: update x, fvec and their norms.
    for (int j = 0; j < n_; ++j) {
      x_[j] = wa2[j];
      wa2[j] = diag[j] * x_[j];
    }
    if (!lanes_) std::copy(wa4, wa4 + m_, ws_.fvec_);
    xnorm_ = enorm(n_, wa2);
    fnorm_ = fnorm1;
    ++iter_;
  }

  // label 290: tests for convergence.
  // lmbatch: the ftol tests (info 1, 3 and 6) judge how much the model says
  // is left to gain; a step cut short at a limit (alpha < 1) says only how much
  // was left before that limit, however little, so they wait for a full step.
  const bool ftol_met =
      !clipped_ && std::fabs(actred) <= opt_.ftol && prered <= opt_.ftol && p5 * ratio <= 1.0;
  const bool xtol_met = delta_ <= opt_.xtol * xnorm_;
  if (ftol_met && xtol_met) return finish(Status::ftol_and_xtol);
  if (xtol_met) return finish(Status::xtol_reached);
  if (ftol_met) return finish(Status::ftol_reached);

  // Tests for termination and stringent tolerances; later tests win, as the
  // Fortran assigns info in this order.
  Status info = Status::improper_input;
  bool stop = false;
  if (summary_.nfev >= maxfev_) info = Status::maxfev_reached, stop = true;
  if (!clipped_ && std::fabs(actred) <= kMachineEpsilon && prered <= kMachineEpsilon &&
      p5 * ratio <= 1.0)
    info = Status::ftol_too_small, stop = true;
  if (delta_ <= kMachineEpsilon * xnorm_) info = Status::xtol_too_small, stop = true;
  if (gnorm_ <= kMachineEpsilon) info = Status::gtol_too_small, stop = true;
  if (stop) return finish(info);

  // End of the inner loop: repeat if the iteration was unsuccessful, else
  // start the next outer iteration.
  if (!successful) return begin_inner_iteration();
  begin_outer_iteration();
}

namespace detail {
// limit_step zeroed or scaled the LM step p into s, so MINPACK's closed forms
// (prered = |J p|^2 + 2 par |D p|^2, dirder = -(|J p|^2 + par |D p|^2), over
// |f|^2), which hold because p solves (J^T J + par D^T D) p = -J^T f, no longer
// apply. The linear model's own reduction for s does, through J s = Q R P^T s
// (wa = R P^T s) and f^T J s = qtf . wa:
//   dirder = f^T J s / |f|^2,   prered = (|f|^2 - |f + J s|^2) / |f|^2
//                                      = -2 dirder - |J s|^2 / |f|^2,
// which for s = p is MINPACK's pair again.
// MPFIT (mpfit.c: temp1 = enorm(wa3)*alpha/fnorm, temp2 =
// sqrt(alpha*par)*pnorm/fnorm) multiplies by alpha a wa3 and a pnorm already
// made from the scaled step s = alpha p: its prered is
// alpha^4 |Jp|^2 + 2 alpha^3 par |Dp|^2 where the model gives
// alpha (2 - alpha) |Jp|^2 + 2 alpha par |Dp|^2 (over |f|^2), too small by
// about alpha^3, so a step cut short at a limit shows a ratio near 1/alpha^3
// and passes as a very good one whatever it achieved. lmbatch takes the
// model's value (tests/leastsq/test_bounds.cpp checks it against |f + J s|).
StepModel changed_step_model(int n, const double* r, int ldr, const int* ipvt, const double* qtf,
                             double fnorm, const double* s, double* wa) {
  for (int j = 0; j < n; ++j) {
    wa[j] = 0.0;
    const double temp = s[ipvt[j]];
    for (int i = 0; i <= j; ++i) wa[i] += r[i + static_cast<size_t>(j) * ldr] * temp;
  }
  const double temp1 = enorm(n, wa) / fnorm;
  double dot = 0.0;
  for (int i = 0; i < n; ++i) dot += (qtf[i] / fnorm) * (wa[i] / fnorm);
  return {-2.0 * dot - temp1 * temp1, dot};
}
}  // namespace detail

// ---- MPFIT's limits (Markwardt, cmpfit 1.3a mpfit.c; IDL mpfit.pro) ----
// Used only when Options::bounded(); with bounds that never bind they change no
// number: no column is zeroed (no x sits on a limit), alpha stays 1 and the step
// is untouched (step_changed_ false keeps MINPACK's prered), no trial point is
// within eps of a limit, and no forward difference passes an upper limit.

double LmCore::lower(int j) const {
  return opt_.lower.empty() ? -kInf : opt_.lower[j];
}
double LmCore::upper(int j) const {
  return opt_.upper.empty() ? kInf : opt_.upper[j];
}

// MPFIT, after fdjac2: a parameter on a limit whose steepest-descent direction
// -J^T f points out of the box is "pegged": its Jacobian column is zeroed, so
// that qrfac pivots it to the end of R (a zero norm is never the largest) and
// lmpar gives it a zero step (the column's only entry in lmpar's system is
// sqrt(par) D; at par = 0 it is past lmpar's rank). A held parameter (lower ==
// upper) is always pegged.
void LmCore::zero_pegged_columns() {
  zero_pegged(ws_.fjac_, ws_.fvec_, 1);
}

void LmCore::zero_pegged_lane_columns(double* jac, const double* fvec, int lane, int w) const {
  zero_pegged(jac + lane, fvec + lane, w);
}

// Element i of column j at jac[(j m + i) stride], residual i at fvec[i stride].
void LmCore::zero_pegged(double* jac, const double* fvec, int stride) const {
  const auto st = static_cast<size_t>(stride);
  for (int j = 0; j < n_; ++j) {
    const double lo = lower(j), up = upper(j);
    const bool at_lower = x_[j] == lo, at_upper = x_[j] == up;
    if (!at_lower && !at_upper) continue;
    double* column = jac + static_cast<size_t>(j) * static_cast<size_t>(m_) * st;
    double gradient = 0.0;  // (J^T f)_j, the gradient of |f|^2 / 2
    for (size_t i = 0; i < static_cast<size_t>(m_); ++i) gradient += fvec[i * st] * column[i * st];
    const bool outward = (at_lower && gradient > 0.0) || (at_upper && gradient < 0.0);
    if (outward || lo == up)
      for (size_t i = 0; i < static_cast<size_t>(m_); ++i) column[i * st] = 0.0;
  }
}

// MPFIT, after lmpar: wa1 holds the LM step p and wa2 = x + p. Components that
// would leave the box from a limit are zeroed; then the step is scaled by
// alpha = min(1, (limit - x_j) / p_j) over the components that would cross a
// limit, so the trial point lands on the nearest one, and trial points within
// a relative eps of a limit (or past it by rounding) are put on it.
void LmCore::limit_step() {
  double* const wa1 = ws_.wa1_;
  double* const wa2 = ws_.wa2_;
  step_changed_ = clipped_ = false;
  double alpha = 1.0;
  for (int j = 0; j < n_; ++j) {
    const double lo = lower(j), up = upper(j);
    if ((x_[j] <= lo && wa1[j] < 0.0) || (x_[j] >= up && wa1[j] > 0.0)) {
      wa1[j] = 0.0;
      step_changed_ = true;
      continue;
    }
    if (wa2[j] < lo) alpha = std::min(alpha, (lo - x_[j]) / wa1[j]);
    if (wa2[j] > up) alpha = std::min(alpha, (up - x_[j]) / wa1[j]);
  }
  if (alpha < 1.0) clipped_ = step_changed_ = true;
  if (step_changed_) {
    for (int j = 0; j < n_; ++j) {
      const double lo = lower(j), up = upper(j);
      const bool crosses = wa2[j] < lo || wa2[j] > up;  // x + p, before scaling
      const double p = wa1[j];
      if (clipped_) wa1[j] *= alpha;
      wa2[j] = x_[j] + wa1[j];
      if (!crosses) continue;
      // Every component whose own alpha_j = (limit - x_j) / p_j is alpha to
      // rounding reaches its limit with this step: put it there exactly, as
      // x + alpha p can miss by more than the snap's eps of the limit (a few
      // ulps of |x| or of the step).
      const double limit = p < 0.0 ? lo : up;
      if ((limit - x_[j]) / p <= alpha * (1.0 + 4.0 * kMachineEpsilon)) wa2[j] = limit;
    }
  }
  // MPFIT's snap: a relative eps of the limit (eps itself at a limit of 0).
  for (int j = 0; j < n_; ++j) {
    const double lo = lower(j), up = upper(j);
    if (std::isfinite(up) &&
        wa2[j] >= up - (up == 0.0 ? kMachineEpsilon : kMachineEpsilon * std::fabs(up)))
      wa2[j] = up;
    if (std::isfinite(lo) &&
        wa2[j] <= lo + (lo == 0.0 ? kMachineEpsilon : kMachineEpsilon * std::fabs(lo)))
      wa2[j] = lo;
  }
}

void LmCore::set_pegged() {
  for (int j = 0; j < n_; ++j)
    ws_.pegged_[j] = x_[j] == lower(j)   ? std::int8_t{-1}
                     : x_[j] == upper(j) ? std::int8_t{1}
                                         : std::int8_t{0};
}

}  // namespace lmbatch::leastsq
