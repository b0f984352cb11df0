#include "solve_problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lmbatch::batch::detail {
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

void SolverScratch::size_for(int m_, int n_) {
  if (m_ == m && n_ == n) return;
  m = m_;
  n = n_;
  const auto mm = static_cast<size_t>(m_), nn = static_cast<size_t>(n_);
  workspace.resize(m_, n_);
  xs.resize(mm);
  ys.resize(mm);
  inv_sigma.resize(mm);
  f.resize(mm);
  p.resize(nn);
  estimate_scratch.resize(mm);
  cov_tmp.resize(nn * nn);
  if (columns.empty()) columns.resize(1);  // one predictor; solve_problem grows it for more
}

void solve_problem(const models::Model& model, Chunk& chunk, int k, SolverScratch& s,
                   const BatchOptions& options) {
  const int m = chunk.m, n = chunk.n;
  const auto mm = static_cast<size_t>(m), nn = static_cast<size_t>(n);
  const size_t row = static_cast<size_t>(k);
  // d predictors per sample (x1..xd); 1 for a plain x.
  const int d = chunk.x_layout == Layout::absent ? 1 : chunk.predictors;
  const auto dd = static_cast<size_t>(d);
  if (!model.accepts_predictors(d)) model.check_predictors(d);  // throws, naming the term
  const double* y = chunk.y.data() + row * mm;
  const double* x = chunk.x_layout == Layout::absent   ? nullptr
                    : chunk.x_layout == Layout::shared ? chunk.x.data()
                                                       : chunk.x.data() + row * mm * dd;
  const double* sigma = chunk.sigma_layout == Layout::absent   ? nullptr
                        : chunk.sigma_layout == Layout::shared ? chunk.sigma.data()
                                                               : chunk.sigma.data() + row * mm;
  // Grows once per thread for d >= 2 predictors, not per problem (size_for
  // sized both for one).
  if (s.xs.size() < mm * dd) s.xs.resize(mm * dd);
  if (s.columns.size() < dd) s.columns.resize(dd);
  for (size_t v = 0; v < dd; ++v) s.columns[v] = s.xs.data() + v * mm;

  // A sample is present when y and every predictor are finite (NaN marks a
  // missing sample).
  auto present = [&](int i) {
    if (!std::isfinite(y[i])) return false;
    if (!x) return true;
    for (size_t v = 0; v < dd; ++v)
      if (!std::isfinite(x[static_cast<size_t>(i) * dd + v])) return false;
    return true;
  };
  // Keep the present samples, each predictor in its column of xs.
  int mv = 0;
  for (int i = 0; i < m; ++i) {
    if (!present(i)) continue;
    if (x) {
      for (size_t v = 0; v < dd; ++v) s.xs[v * mm + mv] = x[static_cast<size_t>(i) * dd + v];
    } else {
      s.xs[mv] = static_cast<double>(i);
    }
    s.ys[mv] = y[i];
    s.inv_sigma[mv] = sigma ? sigma[i] : 1.0;  // holds sigma; residuals divide by it
    ++mv;
  }
  const bool weighted = sigma != nullptr;

  double* x_out = chunk.x_out.data() + row * nn;
  double* cov = chunk.cov_x.data() + row * nn * nn;
  double* std_error = chunk.std_error.data() + row * nn;
  std::fill(std_error, std_error + nn, kNaN);
  chunk.m_valid[k] = mv;
  chunk.njev[k] = 0;
  std::fill(cov, cov + nn * nn, kNaN);
  if (chunk.full_output) {
    std::fill_n(chunk.fvec.data() + row * mm, mm, kNaN);
    std::fill_n(chunk.fjac.data() + row * nn * mm, nn * mm, kNaN);
    std::fill_n(chunk.ipvt.data() + row * nn, nn, 0);
    std::fill_n(chunk.qtf.data() + row * nn, nn, kNaN);
  }
  if (mv < n) {
    std::fill(x_out, x_out + nn, kNaN);
    chunk.cost[k] = kNaN;
    chunk.nfev[k] = 0;
    chunk.ier[k] = static_cast<std::int16_t>(ProblemStatus::too_few_samples);
    return;
  }

  const std::span<const double> xs(s.xs.data(), static_cast<size_t>(mv));  // x (d == 1)
  const models::Predictors predictors{s.columns.data(), d, static_cast<size_t>(mv)};
  const std::span<const double> ys(s.ys.data(), static_cast<size_t>(mv));
  const std::span<double> f(s.f.data(), static_cast<size_t>(mv));
  std::span<double> p(s.p.data(), nn);
  if (chunk.x0_layout == Layout::absent) {
    model.estimate(xs, ys, p,
                   std::span<double>(s.estimate_scratch.data(), static_cast<size_t>(mv)));
  } else {
    const double* x0 =
        chunk.x0_layout == Layout::shared ? chunk.x0.data() : chunk.x0.data() + row * nn;
    std::copy(x0, x0 + nn, p.begin());
  }

  // r = (y - f) / sigma; dr/dp = -(df/dp) / sigma, column-major (col_deriv).
  auto residuals = [&](std::span<const double> params, std::span<double> r) {
    model.value(params, predictors, f);
    if (weighted) {
      for (int i = 0; i < mv; ++i) r[i] = (ys[i] - f[i]) / s.inv_sigma[i];
    } else {
      for (int i = 0; i < mv; ++i) r[i] = ys[i] - f[i];
    }
  };
  auto jacobian = [&](std::span<const double> params, std::span<double> jac) {
    model.jacobian(params, predictors, jac);
    for (int j = 0; j < n; ++j) {
      double* col = jac.data() + static_cast<size_t>(j) * mv;
      if (weighted) {
        for (int i = 0; i < mv; ++i) col[i] = -col[i] / s.inv_sigma[i];
      } else {
        for (int i = 0; i < mv; ++i) col[i] = -col[i];
      }
    }
  };

  leastsq::Options opt = options.solver;
  opt.col_deriv = true;
  s.workspace.resize(mv, n);  // no allocation: capacity is (m, n)
  const leastsq::Summary summary = options.jacobian == JacobianMode::analytic
                                       ? leastsq::lmder(residuals, jacobian, p, s.workspace, opt)
                                       : leastsq::lmdif(residuals, p, s.workspace, opt);

  std::copy(p.begin(), p.end(), x_out);
  chunk.ier[k] = static_cast<std::int16_t>(leastsq::ier(summary.status));
  chunk.nfev[k] = summary.nfev;
  chunk.njev[k] = summary.njev;
  chunk.cost[k] =
      summary.status == leastsq::Status::improper_input ? kNaN : summary.fnorm * summary.fnorm;
  if (leastsq::converged(summary.status)) {
    // cov_x is n x n; covariance() writes it row-major into the chunk.
    if (!leastsq::covariance(s.workspace, std::span<double>(cov, nn * nn), s.cov_tmp)) {
      std::fill(cov, cov + nn * nn, kNaN);
    } else if (mv > n) {
      // The docstring's scaling of cov_x: residual variance s^2 = cost / (m - n).
      const double s2 = chunk.cost[k] / static_cast<double>(mv - n);
      for (int j = 0; j < n; ++j)
        std_error[j] = std::sqrt(cov[static_cast<size_t>(j) * (n + 1)] * s2);
    }
  }
  if (chunk.full_output && summary.status != leastsq::Status::improper_input) {
    // fvec goes back to the samples' positions (missing samples stay NaN).
    // fjac is scipy's n x m_valid array (MINPACK's column-major m_valid x n),
    // packed at the start of each of its n rows of length m.
    const auto fvec = s.workspace.fvec();
    const auto fjac = s.workspace.fjac();
    double* fvec_out = chunk.fvec.data() + row * mm;
    double* fjac_out = chunk.fjac.data() + row * nn * mm;
    for (int i = 0, iv = 0; i < m; ++i)
      if (present(i)) fvec_out[i] = fvec[iv++];
    for (int j = 0; j < n; ++j)
      std::copy_n(fjac.data() + static_cast<size_t>(j) * mv, mv,
                  fjac_out + static_cast<size_t>(j) * mm);
    for (int j = 0; j < n; ++j) {
      chunk.ipvt[row * nn + j] = s.workspace.ipvt()[j] + 1;
      chunk.qtf[row * nn + j] = s.workspace.qtf()[j];
    }
  }
}

}  // namespace lmbatch::batch::detail
