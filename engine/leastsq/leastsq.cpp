// scipy.optimize.leastsq's post-processing: cov_x, mesg, and the owning result.
#include "lmbatch/leastsq/leastsq.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace lmbatch::leastsq {

namespace {
// R^-1 in place for an r x r upper triangle (leading dimension ld), column by
// column, as LAPACK's unblocked dtrti2 (upper, non-unit):
// A(j,j) = 1/A(j,j); A(0:j,j) = -A(j,j) * A(0:j,0:j) A(0:j,j).
void invert_upper(double* inv, int r, int ld) {
  auto A = [inv, ld](int i, int j) -> double& { return inv[i + static_cast<size_t>(j) * ld]; };
  for (int j = 0; j < r; ++j) {
    A(j, j) = 1.0 / A(j, j);
    const double ajj = -A(j, j);
    for (int k = 0; k < j; ++k) {  // dtrmv: x := T x, T = A(0:j, 0:j) upper
      const double temp = A(k, j);
      if (temp != 0.0) {
        for (int i = 0; i < k; ++i) A(i, j) += temp * A(i, k);
        A(k, j) *= A(k, k);
      }
    }
    for (int i = 0; i < j; ++i) A(i, j) *= ajj;  // dscal
  }
}

// cov_x when some parameters are pegged (Workspace::pegged): the covariance of
// the free ones, (J_F^T J_F)^-1, NaN in the pegged rows and columns.
// Derivation: qrfac gives J P = Q R. Let F be the free parameters and take
// the columns of R P^T that belong to them, in pivot order: M = R(:, k in K),
// K = {k : ipvt[k] free}. Then J_F = Q M, so J_F^T J_F = M^T M, and with
// M = Q' R_F (R_F upper triangular, r x r), cov_F = R_F^-1 R_F^-T, permuted
// back. The pegged columns were zeroed before qrfac (lm_core.cpp), so their
// norm 0 is never the largest and pivoting leaves them at the end of R: K is
// then 0..r-1, M is already upper triangular and R_F is R's leading r x r
// block (no arithmetic beyond scipy's R^-1 R^-T on that block). Where the
// returned x has a parameter on a limit that the last Jacobian did not peg (a
// final step onto a limit), M has entries below its diagonal and Householder
// reflections bring it to R_F.
bool covariance_of_free(const Workspace& ws, std::span<double> cov, double* a) {
  const int n = ws.n(), m = ws.m();
  const auto fjac = ws.fjac();
  const auto ipvt = ws.ipvt();
  const auto pegged = ws.pegged();
  // M, n x r column-major (leading dimension n), in a.
  int r = 0;
  for (int k = 0; k < n; ++k) {
    if (pegged[ipvt[k]] != 0) continue;
    double* col = a + static_cast<size_t>(r) * n;
    for (int i = 0; i < n; ++i) col[i] = i <= k ? fjac[i + static_cast<size_t>(k) * m] : 0.0;
    ++r;
  }
  auto A = [a, n](int i, int j) -> double& { return a[i + static_cast<size_t>(j) * n]; };
  for (int c = 0; c < r; ++c) {
    double below = 0.0;
    for (int i = c + 1; i < n; ++i) below = std::max(below, std::fabs(A(i, c)));
    if (below == 0.0) continue;  // already triangular in this column
    // Householder: v = x - alpha e_c, alpha = -sign(x_c) |x|; H = I - 2 v v^T / v^T v.
    const double norm = minpack::enorm(n - c, &A(c, c));
    const double alpha = A(c, c) < 0.0 ? norm : -norm;
    A(c, c) -= alpha;
    double vv = 0.0;
    for (int i = c; i < n; ++i) vv += A(i, c) * A(i, c);
    for (int j = c + 1; j < r; ++j) {
      double dot = 0.0;
      for (int i = c; i < n; ++i) dot += A(i, c) * A(i, j);
      const double t = 2.0 * dot / vv;
      for (int i = c; i < n; ++i) A(i, j) -= t * A(i, c);
    }
    A(c, c) = alpha;
    for (int i = c + 1; i < n; ++i) A(i, c) = 0.0;
  }
  for (int c = 0; c < r; ++c)
    if (A(c, c) == 0.0) return false;  // singular over the free parameters
  invert_upper(a, r, n);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::fill(cov.begin(), cov.begin() + static_cast<std::ptrdiff_t>(n) * n, nan);
  // Row ca of R_F^-1 belongs to the ca-th free pivot position's parameter.
  for (int ka = 0, ca = 0; ka < n; ++ka) {
    if (pegged[ipvt[ka]] != 0) continue;
    for (int kb = 0, cb = 0; kb < n; ++kb) {
      if (pegged[ipvt[kb]] != 0) continue;
      double sum = 0.0;
      for (int k = 0; k < r; ++k) sum += A(ca, k) * A(cb, k);
      cov[static_cast<size_t>(ipvt[ka]) * n + ipvt[kb]] = sum;
      ++cb;
    }
    ++ca;
  }
  return true;
}
}  // namespace

bool covariance(const Workspace& ws, std::span<double> cov, std::span<double> tmp) {
  const int n = ws.n();
  const int m = ws.m();
  const size_t nn = static_cast<size_t>(n) * n;
  if (n <= 0 || cov.size() < nn || tmp.size() < nn) return false;
  for (const std::int8_t p : ws.pegged())
    if (p != 0) return covariance_of_free(ws, cov, tmp.data());
  const auto fjac = ws.fjac();
  const auto ipvt = ws.ipvt();
  // R = upper triangle of the first n rows of MINPACK's fjac (column-major).
  double* inv = tmp.data();  // column-major n x n
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < n; ++i)
      inv[i + static_cast<size_t>(j) * n] = i <= j ? fjac[i + static_cast<size_t>(j) * m] : 0.0;
  for (int j = 0; j < n; ++j)
    if (inv[j + static_cast<size_t>(j) * n] == 0.0) return false;  // trtri info > 0
  invert_upper(inv, n, n);
  auto A = [inv, n](int i, int j) -> double& { return inv[i + static_cast<size_t>(j) * n]; };
  // scipy: invR[perm] = invR; cov_x = invR @ invR.T. Row k of R^-1 becomes row
  // ipvt[k] of the permuted inverse.
  for (int ka = 0; ka < n; ++ka) {
    for (int kb = 0; kb < n; ++kb) {
      double sum = 0.0;
      for (int k = 0; k < n; ++k) sum += A(ka, k) * A(kb, k);
      cov[static_cast<size_t>(ipvt[ka]) * n + ipvt[kb]] = sum;
    }
  }
  return true;
}

std::string message(Status status, const Options& o, int maxfev_used) {
  char buf[512];
  switch (status) {
    case Status::improper_input:
      return "Improper input parameters.";
    case Status::ftol_reached:
      std::snprintf(buf, sizeof buf,
                    "Both actual and predicted relative reductions in the sum of squares\n"
                    "  are at most %f",
                    o.ftol);
      break;
    case Status::xtol_reached:
      std::snprintf(buf, sizeof buf,
                    "The relative error between two consecutive iterates is at most %f", o.xtol);
      break;
    case Status::ftol_and_xtol:
      std::snprintf(buf, sizeof buf,
                    "Both actual and predicted relative reductions in the sum of squares\n"
                    "  are at most %f and the relative error between two consecutive "
                    "iterates is at \n  most %f",
                    o.ftol, o.xtol);
      break;
    case Status::gtol_reached:
      std::snprintf(buf, sizeof buf,
                    "The cosine of the angle between func(x) and any column of the\n"
                    "  Jacobian is at most %f in absolute value",
                    o.gtol);
      break;
    case Status::maxfev_reached:
      std::snprintf(buf, sizeof buf, "Number of calls to function has reached maxfev = %d.",
                    maxfev_used);
      break;
    case Status::ftol_too_small:
      std::snprintf(buf, sizeof buf,
                    "ftol=%f is too small, no further reduction in the sum of squares\n"
                    "  is possible.",
                    o.ftol);
      break;
    case Status::xtol_too_small:
      std::snprintf(buf, sizeof buf,
                    "xtol=%f is too small, no further improvement in the approximate\n"
                    "  solution is possible.",
                    o.xtol);
      break;
    case Status::gtol_too_small:
      std::snprintf(buf, sizeof buf,
                    "gtol=%f is too small, func(x) is orthogonal to the columns of\n"
                    "  the Jacobian to machine precision.",
                    o.gtol);
      break;
    case Status::stopped_by_function:
      return "The residual or Jacobian function asked to stop.";
    case Status::non_finite:
      return "The residuals at the starting point or the Jacobian are not finite (NaN or Inf).";
    default:
      return "An error occurred.";
  }
  return buf;
}

std::string message(const Summary& summary, const Options& options, int maxfev_used) {
  if (summary.status == Status::improper_input && summary.improper_reason &&
      summary.improper_parameter >= 0) {
    // A bound, or x0 outside the box: say which parameter (index from 0).
    return std::string("Improper input parameters: ") + summary.improper_reason + " (parameter " +
           std::to_string(summary.improper_parameter) + ").";
  }
  if (summary.status != Status::non_finite) return message(summary.status, options, maxfev_used);
  switch (summary.non_finite_at) {
    case NonFiniteAt::start_residuals:
      return "The residuals at the starting point are not finite (NaN or Inf).";
    case NonFiniteAt::start_jacobian:
      return "The Jacobian at the starting point is not finite (NaN or Inf).";
    case NonFiniteAt::iterate_jacobian:
      if (std::isfinite(summary.fnorm))
        return "The Jacobian at an iterate after the starting point is not finite (NaN or Inf).";
      // MINPACK takes a step whose ratio of actual to predicted reduction is
      // NaN (a NaN step): the iterate, its residuals and Jacobian are NaN.
      return "The residuals and the Jacobian at an iterate after the starting point are not "
             "finite (NaN or Inf): MINPACK took a step to it whose reduction ratio is NaN.";
    case NonFiniteAt::none:
      break;
  }
  return message(summary.status, options, maxfev_used);
}

void fill_infodict(const Summary& s, const Workspace& ws, LeastsqResult& r) {
  if (s.status == Status::improper_input) return;
  const int m = ws.m(), n = ws.n();
  r.fvec.assign(ws.fvec().begin(), ws.fvec().end());
  if (ws.factored()) {
    r.fjac.assign(ws.fjac().begin(), ws.fjac().end());  // column-major m x n == row-major n x m
    r.ipvt.resize(n);
    for (int j = 0; j < n; ++j) r.ipvt[j] = ws.ipvt()[j] + 1;
    r.qtf.assign(ws.qtf().begin(), ws.qtf().end());
  } else {  // ended before its first Jacobian: none computed
    r.fjac.assign(static_cast<size_t>(m) * n, std::numeric_limits<double>::quiet_NaN());
    r.ipvt.assign(n, 0);
    r.qtf.assign(n, std::numeric_limits<double>::quiet_NaN());
  }
  if (converged(s.status)) {
    std::vector<double> cov(static_cast<size_t>(n) * n), tmp(cov.size());
    if (covariance(ws, cov, tmp)) r.cov_x = std::move(cov);
  }
}

LeastsqResult leastsq(const ResidualFunction& func, std::span<const double> x0, int m,
                      const ResidualFunction& Dfun, const Options& options) {
  const int n = static_cast<int>(x0.size());
  const bool analytic = static_cast<bool>(Dfun);
  LeastsqResult r;
  r.x.assign(x0.begin(), x0.end());
  Workspace ws(m, n);
  const Summary s = analytic ? lmder(func, Dfun, std::span<double>(r.x), ws, options)
                             : lmdif(func, std::span<double>(r.x), ws, options);
  r.status = s.status;
  r.ier = ier(s.status);
  r.nfev = s.nfev;
  if (analytic) r.njev = s.njev;
  r.mesg = message(s, options, options.effective_maxfev(n, analytic));
  fill_infodict(s, ws, r);
  return r;
}

}  // namespace lmbatch::leastsq
