// MINPACK's Levenberg-Marquardt (lmdif, lmder) with the contract of
// scipy.optimize.leastsq (scipy 1.10, Fortran MINPACK).
//
// Two ways in:
//  * lmdif(f, x, ws, options) / lmder(f, jac, x, ws, options): the fast path.
//    Templates over the caller's functors (no virtual call per evaluation), a
//    caller-owned Workspace sized once, no heap allocation during the solve,
//    reentrant (no globals). x holds x0 on entry and the solution on return.
//  * leastsq(func, x0, m, Dfun, options): scipy's whole return tuple as one
//    owning struct (x, cov_x, infodict, mesg, ier); allocates its results.
//
// All numerics live in compiled sources built with -ffp-contract=off; the
// templates only call the user's functors (reverse communication, see LmCore).
//
// Bounds (Options::lower/upper, issue #16): Markwardt's MPFIT limits (cmpfit
// 1.3a mpfit.c) on the same core. For the batch layer:
//  * the solver's parameters are the free ones (fixed and tied parameters are
//    the caller's to remove); lower/upper hold n values each or are empty;
//    lower[j] == upper[j] is allowed and holds x[j] (no difference call);
//  * x0 must lie in the box: check Options::first_outside_bounds(x0) first to
//    give a per-problem status; the core itself returns improper_input with
//    Summary::improper_parameter set;
//  * f and the Jacobian are only ever evaluated inside the box, and the
//    returned x lies in it; Workspace::pegged() says which x[j] sit on a bound;
//  * covariance() then covers the unpegged parameters, NaN for the pegged;
//  * no bounds (both empty): MINPACK's arithmetic bit for bit; bounds that
//    never bind (+-inf, or never reached): the same bits again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "lmbatch/leastsq/minpack.hpp"

namespace lmbatch::leastsq {

// Termination status. Values 0..8 are MINPACK's `info` codes, which scipy
// returns as `ier`; the negative values are lmbatch's own.
enum class Status : int {
  improper_input = 0,        // bad sizes or options (scipy raises TypeError)
  ftol_reached = 1,          // actual and predicted relative reductions <= ftol
  xtol_reached = 2,          // relative error between two iterates <= xtol
  ftol_and_xtol = 3,         // both 1 and 2
  gtol_reached = 4,          // cosine between fvec and every Jacobian column <= gtol
  maxfev_reached = 5,        // number of function calls reached maxfev
  ftol_too_small = 6,        // no further reduction of the sum of squares possible
  xtol_too_small = 7,        // no further improvement of x possible
  gtol_too_small = 8,        // fvec orthogonal to the Jacobian's columns to machine precision
  stopped_by_function = -1,  // the residual or Jacobian functor asked to stop (MINPACK iflag < 0)
  non_finite = -2,           // NaN/Inf residuals at x0, or a NaN/Inf Jacobian
};

constexpr int ier(Status s) {
  return static_cast<int>(s);
}
// scipy's LEASTSQ_SUCCESS = [1, 2, 3, 4].
constexpr bool converged(Status s) {
  return ier(s) >= 1 && ier(s) <= 4;
}

// Options, with scipy.optimize.leastsq's defaults and meanings.
struct Options {
  // Relative error desired in the sum of squares (info 1 test:
  // |actred| <= ftol and prered <= ftol and ratio <= 2).
  double ftol = 1.49012e-8;
  // Relative error desired in the approximate solution (info 2 test:
  // delta <= xtol * |D x|).
  double xtol = 1.49012e-8;
  // Orthogonality desired between fvec and the Jacobian's columns (info 4 test:
  // max_j |cos(fvec, J_j)| <= gtol).
  double gtol = 0.0;
  // Maximum number of residual calls (including finite-difference calls).
  // <= 0 means scipy's default: 200*(n+1) for lmdif, 100*(n+1) for lmder
  // (scipy maps 0 in Python and negative values in its C wrapper alike).
  int maxfev = 0;
  // lmdif only: relative error of the function values, for the forward
  // difference step h_j = sqrt(max(epsfcn, eps)) * |x_j| (or that root if x_j == 0).
  // Anything below machine epsilon (0, the default) means machine epsilon, as
  // scipy's epsfcn=None.
  double epsfcn = 0.0;
  // Initial step bound: delta = factor * |D x0| (or factor if that is zero).
  double factor = 100.0;
  // n positive scale factors (MINPACK mode 2). Empty: automatic scaling by the
  // Jacobian's column norms (mode 1). Not owned: must outlive the solve.
  std::span<const double> diag{};
  // lmder only: the Jacobian functor writes column-major (derivatives down the
  // columns: J[i + j*m] = d f_i / d x_j, MINPACK's own layout, no transpose);
  // false (scipy's default) means row-major, J[i*n + j].
  bool col_deriv = false;
  // Box constraints lower <= x <= upper (Markwardt's MPFIT limits, see
  // lm_core.cpp): n values each over the solver's parameters, or empty for no
  // bound on that side for every parameter; a -inf (lower) or +inf (upper)
  // entry means no bound on that parameter. lower[j] == upper[j] holds x[j] at
  // that value. Not owned: must outlive the solve. x0 must lie inside the box
  // (a solve from outside returns Status::improper_input naming the parameter).
  // With both empty, none of the bound logic runs: MINPACK's arithmetic, bit
  // for bit; bounds that never bind give those same bits too.
  std::span<const double> lower{}, upper{};

  // True when a bound is given (lower or upper non-empty).
  bool bounded() const { return !lower.empty() || !upper.empty(); }
  // The first j with x[j] outside [lower[j], upper[j]], -1 when x lies inside
  // the box (a NaN is not outside). Assumes validate() passed.
  int first_outside_bounds(std::span<const double> x) const;

  // The maxfev that a solve with n parameters actually uses.
  int effective_maxfev(int n, bool analytic_jacobian) const {
    if (maxfev > 0) return maxfev;
    return (analytic_jacobian ? 100 : 200) * (n + 1);
  }
  // nullptr when the options are valid for an m x n problem, else a sentence
  // saying what is wrong (a solve then returns Status::improper_input).
  // MINPACK's checks (n > 0, m >= n, tolerances >= 0, factor > 0, diag > 0),
  // plus diag's length and finiteness of every number, which scipy leaves
  // unchecked, and the bounds: lower and upper have n values or none, no NaN,
  // lower[j] <= upper[j]. When a sentence concerns one parameter and
  // `parameter` is given, *parameter receives its index (else -1).
  const char* validate(int m, int n, int* parameter = nullptr) const;
};

// Caller-owned scratch and output storage for one problem size. Sized once
// (resize allocates only when the capacity grows) and reused across solves; one
// per thread. After a solve it holds MINPACK's outputs until the next solve.
class Workspace {
 public:
  Workspace() = default;
  Workspace(int m, int n) { resize(m, n); }
  // The arrays are views into storage_: a copy points its views into its own
  // copy (a moved-to workspace keeps the moved buffer, and so its views).
  Workspace(const Workspace& other) { *this = other; }
  Workspace& operator=(const Workspace& other) {
    if (this == &other) return *this;
    storage_ = other.storage_;
    ipvt_ = other.ipvt_;
    pegged_ = other.pegged_;
    factored_ = other.factored_;
    resize(other.m_, other.n_);
    return *this;
  }
  Workspace(Workspace&&) noexcept = default;
  Workspace& operator=(Workspace&&) noexcept = default;
  void resize(int m, int n);
  int m() const { return m_; }
  int n() const { return n_; }

  // MINPACK's outputs of the last solve.
  std::span<const double> fvec() const { return {fvec_, static_cast<size_t>(m_)}; }
  // Whether the last solve reached its first Jacobian (and its QR): false
  // when it ended before (improper input, residuals at x0 not finite), and
  // then fjac, ipvt and qtf hold nothing of it (a reused workspace: another
  // solve's arrays).
  bool factored() const { return factored_; }
  // m x n column-major (leading dimension m): R's strict upper triangle in the
  // first n rows, Householder vectors below. scipy's infodict['fjac'] is this
  // array read row-major as n x m.
  std::span<const double> fjac() const { return {fjac_, static_cast<size_t>(m_) * n_}; }
  // 0-based column permutation (scipy's infodict['ipvt'] is this plus one).
  std::span<const int> ipvt() const { return {ipvt_.data(), static_cast<size_t>(n_)}; }
  std::span<const double> qtf() const { return {qtf_, static_cast<size_t>(n_)}; }
  // Diagonal scaling in use at the end of the solve.
  std::span<const double> diag() const { return {diag_, static_cast<size_t>(n_)}; }
  // Where the returned x sits in its box: -1 on its lower bound (checked
  // first, so lower == upper reads -1), +1 on its upper bound, 0 otherwise (and
  // 0 everywhere for a solve without bounds or with improper input).
  std::span<const std::int8_t> pegged() const { return {pegged_.data(), static_cast<size_t>(n_)}; }

 private:
  friend class LmCore;
  friend class LaneLmder;  // its lanes' full output (lanes.hpp)
  std::vector<double> storage_;
  std::vector<int> ipvt_;
  std::vector<std::int8_t> pegged_;
  int m_ = 0, n_ = 0;
  bool factored_ = false;
  double* fvec_ = nullptr;
  double* fjac_ = nullptr;      // m x n, MINPACK's fjac
  double* jac_user_ = nullptr;  // m x n, row-major Jacobian from the functor (col_deriv = false)
  double* diag_ = nullptr;
  double* qtf_ = nullptr;
  double* wa1_ = nullptr;
  double* wa2_ = nullptr;
  double* wa3_ = nullptr;
  double* wa4_ = nullptr;  // length m
  double* wa5_ = nullptr;  // qrfac's second scratch array
};

// Where a solve met the NaN or Inf that ended it with Status::non_finite.
enum class NonFiniteAt : std::uint8_t {
  none,              // the status is not non_finite
  start_residuals,   // the residuals at x0
  start_jacobian,    // the Jacobian at x0 (residuals there finite)
  iterate_jacobian,  // the Jacobian at a later iterate (Summary::fnorm says
                     // whether the residuals there were finite)
};

// What a solve reports besides x and the Workspace's arrays.
struct Summary {
  Status status = Status::improper_input;
  int nfev = 0;        // residual calls, finite-difference calls included (as MINPACK counts)
  int njev = 0;        // Jacobian calls (lmder only)
  double fnorm = 0.0;  // Euclidean norm of fvec at the returned x
  // Reason text when status is improper_input (static storage), else nullptr.
  const char* improper_reason = nullptr;
  // The parameter the improper_reason concerns (a bound, or x0 outside the
  // box), else -1.
  int improper_parameter = -1;
  NonFiniteAt non_finite_at = NonFiniteAt::none;
};

// The solver as a state machine (reverse communication): it says which
// evaluation it needs, the caller evaluates into the given buffer and calls
// advance(). This keeps all arithmetic in one compiled translation unit
// (-ffp-contract=off, independent of the caller's flags) while the caller's
// functors are called directly from the lmdif/lmder templates below.
// The tag of LmCore's lane-mode constructor.
// analytic_jacobian: lmder (true) or lmdif (false, forward differences).
struct LaneMode {
  bool analytic_jacobian = true;
};

class LmCore {
 public:
  // factorization: lane mode only (lmdif), see below.
  enum class Need : std::uint8_t { residuals, jacobian, done, factorization };

  LmCore(Workspace& ws, const Options& options, std::span<double> x, bool analytic_jacobian);

  // Lane mode (lanes.hpp: several problems side by side in SIMD lanes): the
  // caller keeps the m-sized arrays (residuals and Jacobian) and does the
  // work MINPACK does over them, with the same arithmetic, so the core only
  // ever touches n-sized data. Where the scalar core would
  //  * take enorm of the residuals it asked for, it uses the norm passed to
  //    advance_with_norm(), and the caller copies them into its fvec when
  //    accepted() says the point was taken (the start, a successful step);
  //  * transpose and factorise the Jacobian (qrfac with Q^T fvec), it reads
  //    the factorisation the caller wrote into qr_slots() before advance();
  //  * (lmdif) form column j of the Jacobian from the residuals at
  //    x + h e_j (fdjac2), it leaves that to the caller: while fd_column()
  //    is j >= 0 the pending residual request is that difference, and the
  //    caller stores (r[i] - fvec[i]) / fd_step() as column j before
  //    advance(); after the last column need() is Need::factorization: the
  //    caller factorises the columns it formed into qr_slots() and calls
  //    advance(), as after a Jacobian.
  // With bounds (MPFIT's limits), before it factorises a Jacobian the caller
  // calls zero_pegged_lane_columns(), the scalar core's zeroing of the
  // columns of parameters pegged at a limit with the gradient pointing out.
  // The step's limiting (after lmpar) and the differences' sides are the
  // core's, as in the scalar solve.
  struct QrSlots {
    double* r;       // R's strict upper triangle: r[i + j*ldr], i < j < n
    int ldr;         //
    int* ipvt;       // 0-based permutation
    double* rdiag;   // R's diagonal
    double* acnorm;  // the Jacobian's column norms
    double* qtf;     // the first n components of Q^T fvec
  };
  LmCore(Workspace& ws, const Options& options, std::span<double> x, LaneMode);
  QrSlots qr_slots() const;
  void advance_with_norm(double residual_norm);
  bool accepted() const { return accepted_; }
  // The column the pending residual request differences (lmdif), else -1;
  // and its step h (fdjac2's).
  int fd_column() const { return phase_ == Phase::fd_column ? fd_column_ : -1; }
  double fd_step() const { return fd_step_; }
  bool bounded() const { return bounded_; }
  // zero_pegged_columns on lane `lane` of the caller's Jacobian (column j's
  // element i at jac[(j m + i) w + lane]) and residuals (fvec[i w + lane]).
  void zero_pegged_lane_columns(double* jac, const double* fvec, int lane, int w) const;

  Need need() const { return need_; }
  // Point at which to evaluate (n values) and where to write the result:
  // m residuals, or the m x n Jacobian in the layout options.col_deriv asks for.
  std::span<const double> eval_point() const { return {eval_x_, static_cast<size_t>(n_)}; }
  std::span<double> eval_output() const { return eval_out_; }
  // Call after each evaluation; stop = the functor asked to terminate.
  void advance(bool stop);

  const Summary& summary() const { return summary_; }

 private:
  void finish(Status s);
  void begin_outer_iteration();
  void request_fd_column();
  void after_jacobian();
  void begin_inner_iteration();
  void after_trial_point();
  // MPFIT's limits (only with Options::bounded()).
  double lower(int j) const;
  double upper(int j) const;
  void zero_pegged_columns();
  void zero_pegged(double* jac, const double* fvec, int stride) const;
  void limit_step();
  void set_pegged();

  enum class Phase : std::uint8_t {
    initial_point,
    fd_column,
    jacobian,
    trial_point,
    done,
    factorization  // lane mode, lmdif: the differences are the caller's, so is qrfac
  };

  Workspace& ws_;
  const Options& opt_;
  double* x_;
  int m_, n_;
  bool analytic_;
  Phase phase_ = Phase::done;
  Need need_ = Need::done;
  const double* eval_x_ = nullptr;
  std::span<double> eval_out_{};
  Summary summary_{};
  // lmdif/lmder locals that survive across evaluations.
  int maxfev_ = 0, mode_ = 1, iter_ = 0, fd_column_ = 0;
  double fd_eps_ = 0.0, fd_saved_xj_ = 0.0, fd_step_ = 0.0;
  double par_ = 0.0, delta_ = 0.0, xnorm_ = 0.0, fnorm_ = 0.0, gnorm_ = 0.0, pnorm_ = 0.0;
  // Bounds: whether any is given, how many parameters are held (lower ==
  // upper), and how limit_step changed the last trial step: any component
  // zeroed or the step scaled (step_changed_), scaled by alpha < 1 (clipped_).
  bool bounded_ = false, step_changed_ = false, clipped_ = false;
  int held_ = 0;
  // Lane mode: the m-space is the caller's; the norm it passed for the last
  // residuals, and whether advance() took that point.
  bool lanes_ = false, accepted_ = false;
  double lane_norm_ = 0.0;
};

namespace detail {
// A functor may return void (always continue), bool (false = stop) or an
// integer (negative = stop, as MINPACK's iflag).
template <class F>
bool call_asks_stop(F& f, std::span<const double> x, std::span<double> out) {
  using R = std::invoke_result_t<F&, std::span<const double>, std::span<double>>;
  if constexpr (std::is_void_v<R>) {
    f(x, out);
    return false;
  } else if constexpr (std::is_same_v<R, bool>) {
    return !f(x, out);
  } else {
    return f(x, out) < 0;
  }
}
// The predicted reduction and directional derivative (scaled by |f|^2) of
// the linear model for a step s that MPFIT's limits zeroed or scaled (see
// lm_core.cpp for the derivation and why not MPFIT's formula): r, ldr, ipvt and
// qtf as after qrfac (R's diagonal in place), wa receives R P^T s. Exposed for
// tests/leastsq/test_bounds.cpp.
struct StepModel {
  double prered = 0.0, dirder = 0.0;
};
StepModel changed_step_model(int n, const double* r, int ldr, const int* ipvt, const double* qtf,
                             double fnorm, const double* s, double* wa);

struct NoJacobian {
  void operator()(std::span<const double>, std::span<double>) const {}
};

template <class Residual, class Jacobian>
Summary drive(Residual& f, Jacobian& jac, std::span<double> x, Workspace& ws,
              const Options& options, bool analytic) {
  LmCore core(ws, options, x, analytic);
  for (;;) {
    switch (core.need()) {
      case LmCore::Need::residuals:
        core.advance(call_asks_stop(f, core.eval_point(), core.eval_output()));
        break;
      case LmCore::Need::jacobian:
        core.advance(call_asks_stop(jac, core.eval_point(), core.eval_output()));
        break;
      case LmCore::Need::done:
      case LmCore::Need::factorization:  // lane mode only
        return core.summary();
    }
  }
}
}  // namespace detail

// MINPACK lmdif: Jacobian by forward differences (fdjac2).
// f(std::span<const double> x, std::span<double> fvec) fills the m residuals.
template <class Residual>
Summary lmdif(Residual&& f, std::span<double> x, Workspace& ws, const Options& options = {}) {
  detail::NoJacobian none;
  return detail::drive(f, none, x, ws, options, false);
}

// MINPACK lmder: analytic Jacobian.
// jac(std::span<const double> x, std::span<double> J) fills the m x n Jacobian of
// the residuals in the layout options.col_deriv selects.
template <class Residual, class Jacobian>
Summary lmder(Residual&& f, Jacobian&& jac, std::span<double> x, Workspace& ws,
              const Options& options = {}) {
  return detail::drive(f, jac, x, ws, options, true);
}

// cov_x as scipy computes it (only meaningful when converged(status)): with
// R the upper triangle of the first n rows of fjac and P from ipvt,
// cov_x = (R P^T)^-1 (R P^T)^-T = P R^-1 R^-T P^T. Writes n x n (row-major,
// symmetric) into cov and returns true; returns false when R is singular (a
// zero on its diagonal: scipy's trtri info != 0, cov_x None). tmp: n*n scratch.
// After a bounded solve with pegged parameters (ws.pegged() not all 0): the
// covariance of the unpegged parameters alone, (J_F^T J_F)^-1 from the columns
// of R that belong to them (R's leading block, as the pegged columns were
// zeroed and pivoted last; see leastsq.cpp), with NaN in every pegged row and
// column; false when R is singular over the unpegged parameters.
bool covariance(const Workspace& ws, std::span<double> cov, std::span<double> tmp);

// scipy's `mesg` for an ier, formatted with the tolerances and maxfev in use
// ("%f" as scipy formats them). Codes outside 0..8 get lmbatch's own text.
std::string message(Status status, const Options& options, int maxfev_used);
// The same for a finished solve: for Status::non_finite it says where the
// NaN or Inf was met (the residuals at x0, the Jacobian at x0, or the
// Jacobian at a later iterate and whether that iterate's residuals were
// finite); for improper input about one parameter (a bound, x0 outside the
// box) it names the reason and the parameter's index; for every other status
// it is message(summary.status, ...).
std::string message(const Summary& summary, const Options& options, int maxfev_used);

// ---- scipy-shaped convenience API (allocates its results) ----

struct LeastsqResult {
  std::vector<double> x;
  std::optional<std::vector<double>> cov_x;  // n x n row-major; nullopt where scipy gives None
  int nfev = 0;
  std::optional<int> njev;  // present for lmder (Dfun given), as in scipy's infodict
  std::vector<double> fvec;
  std::vector<double> fjac;  // n x m row-major: scipy's infodict['fjac']
  std::vector<int> ipvt;     // 1-based, as scipy
  std::vector<double> qtf;
  std::string mesg;
  int ier = 0;
  Status status = Status::improper_input;
};

// r's infodict arrays (fvec, fjac, ipvt, qtf) and cov_x from the workspace of
// a finished solve whose summary is s (r's x, counts and message are the
// caller's): nothing for improper input; fjac and qtf NaN and ipvt 0 where
// the solve formed no Jacobian (Workspace::factored()). leastsq() and the
// Python module's leastsq both report through it.
void fill_infodict(const Summary& s, const Workspace& ws, LeastsqResult& r);

using ResidualFunction = std::function<void(std::span<const double>, std::span<double>)>;

// scipy.optimize.leastsq(func, x0, Dfun=Dfun, full_output=True, ...): func maps
// n = x0.size() parameters to m residuals; Dfun (optional) fills the Jacobian in
// options.col_deriv's layout.
LeastsqResult leastsq(const ResidualFunction& func, std::span<const double> x0, int m,
                      const ResidualFunction& Dfun = nullptr, const Options& options = {});

}  // namespace lmbatch::leastsq
