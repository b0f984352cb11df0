// LaneLmder: one LmCore per lane in lane mode, the m-sized work in vectors
// (lane_kernels.cpp). A round serves, in turn, every lane that asks for
// residuals and every lane that asks for a Jacobian; lanes that finish take
// the next problem at once, so the lanes stay full until the problems run
// out (the alternative, a group running to its slowest lane, leaves lanes
// idle for the group's longest solve).
#include "lmbatch/leastsq/lanes.hpp"

#include "lmbatch/simd/lanes.hpp"

#include <algorithm>

namespace lmbatch::leastsq {
namespace lanes {  // lane_kernels.cpp
void residual_norms(const double* x, int len, const double* wanted, double* out, double* gather);
void fd_columns(int m, const double* column, const double* step, const double* trial,
                const double* fvec, double* jac);
void take_rows(int m, const double* take, const double* trial, double* fvec);
void qrfac(int m, int n, const double* factor, double* a, double* qtb, double* rdiag,
           double* acnorm, double* ipvt, double* wa, double* tail, double* gather);
}  // namespace lanes

LaneLmder::LaneLmder(int m, int n, bool analytic_jacobian)
    : m_(m), n_(n), w_(simd::lane_width()), analytic_(analytic_jacobian) {
  const auto mm = static_cast<size_t>(m), nn = static_cast<size_t>(n), w = static_cast<size_t>(w_);
  ws_.resize(w);  // each sized in place: a Workspace points into its own storage
  for (Workspace& ws : ws_) ws.resize(m, n);
  core_.resize(w);
  x_.assign(nn * w, 0.0);
  point_.assign(nn * w, 0.0);
  for (LaneVector* v : {&trial_, &fvec_, &qtb_}) v->assign(mm * w, 0.0);
  jac_.assign(nn * mm * w, 0.0);
  for (LaneVector* v : {&rdiag_, &acnorm_, &ipvt_, &wa_, &tail_}) v->assign(nn * w, 0.0);
  norm_.assign(w, 0.0);
  for (LaneVector* v : {&take_, &norm_wanted_, &fd_step_, &factor_}) v->assign(w, 0.0);
  fd_column_.assign(w, -1.0);
  gather_.assign(std::max<size_t>(mm, 1), 0.0);
  want_.assign(w, 0);
}

void LaneLmder::run(LaneProblems& problems, const Options& options) {
  full_output_ = problems.full_output();
  for (int l = 0; l < w_; ++l) start(l, problems, options);
  while (std::any_of(core_.begin(), core_.end(), [](const auto& c) { return c.has_value(); })) {
    residual_round(problems, options);
    jacobian_round(problems, options);
  }
}

// The lane's next problem (skipping those that end before any evaluation,
// improper input).
void LaneLmder::start(int lane, LaneProblems& problems, const Options& options) {
  const auto nn = static_cast<size_t>(n_);
  std::span<double> x(x_.data() + static_cast<size_t>(lane) * nn, nn);
  core_[lane].reset();
  while (problems.next(lane, x)) {
    LmCore& core =
        core_[lane].emplace(ws_[lane], problems.options(lane, options), x, LaneMode{analytic_});
    if (core.need() != LmCore::Need::done) return;
    problems.finished(lane, core.summary(), x, ws_[lane]);  // before any evaluation
    core_[lane].reset();
  }
}

void LaneLmder::finish(int lane, LaneProblems& problems, const Options& options,
                       const LaneVector* residuals) {
  const auto nn = static_cast<size_t>(n_);
  if (full_output_ && residuals) {  // fvec as the scalar solve leaves it
    const auto w = static_cast<size_t>(w_);
    double* fvec = ws_[lane].fvec_;
    for (int i = 0; i < m_; ++i) fvec[i] = (*residuals)[static_cast<size_t>(i) * w + lane];
  }
  problems.finished(lane, core_[lane]->summary(), {x_.data() + static_cast<size_t>(lane) * nn, nn},
                    ws_[lane]);
  start(lane, problems, options);
}

// Marks the lanes whose core asks for `need` and puts their points into
// point_; false when there is none.
static bool gather_points(std::vector<std::optional<LmCore>>& core, LmCore::Need need, int n, int w,
                          std::vector<std::uint8_t>& want, LaneVector& point) {
  bool any = false;
  for (int l = 0; l < w; ++l) {
    want[l] = core[l] && core[l]->need() == need;
    if (!want[l]) continue;
    any = true;
    const auto x = core[l]->eval_point();
    for (int j = 0; j < n; ++j) point[static_cast<size_t>(j) * w + l] = x[j];
  }
  return any;
}

// Serves the lanes that ask for residuals: at a trial point (or the start),
// whose norm the core judges, and (lmdif) at x + h e_j, which become column
// j of the lane's Jacobian.
void LaneLmder::residual_round(LaneProblems& problems, const Options& options) {
  if (!gather_points(core_, LmCore::Need::residuals, n_, w_, want_, point_)) return;
  problems.residuals(point_.data(), trial_.data(), want_.data());
  bool any_norm = false, any_column = false;
  for (int l = 0; l < w_; ++l) {
    const int column = want_[l] ? core_[l]->fd_column() : -1;
    fd_column_[l] = column;
    fd_step_[l] = column >= 0 ? core_[l]->fd_step() : 1.0;
    norm_wanted_[l] = want_[l] && column < 0 ? 1.0 : 0.0;
    any_norm = any_norm || norm_wanted_[l] != 0.0;
    any_column = any_column || column >= 0;
  }
  if (any_column)
    lanes::fd_columns(m_, fd_column_.data(), fd_step_.data(), trial_.data(), fvec_.data(),
                      jac_.data());
  if (any_norm)
    lanes::residual_norms(trial_.data(), m_, norm_wanted_.data(), norm_.data(), gather_.data());
  bool any_taken = false;
  for (int l = 0; l < w_; ++l) {
    take_[l] = 0.0;
    if (!want_[l]) continue;
    LmCore& core = *core_[l];
    if (fd_column_[l] >= 0) {  // a difference column: no norm, no new fvec
      core.advance(false);
      continue;
    }
    core.advance_with_norm(norm_[l]);
    // The start, or a successful step: fvec = these residuals (a lane that
    // finished and took its next problem no longer needs them).
    if (core.accepted() && core.need() != LmCore::Need::done) take_[l] = 1.0, any_taken = true;
    if (core.need() == LmCore::Need::done)
      finish(l, problems, options, core.accepted() ? &trial_ : &fvec_);
  }
  if (any_taken) lanes::take_rows(m_, take_.data(), trial_.data(), fvec_.data());
}

// want_ marks the lanes waiting for their factorisation.
bool LaneLmder::enough_waiting() const {
  int waiting = 0, busy = 0;
  for (int l = 0; l < w_; ++l) {
    waiting += want_[l];
    busy += core_[l] && core_[l]->need() == LmCore::Need::residuals;
  }
  return busy == 0 || 4 * waiting >= 3 * w_;
}

// Factorises the Jacobian of every lane that has one: lmder's, evaluated
// here, or lmdif's, whose last difference column the residual round formed.
// (One run is all lmder or all lmdif: problems.jacobian may write any lane.)
void LaneLmder::jacobian_round(LaneProblems& problems, const Options& options) {
  const LmCore::Need need = analytic_ ? LmCore::Need::jacobian : LmCore::Need::factorization;
  if (!gather_points(core_, need, n_, w_, want_, point_)) return;
  // Lanes reach their factorisation out of step (a rejected step costs a
  // lane one round; lmdif's accepted one n + 1; a lane that took a new
  // problem, its first residuals), and the Jacobian and qrfac cost as much
  // for one lane as for W. A lane that waits costs only a later finish, so
  // the lanes wait until three quarters of them are ready, or until none has
  // residuals to ask for. The order of a lane's own work, and so its bits, is
  // unchanged. (lmder, workloads 1 and 2, AVX2 under callgrind: 10 % and 5 %
  // fewer instructions than factorising whoever is ready.)
  if (!enough_waiting()) return;
  if (analytic_) problems.jacobian(point_.data(), jac_.data(), want_.data());
  for (int l = 0; l < w_; ++l) {
    factor_[l] = want_[l] ? 1.0 : 0.0;
    if (want_[l] && core_[l]->bounded())
      core_[l]->zero_pegged_lane_columns(jac_.data(), fvec_.data(), l, w_);
  }
  std::copy(fvec_.begin(), fvec_.end(), qtb_.begin());
  lanes::qrfac(m_, n_, factor_.data(), jac_.data(), qtb_.data(), rdiag_.data(), acnorm_.data(),
               ipvt_.data(), wa_.data(), tail_.data(), gather_.data());
  const auto w = static_cast<size_t>(w_), mm = static_cast<size_t>(m_);
  for (int l = 0; l < w_; ++l) {
    if (!want_[l]) continue;
    LmCore& core = *core_[l];
    const LmCore::QrSlots slots = core.qr_slots();
    // R's strict upper triangle, all the solve reads; for the full output
    // the whole factored columns, the Householder vectors below R included
    // (the core then puts R's diagonal in place, as lmder).
    for (int j = 0; j < n_; ++j) {
      const size_t at = static_cast<size_t>(j) * w + l;
      slots.rdiag[j] = rdiag_[at];
      slots.acnorm[j] = acnorm_[at];
      slots.ipvt[j] = static_cast<int>(ipvt_[at]);
      slots.qtf[j] = qtb_[at];
      const int rows = full_output_ ? m_ : j;
      for (int i = 0; i < rows; ++i)
        slots.r[i + static_cast<size_t>(j) * slots.ldr] =
            jac_[(static_cast<size_t>(j) * mm + i) * w + l];
    }
    core.advance(false);
    if (core.need() == LmCore::Need::done) finish(l, problems, options, &fvec_);
  }
}

}  // namespace lmbatch::leastsq
