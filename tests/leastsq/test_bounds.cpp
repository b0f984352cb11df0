// Bounds (Markwardt's MPFIT limits on the MINPACK core, issue #16):
//  * bound-constrained problems against scipy.optimize.least_squares (trf), an
//    independent method, with the KKT conditions checked at lmbatch's solution;
//  * MPFIT's own examples (testmpfit.c) with held parameters (lower == upper);
//  * bounds that never bind give the unbounded run's bits on all 106 MINPACK-1
//    reference runs;
//  * the predicted reduction of a step cut short at a limit;
//  * the covariance over the unpegged parameters; bad input.
#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "support/minpack_problems.hpp"
#include "support/reference_data.hpp"

namespace lsq = lmbatch::leastsq;
using namespace lmbatch::test;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// A problem of tests/data/bounds/bounds_reference.json (made by
// make_bounds_reference.py with scipy's trf).
struct BoundedCase {
  std::string id, kind;
  int nprob = 0, n = 0, m = 0;
  std::vector<double> t, y;
  double ey = 1.0;
  std::vector<double> x0, lower, upper, x;
  std::vector<int> active, compare;

  // Column-major residuals / Jacobian (col_deriv).
  void residuals(const double* p, double* r) const {
    if (kind == "minpack") return ssqfcn(m, n, p, r, nprob);
    for (int i = 0; i < m; ++i) {
      const double xc = t[i] - p[2];
      r[i] = (y[i] - (p[1] * std::exp(-0.5 * xc * xc / (p[3] * p[3])) + p[0])) / ey;
    }
  }
  void jacobian(const double* p, double* J) const {
    if (kind == "minpack") return ssqjac(m, n, p, J, nprob);
    for (int i = 0; i < m; ++i) {
      const double xc = t[i] - p[2], s2 = p[3] * p[3];
      const double e = std::exp(-0.5 * xc * xc / s2);
      J[i + 0 * m] = -1.0 / ey;
      J[i + 1 * m] = -e / ey;
      J[i + 2 * m] = -p[1] * e * xc / s2 / ey;
      J[i + 3 * m] = -p[1] * e * xc * xc / (s2 * p[3]) / ey;
    }
  }
};

std::vector<double> bounds_of(const nlohmann::json& j, double none) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(e.is_null() ? none : e.get<double>());
  return v;
}

const std::vector<BoundedCase>& bounded_cases() {
  static const std::vector<BoundedCase> cases = [] {
    std::ifstream in(std::string(LMBATCH_TEST_DATA) + "/bounds/bounds_reference.json");
    REQUIRE(in);
    const auto doc = nlohmann::json::parse(in);
    std::vector<BoundedCase> out;
    for (const auto& c : doc.at("cases")) {
      BoundedCase b;
      b.id = c.at("id").get<std::string>();
      b.kind = c.at("kind").get<std::string>();
      b.n = c.at("n").get<int>();
      b.m = c.at("m").get<int>();
      if (b.kind == "minpack")
        b.nprob = c.at("nprob").get<int>();
      else {
        b.t = c.at("t").get<std::vector<double>>();
        b.y = c.at("y").get<std::vector<double>>();
        b.ey = c.at("ey").get<double>();
      }
      b.x0 = c.at("x0").get<std::vector<double>>();
      b.lower = bounds_of(c.at("lower"), -kInf);
      b.upper = bounds_of(c.at("upper"), kInf);
      b.x = c.at("x").get<std::vector<double>>();
      b.active = c.at("active").get<std::vector<int>>();
      b.compare = c.at("compare").get<std::vector<int>>();
      out.push_back(std::move(b));
    }
    return out;
  }();
  return cases;
}

bool inside(std::span<const double> x, const std::vector<double>& lo,
            const std::vector<double>& up) {
  for (size_t j = 0; j < x.size(); ++j)
    if (!(x[j] >= lo[j] && x[j] <= up[j])) return false;
  return true;
}

// lmder or lmdif on a case; counts evaluations outside the box.
struct Run {
  lsq::Summary summary;
  std::vector<double> x;
  int outside = 0;
};
Run solve(const BoundedCase& c, bool analytic, lsq::Workspace& ws, const lsq::Options& base) {
  lsq::Options opt = base;
  opt.lower = c.lower;
  opt.upper = c.upper;
  opt.col_deriv = true;
  Run run;
  run.x = c.x0;
  auto f = [&](std::span<const double> p, std::span<double> r) {
    if (!inside(p, c.lower, c.upper)) ++run.outside;
    c.residuals(p.data(), r.data());
  };
  auto jac = [&](std::span<const double> p, std::span<double> J) {
    if (!inside(p, c.lower, c.upper)) ++run.outside;
    c.jacobian(p.data(), J.data());
  };
  ws.resize(c.m, c.n);
  run.summary = analytic ? lsq::lmder(f, jac, std::span<double>(run.x), ws, opt)
                         : lsq::lmdif(f, std::span<double>(run.x), ws, opt);
  return run;
}

// Gradient g = J^T f of |f|^2 / 2 at x, and each column's norm.
void gradient(const BoundedCase& c, const std::vector<double>& x, std::vector<double>& g,
              std::vector<double>& column_norm, double& fnorm) {
  std::vector<double> r(c.m), J(static_cast<size_t>(c.m) * c.n);
  c.residuals(x.data(), r.data());
  c.jacobian(x.data(), J.data());
  fnorm = lsq::minpack::enorm(r);
  g.assign(c.n, 0.0);
  column_norm.assign(c.n, 0.0);
  for (int j = 0; j < c.n; ++j) {
    for (int i = 0; i < c.m; ++i) g[j] += J[i + static_cast<size_t>(j) * c.m] * r[i];
    column_norm[j] = lsq::minpack::enorm(c.m, &J[static_cast<size_t>(j) * c.m]);
  }
}
}  // namespace

TEST_CASE("bounded problems: x as scipy's trf, pegged as its active set, KKT at the solution",
          "[bounds]") {
  const auto& cases = bounded_cases();
  REQUIRE(cases.size() == 13);
  lsq::Workspace ws;
  for (const auto& c : cases) {
    for (const bool analytic : {true, false}) {
      INFO(c.id << (analytic ? " lmder" : " lmdif"));
      // Tighter than scipy's defaults: Brown and Dennis's sum of squares is so
      // flat that even the unbounded MINPACK run needs ftol = 1e-14 to place x
      // within 1e-6 (at 1e-12 it stops 1.5e-6 away, bounds or not).
      lsq::Options opt;
      opt.ftol = opt.xtol = 1e-14;
      const Run run = solve(c, analytic, ws, opt);
      CHECK(lsq::converged(run.summary.status));
      CHECK(run.outside == 0);  // f and J never called outside the box
      CHECK(inside(run.x, c.lower, c.upper));
      const auto pegged = ws.pegged();
      std::vector<double> g, norms;
      double fnorm = 0.0;
      gradient(c, run.x, g, norms, fnorm);
      for (int j = 0; j < c.n; ++j) {
        INFO("parameter " << j << ": x " << run.x[j] << " scipy " << c.x[j] << " gradient "
                          << g[j]);
        // pegged describes x exactly.
        CHECK(pegged[j] == (run.x[j] == c.lower[j] ? -1 : run.x[j] == c.upper[j] ? 1 : 0));
        if (!c.compare[j]) continue;
        CHECK(std::fabs(run.x[j] - c.x[j]) <= 1e-6 * std::max(1.0, std::fabs(c.x[j])));
        CHECK(pegged[j] == c.active[j]);
        // KKT: the gradient vanishes on free parameters (relative to |J_j| |f|,
        // the cosine MINPACK's gtol measures) and points out of the box on
        // pegged ones (g >= 0 at a lower bound, <= 0 at an upper).
        const double scale = norms[j] * std::max(fnorm, 1e-12);
        if (pegged[j] == 0) CHECK(std::fabs(g[j]) <= 1e-6 * scale);
        if (pegged[j] < 0) CHECK(g[j] >= -1e-10 * scale);
        if (pegged[j] > 0) CHECK(g[j] <= 1e-10 * scale);
      }
    }
  }
}

TEST_CASE("MPFIT's testquadfix and testgaussfix with held parameters (lower == upper)",
          "[bounds][mpfit]") {
  // testmpfit.c's data; its log prints P and their errors to 6 decimals.
  const double xd[] = {-1.7237128E+00, 1.8712276E+00, -9.6608055E-01, -2.8394297E-01,
                       1.3416969E+00,  1.3757038E+00, -1.3703436E+00, 4.2581975E-02,
                       -1.4970151E-01, 8.2065094E-01};
  const double yq[] = {2.3095947E+01, 2.6449392E+01, 1.0204468E+01, 5.40507,       1.5787588E+01,
                       1.6520903E+01, 1.5971818E+01, 4.7668524E+00, 4.9337711E+00, 8.7348375E+00};
  const double yg[] = {-4.4494256E-02, 8.7324673E-01, 7.4443483E-01, 4.7631559E+00, 1.7187297E-01,
                       1.1639182E-01,  1.5646480E+00, 5.2322268E+00, 4.2543168E+00, 6.2792623E-01};
  const int m = 10;
  lsq::Workspace ws;
  std::vector<double> cov, tmp;

  SECTION("quadratic, linear term held at 0") {
    auto f = [&](std::span<const double> p, std::span<double> r) {
      for (int i = 0; i < m; ++i) r[i] = (yq[i] - p[0] - p[1] * xd[i] - p[2] * xd[i] * xd[i]) / 0.2;
    };
    const double lower[] = {-kInf, 0.0, -kInf}, upper[] = {kInf, 0.0, kInf};
    lsq::Options opt;
    opt.lower = lower;
    opt.upper = upper;
    for (const bool analytic : {true, false}) {
      INFO((analytic ? "lmder" : "lmdif"));
      auto jac = [&](std::span<const double>, std::span<double> J) {
        for (int i = 0; i < m; ++i) {
          J[i * 3 + 0] = -1.0 / 0.2;
          J[i * 3 + 1] = -xd[i] / 0.2;
          J[i * 3 + 2] = -xd[i] * xd[i] / 0.2;
        }
      };
      std::vector<double> x{1.0, 0.0, 1.0};
      ws.resize(m, 3);
      const auto s = analytic ? lsq::lmder(f, jac, std::span<double>(x), ws, opt)
                              : lsq::lmdif(f, std::span<double>(x), ws, opt);
      REQUIRE(lsq::converged(s.status));
      // testmpfit.log: P[0] = 4.696254, P[1] = 0 (fixed), P[2] = 6.172954,
      // CHI-SQUARE = 6.983588.
      CHECK(x[0] == Approx(4.696254).margin(1e-6));
      CHECK(x[1] == 0.0);
      CHECK(x[2] == Approx(6.172954).margin(1e-6));
      CHECK(s.fnorm * s.fnorm == Approx(6.983588).margin(1e-6));
      CHECK(ws.pegged()[1] == -1);
      // Errors: the normal equations of the two free parameters, by hand.
      Eigen::Matrix2d A = Eigen::Matrix2d::Zero();
      for (int i = 0; i < m; ++i) {
        const Eigen::Vector2d row(1.0 / 0.2, xd[i] * xd[i] / 0.2);
        A += row * row.transpose();
      }
      const Eigen::Matrix2d inv = A.inverse();
      cov.assign(9, 0.0);
      tmp.assign(9, 0.0);
      REQUIRE(lsq::covariance(ws, cov, tmp));
      // lmdif's Jacobian is a forward difference: ~sqrt(eps) relative.
      const double tol = analytic ? 1e-12 : 1e-6;
      CHECK(cov[0] == Approx(inv(0, 0)).epsilon(tol));
      CHECK(cov[2] == Approx(inv(0, 1)).epsilon(tol));
      CHECK(cov[8] == Approx(inv(1, 1)).epsilon(tol));
      for (int k = 0; k < 3; ++k) {
        CHECK(std::isnan(cov[1 * 3 + k]));
        CHECK(std::isnan(cov[k * 3 + 1]));
      }
    }
  }

  SECTION("gaussian, constant and centre held at 0") {
    auto f = [&](std::span<const double> p, std::span<double> r) {
      for (int i = 0; i < m; ++i) {
        const double xc = xd[i] - p[2];
        r[i] = (yg[i] - (p[1] * std::exp(-0.5 * xc * xc / (p[3] * p[3])) + p[0])) / 0.5;
      }
    };
    const double lower[] = {0.0, -kInf, 0.0, -kInf}, upper[] = {0.0, kInf, 0.0, kInf};
    lsq::Options opt;
    opt.lower = lower;
    opt.upper = upper;
    std::vector<double> x{0.0, 1.0, 0.0, 0.1};
    ws.resize(m, 4);
    int calls = 0;
    auto counted = [&](std::span<const double> p, std::span<double> r) {
      ++calls;
      f(p, r);
    };
    const auto s = lsq::lmdif(counted, std::span<double>(x), ws, opt);
    REQUIRE(lsq::converged(s.status));
    CHECK(s.nfev == calls);  // held columns cost no call and are not counted
    // testmpfit.log / CMPFit.jl's test: P = [0, 5.059244, 0, 0.479746],
    // errors [0, 0.329307, 0, 0.053804], CHI-SQUARE = 15.516134.
    CHECK(x[0] == 0.0);
    CHECK(x[2] == 0.0);
    CHECK(x[1] == Approx(5.059244).margin(2e-6));
    CHECK(x[3] == Approx(0.479746).margin(2e-6));
    CHECK(s.fnorm * s.fnorm == Approx(15.516134).margin(2e-6));
    CHECK(ws.pegged()[0] == -1);
    CHECK(ws.pegged()[2] == -1);
    cov.assign(16, 0.0);
    tmp.assign(16, 0.0);
    REQUIRE(lsq::covariance(ws, cov, tmp));
    CHECK(std::sqrt(cov[1 * 4 + 1]) == Approx(0.329307).margin(2e-6));
    CHECK(std::sqrt(cov[3 * 4 + 3]) == Approx(0.053804).margin(2e-6));
    CHECK(std::isnan(cov[0]));
    CHECK(std::isnan(cov[2 * 4 + 3]));
  }
}

namespace {
// Bitwise equality of two double ranges.
}  // namespace

TEST_CASE("bounds that never bind give the unbounded run's bits (106 MINPACK-1 runs)",
          "[bounds][bits]") {
  const auto& cases = minpack_cases();
  REQUIRE(cases.size() == 106);
  int loose_finite = 0;
  for (const auto& c : cases) {
    const ScipyRun& ref = c.scipy;
    INFO(ref.id);
    const int nprob = c.nprob, m = c.m, n = c.n;
    // The unbounded run, recording the box every evaluation point lies in.
    std::vector<double> lo(n, kInf), hi(n, -kInf);
    auto f = [&](std::span<const double> x, std::span<double> fvec) {
      for (int j = 0; j < n; ++j) lo[j] = std::min(lo[j], x[j]), hi[j] = std::max(hi[j], x[j]);
      ssqfcn(m, n, x.data(), fvec.data(), nprob);
    };
    auto jac = [&](std::span<const double> x, std::span<double> fjac) {
      ssqjac(m, n, x.data(), fjac.data(), nprob);
    };
    lsq::Options plain;
    plain.ftol = ref.ftol;
    plain.xtol = ref.xtol;
    plain.gtol = ref.gtol;
    plain.col_deriv = true;
    auto run = [&](const lsq::Options& opt, lsq::Workspace& ws, std::vector<double>& x) {
      x = ref.x0;
      return ref.analytic ? lsq::lmder(f, jac, std::span<double>(x), ws, opt)
                          : lsq::lmdif(f, std::span<double>(x), ws, opt);
    };
    lsq::Workspace ws0(m, n);
    std::vector<double> x0;
    const lsq::Summary s0 = run(plain, ws0, x0);

    // +-inf everywhere, and finite bounds well outside every evaluated point
    // (as far again as the point's magnitude, plus 1).
    std::vector<double> inf_lo(n, -kInf), inf_hi(n, kInf), fin_lo(n), fin_hi(n);
    bool finite = true;
    for (int j = 0; j < n; ++j) {
      fin_lo[j] = lo[j] - 1.0 - std::fabs(lo[j]);
      fin_hi[j] = hi[j] + 1.0 + std::fabs(hi[j]);
      finite = finite && std::isfinite(fin_lo[j]) && std::isfinite(fin_hi[j]);
    }
    if (!finite) fin_lo = inf_lo, fin_hi = inf_hi;  // a run through Inf/NaN
    loose_finite += finite;
    for (int variant = 0; variant < 2; ++variant) {
      INFO((variant == 0 ? "+-inf bounds" : "loose finite bounds"));
      lsq::Options opt = plain;
      opt.lower = variant == 0 ? inf_lo : fin_lo;
      opt.upper = variant == 0 ? inf_hi : fin_hi;
      lsq::Workspace ws(m, n);
      std::vector<double> x;
      const lsq::Summary s = run(opt, ws, x);
      CHECK(s.status == s0.status);
      CHECK(s.nfev == s0.nfev);
      CHECK(s.njev == s0.njev);
      CHECK(same_bits(x, x0));
      CHECK(same_bits(ws.fvec(), ws0.fvec()));
      CHECK(same_bits(ws.fjac(), ws0.fjac()));
      CHECK(same_bits(ws.qtf(), ws0.qtf()));
      CHECK(same_bits(ws.diag(), ws0.diag()));
      CHECK(std::equal(ws.ipvt().begin(), ws.ipvt().end(), ws0.ipvt().begin()));
      for (const auto p : ws.pegged()) CHECK(p == 0);
      std::vector<double> cov(n * n), cov0(n * n), tmp(n * n);
      const bool has = lsq::covariance(ws, cov, tmp), has0 = lsq::covariance(ws0, cov0, tmp);
      CHECK(has == has0);
      if (has && has0) CHECK(same_bits(cov, cov0));
    }
  }
  CHECK(loose_finite >= 100);
}

TEST_CASE("the predicted reduction of a step cut short at a limit is the linear model's",
          "[bounds][prered]") {
  // J (m x n), f; QR with pivoting, LM step p from lmpar, then s = alpha p.
  constexpr int m = 9, n = 4;
  std::mt19937_64 rng(16);
  std::normal_distribution<double> normal;
  std::vector<double> J(m * n), f(m);
  for (auto& v : J) v = normal(rng);
  for (auto& v : f) v = normal(rng);
  std::vector<double> R = J, qtb = f, rdiag(n), acnorm(n), wa(n), wa2(n), diag(n), p(n), sdiag(n),
                      w1(n), w2(n);
  std::vector<int> ipvt(n);
  lsq::minpack::qrfac(m, n, R.data(), m, true, ipvt.data(), rdiag.data(), acnorm.data(), wa.data(),
                      wa2.data(), qtb.data());
  for (int j = 0; j < n; ++j) R[j + j * m] = rdiag[j], diag[j] = acnorm[j];
  const double fnorm = lsq::minpack::enorm(f);
  double par = 0.0;
  std::vector<double> pd(n);
  for (int j = 0; j < n; ++j) pd[j] = diag[j] * 0.3;
  const double delta = 0.3 * lsq::minpack::enorm(pd);  // small: par > 0
  lsq::minpack::lmpar(n, R.data(), m, ipvt.data(), diag.data(), qtb.data(), delta, par, p.data(),
                      sdiag.data(), w1.data(), w2.data());
  for (auto& v : p) v = -v;
  REQUIRE(par > 0.0);

  auto model_reduction = [&](const std::vector<double>& s) {  // (|f|^2 - |f + J s|^2) / |f|^2
    double sum = 0.0;
    for (int i = 0; i < m; ++i) {
      double r = f[i];
      for (int j = 0; j < n; ++j) r += J[i + j * m] * s[j];
      sum += r * r;
    }
    return 1.0 - sum / (fnorm * fnorm);
  };
  double jp2 = 0.0, dp2 = 0.0;  // |J p|^2, |D p|^2 over |f|^2
  for (int i = 0; i < m; ++i) {
    double r = 0.0;
    for (int j = 0; j < n; ++j) r += J[i + j * m] * p[j];
    jp2 += r * r / (fnorm * fnorm);
  }
  for (int j = 0; j < n; ++j) dp2 += diag[j] * p[j] * diag[j] * p[j] / (fnorm * fnorm);

  for (const double alpha : {1.0, 0.5, 0.1}) {
    INFO("alpha " << alpha);
    std::vector<double> s(n);
    for (int j = 0; j < n; ++j) s[j] = alpha * p[j];
    const auto model = lsq::detail::changed_step_model(n, R.data(), m, ipvt.data(), qtb.data(),
                                                       fnorm, s.data(), w1.data());
    CHECK(model.prered == Approx(model_reduction(s)).epsilon(1e-10));
    CHECK(model.prered ==
          Approx(alpha * (2.0 - alpha) * jp2 + 2.0 * alpha * par * dp2).epsilon(1e-8));
    // MINPACK's closed form for the full step.
    if (alpha == 1.0) CHECK(model.prered == Approx(jp2 + 2.0 * par * dp2).epsilon(1e-8));
    // MPFIT's (temp1 = |R s| alpha / fnorm, temp2 = sqrt(alpha par) |D s| / fnorm)
    // is not the model's once alpha < 1.
    const double mpfit =
        alpha * alpha * alpha * alpha * jp2 + 2.0 * alpha * alpha * alpha * par * dp2;
    if (alpha < 1.0) CHECK(mpfit < 0.5 * model.prered);
  }
  // A zeroed component: the model's reduction still.
  std::vector<double> s = p;
  s[1] = 0.0;
  const auto model = lsq::detail::changed_step_model(n, R.data(), m, ipvt.data(), qtb.data(), fnorm,
                                                     s.data(), w1.data());
  CHECK(model.prered == Approx(model_reduction(s)).epsilon(1e-10));
}

TEST_CASE("covariance over the unpegged parameters at a bounded solution", "[bounds][cov]") {
  const auto& cases = bounded_cases();
  lsq::Workspace ws;
  int checked = 0;
  for (const auto& c : cases) {
    if (c.id.rfind("gauss_width", 0) != 0 && c.id.rfind("minpack_p17", 0) != 0) continue;
    INFO(c.id);
    lsq::Options opt;
    opt.ftol = opt.xtol = 1e-12;
    const Run run = solve(c, true, ws, opt);
    REQUIRE(lsq::converged(run.summary.status));
    std::vector<double> cov(c.n * c.n), tmp(c.n * c.n);
    REQUIRE(lsq::covariance(ws, cov, tmp));
    // Independent: (J_F^T J_F)^-1 from the Jacobian at the returned x.
    std::vector<double> J(static_cast<size_t>(c.m) * c.n);
    c.jacobian(run.x.data(), J.data());
    std::vector<int> free;
    for (int j = 0; j < c.n; ++j)
      if (ws.pegged()[j] == 0) free.push_back(j);
    REQUIRE(static_cast<int>(free.size()) < c.n);
    Eigen::MatrixXd JF(c.m, free.size());
    for (size_t a = 0; a < free.size(); ++a)
      for (int i = 0; i < c.m; ++i) JF(i, a) = J[i + static_cast<size_t>(free[a]) * c.m];
    const Eigen::MatrixXd inv = (JF.transpose() * JF).inverse();
    for (int a = 0; a < c.n; ++a)
      for (int b = 0; b < c.n; ++b) {
        const double v = cov[a * c.n + b];
        if (ws.pegged()[a] != 0 || ws.pegged()[b] != 0) {
          CHECK(std::isnan(v));
          continue;
        }
        const auto ia = std::find(free.begin(), free.end(), a) - free.begin();
        const auto ib = std::find(free.begin(), free.end(), b) - free.begin();
        const double want = inv(ia, ib);
        CHECK(std::fabs(v - want) <= 1e-6 * std::sqrt(inv(ia, ia) * inv(ib, ib)));
      }
    ++checked;
  }
  CHECK(checked == 3);
}

TEST_CASE("leastsq() honours the bounds", "[bounds]") {
  const auto& c = bounded_cases().front();  // Linear function, every x on its lower bound
  REQUIRE(c.kind == "minpack");
  auto f = [&](std::span<const double> p, std::span<double> r) { c.residuals(p.data(), r.data()); };
  lsq::Options opt;
  opt.lower = c.lower;
  opt.upper = c.upper;
  const auto r = lsq::leastsq(f, c.x0, c.m, nullptr, opt);
  CHECK(lsq::converged(r.status));
  for (int j = 0; j < c.n; ++j) CHECK(r.x[j] == c.lower[j]);
  // Every parameter pegged: the covariance over none of them, all NaN.
  REQUIRE(r.cov_x.has_value());
  for (const double v : *r.cov_x) CHECK(std::isnan(v));
}

TEST_CASE("bad bounds are improper input naming the parameter", "[bounds][input]") {
  auto f = [](std::span<const double> p, std::span<double> r) {
    r[0] = p[0] - 1.0, r[1] = p[1] - 2.0, r[2] = p[2] - 3.0;
  };
  lsq::Workspace ws(3, 3);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Bad {
    std::vector<double> lower, upper, x0;
    int parameter;
    const char* words;
  };
  const std::vector<Bad> bad = {
      {{0, 0}, {}, {1, 1, 1}, -1, "lower bounds must have n elements"},
      {{}, {5, 5, 5, 5}, {1, 1, 1}, -1, "upper bounds must have n elements"},
      {{0, nan, 0}, {}, {1, 1, 1}, 1, "lower bound is NaN"},
      {{}, {5, 5, nan}, {1, 1, 1}, 2, "upper bound is NaN"},
      {{0, 0, 4}, {5, 5, 3}, {1, 1, 3.5}, 2, "lower bound > upper bound"},
      {{0, 0, 0}, {5, 5, 5}, {1, 6, 1}, 1, "outside the bounds"},
      {{0, 2, 0}, {}, {1, 1, 1}, 1, "outside the bounds"},
  };
  for (const auto& b : bad) {
    INFO(b.words);
    lsq::Options opt;
    opt.lower = b.lower;
    opt.upper = b.upper;
    std::vector<double> x = b.x0;
    const auto s = lsq::lmdif(f, std::span<double>(x), ws, opt);
    CHECK(s.status == lsq::Status::improper_input);
    REQUIRE(s.improper_reason != nullptr);
    CHECK(std::string(s.improper_reason).find(b.words) != std::string::npos);
    CHECK(s.improper_parameter == b.parameter);
    CHECK(s.nfev == 0);
    CHECK(x == b.x0);
    for (const auto p : ws.pegged()) CHECK(p == 0);
    const std::string mesg = lsq::message(s, opt, 800);
    if (b.parameter >= 0)
      CHECK(mesg.find("(parameter " + std::to_string(b.parameter) + ")") != std::string::npos);
  }
  // lower == upper holds the parameter; x0 on a bound is inside.
  lsq::Options opt;
  const double lower[] = {0.0, 2.5, -kInf}, upper[] = {0.0, 2.5, 2.0};
  opt.lower = lower;
  opt.upper = upper;
  std::vector<double> x{0.0, 2.5, 2.0};
  const auto s = lsq::lmdif(f, std::span<double>(x), ws, opt);
  CHECK(lsq::converged(s.status));
  CHECK(x == std::vector<double>{0.0, 2.5, 2.0});  // optimum 3 above the upper bound 2
  CHECK(ws.pegged()[0] == -1);
  CHECK(ws.pegged()[1] == -1);
  CHECK(ws.pegged()[2] == 1);
  CHECK(opt.first_outside_bounds(std::vector<double>{0.0, 2.5, 2.0}) == -1);
  CHECK(opt.first_outside_bounds(std::vector<double>{0.0, 2.6, 2.0}) == 1);
}

TEST_CASE("a start a hair inside a bound does not end the solve at the first cut step",
          "[bounds][prered]") {
  // f = (x0 - 13, x1 - 4), x1 >= 5, from (10, 5 + 1e-9): the solution is
  // (13, 5), by hand. The first LM step (3, -1 - 1e-9) is cut at alpha ~ 1e-9.
  // Taken
  // as a finished step it would stop the solve at once: its actual and
  // predicted reductions are ~1e-9 (ftol, info 1), and a trust region
  // rebuilt from its length, 2 |D alpha p| (MPFIT's pnorm), is below
  // xtol |D x| (info 2).
  auto f = [](std::span<const double> p, std::span<double> r) {
    r[0] = p[0] - 13.0;
    r[1] = p[1] - 4.0;
  };
  auto jac = [](std::span<const double>, std::span<double> J) {
    J[0] = 1.0, J[1] = 0.0, J[2] = 0.0, J[3] = 1.0;
  };
  const double lower[] = {-kInf, 5.0};
  lsq::Options opt;
  opt.lower = lower;
  lsq::Workspace ws(2, 2);
  for (const bool analytic : {true, false}) {
    INFO((analytic ? "lmder" : "lmdif"));
    std::vector<double> x{10.0, 5.0 + 1e-9};
    const auto s = analytic ? lsq::lmder(f, jac, std::span<double>(x), ws, opt)
                            : lsq::lmdif(f, std::span<double>(x), ws, opt);
    CHECK(lsq::converged(s.status));
    CHECK(x[0] == Approx(13.0).epsilon(1e-9));
    CHECK(x[1] == 5.0);
    CHECK(ws.pegged()[1] == -1);
  }
}

TEST_CASE("covariance when the last step, not the last Jacobian, put a parameter on its limit",
          "[bounds][cov]") {
  // Linear residuals J x - b with x1 >= 5; from (10, 6, 0) the first LM step
  // (Gauss-Newton, to x1 = 2.7) is cut onto x1 = 5 and maxfev = 2 ends the
  // solve there: x1 is pegged in the returned x, but its column in R (the
  // Jacobian at the start) was not zeroed, and with the largest norm it was
  // pivoted first. The covariance of x0 and x2 must still be (J_F^T J_F)^-1.
  constexpr int m = 4, n = 3;
  const double Jr[m][n] = {{1.0, 0.0, 0.0}, {0.1, 2.0, 0.0}, {0.3, 0.0, 1.0}, {0.2, 0.5, 0.4}};
  const double xs[n] = {13.0, 2.7, 1.0};
  double b[m];
  for (int i = 0; i < m; ++i) b[i] = Jr[i][0] * xs[0] + Jr[i][1] * xs[1] + Jr[i][2] * xs[2];
  auto f = [&](std::span<const double> p, std::span<double> r) {
    for (int i = 0; i < m; ++i) r[i] = Jr[i][0] * p[0] + Jr[i][1] * p[1] + Jr[i][2] * p[2] - b[i];
  };
  auto jac = [&](std::span<const double>, std::span<double> J) {
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) J[i * n + j] = Jr[i][j];
  };
  const double lower[] = {-kInf, 5.0, -kInf};
  lsq::Options opt;
  opt.lower = lower;
  opt.maxfev = 2;
  lsq::Workspace ws(m, n);
  std::vector<double> x{10.0, 6.0, 0.0};
  const auto s = lsq::lmder(f, jac, std::span<double>(x), ws, opt);
  REQUIRE(s.status == lsq::Status::maxfev_reached);
  REQUIRE(x[1] == 5.0);
  REQUIRE(ws.pegged()[1] == -1);
  REQUIRE(ws.ipvt()[0] == 1);  // the pegged column sits first in R
  std::vector<double> cov(n * n), tmp(n * n);
  REQUIRE(lsq::covariance(ws, cov, tmp));
  Eigen::Matrix<double, m, 2> JF;
  for (int i = 0; i < m; ++i) JF(i, 0) = Jr[i][0], JF(i, 1) = Jr[i][2];
  const Eigen::Matrix2d inv = (JF.transpose() * JF).inverse();
  CHECK(cov[0 * n + 0] == Approx(inv(0, 0)).epsilon(1e-12));
  CHECK(cov[0 * n + 2] == Approx(inv(0, 1)).epsilon(1e-12));
  CHECK(cov[2 * n + 0] == Approx(inv(1, 0)).epsilon(1e-12));
  CHECK(cov[2 * n + 2] == Approx(inv(1, 1)).epsilon(1e-12));
  for (int k = 0; k < n; ++k) {
    CHECK(std::isnan(cov[1 * n + k]));
    CHECK(std::isnan(cov[k * n + 1]));
  }
}
