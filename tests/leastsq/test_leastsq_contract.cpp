// scipy.optimize.leastsq's contract: the seed example, options that change
// MINPACK's path (compared with scipy runs), col_deriv, maxfev defaults,
// improper input, non-finite values and user stops.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmbatch/leastsq/leastsq.hpp"
#include "support/check.hpp"

namespace lsq = lmbatch::leastsq;
using lmbatch::test::max_relative_difference;
using Span = std::span<const double>;
using Out = std::span<double>;

namespace {

// The problems of tests/support/gen_property_refs.py, with the same operations
// in the same order.
struct Decay {
  std::vector<double> t, y;
  Decay() {
    for (int i = 0; i < 30; ++i) {
      const double ti = 0.1 * i;
      t.push_back(ti);
      y.push_back(3.0 * std::exp(-0.7 * ti) + 0.5 + 0.01 * std::sin(static_cast<double>(i)));
    }
  }
  int m() const { return static_cast<int>(t.size()); }
  void f(Span p, Out r) const {
    for (size_t i = 0; i < t.size(); ++i) r[i] = y[i] - (p[0] * std::exp(-p[1] * t[i]) + p[2]);
  }
  void jac_rows(Span p, Out J) const {
    for (size_t i = 0; i < t.size(); ++i) {
      J[i * 3 + 0] = -std::exp(-p[1] * t[i]);
      J[i * 3 + 1] = p[0] * t[i] * std::exp(-p[1] * t[i]);
      J[i * 3 + 2] = -1.0;
    }
  }
};

void rosenbrock(Span p, Out r) {
  r[0] = 10.0 * (p[1] - p[0] * p[0]);
  r[1] = 1.0 - p[0];
}
void rosenbrock_jac_rows(Span p, Out J) {
  J[0] = -20.0 * p[0];
  J[1] = 10.0;
  J[2] = -1.0;
  J[3] = 0.0;
}

// Row-major m x n Jacobian -> column-major (what a col_deriv Dfun returns).
lsq::ResidualFunction transposed(lsq::ResidualFunction rows, int m, int n) {
  return [rows, m, n](Span p, Out J) {
    std::vector<double> tmp(static_cast<size_t>(m) * n);
    rows(p, tmp);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) J[i + static_cast<size_t>(j) * m] = tmp[i * n + j];
  };
}

nlohmann::json property_refs() {
  std::ifstream in(std::string(LMBATCH_TEST_DATA) + "/properties/scipy_options.json");
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("the seed example 2*(x-3)**2 + 1 from x0 = 0 gives scipy's x, ier and nfev",
          "[leastsq]") {
  auto func = [](Span x, Out f) { f[0] = 2.0 * (x[0] - 3.0) * (x[0] - 3.0) + 1.0; };
  const double x0[] = {0.0};
  const auto r = lsq::leastsq(func, x0, 1);
  // scipy 1.10.1: leastsq(lambda x: 2*(x-3)**2+1, 0, full_output=True)
  CHECK(r.x[0] == 2.99999999307631);
  CHECK(r.ier == 1);
  CHECK(r.nfev == 21);
  CHECK_FALSE(r.njev.has_value());
  CHECK(r.mesg ==
        "Both actual and predicted relative reductions in the sum of squares\n  are at most "
        "0.000000");
  REQUIRE(r.cov_x.has_value());
  CHECK(r.ipvt == std::vector<int>{1});
}

TEST_CASE("options change MINPACK's path exactly as they change scipy's", "[leastsq][options]") {
  const auto refs = property_refs();
  const Decay decay;
  int compared = 0;
  for (const auto& run : refs.at("runs")) {
    const std::string problem = run.at("problem"), method = run.at("method");
    const auto& o = run.at("options");
    lsq::Options opt;
    std::vector<double> diag;
    if (o.contains("factor")) opt.factor = o.at("factor");
    if (o.contains("epsfcn")) opt.epsfcn = o.at("epsfcn");
    if (o.contains("maxfev")) opt.maxfev = o.at("maxfev");
    if (o.contains("gtol")) opt.gtol = o.at("gtol");
    if (o.contains("xtol")) opt.xtol = o.at("xtol");
    if (o.contains("ftol")) opt.ftol = o.at("ftol");
    if (o.contains("diag")) diag = o.at("diag").get<std::vector<double>>();
    opt.diag = diag;
    opt.col_deriv = method == "an_col";

    lsq::ResidualFunction f, jac;
    int m = 0;
    if (problem == "decay") {
      m = decay.m();
      f = [&decay](Span p, Out r) { decay.f(p, r); };
      jac = [&decay](Span p, Out J) { decay.jac_rows(p, J); };
    } else {
      m = 2;
      f = rosenbrock;
      jac = rosenbrock_jac_rows;
    }
    const auto x0 = run.at("x0").get<std::vector<double>>();
    const int n = static_cast<int>(x0.size());
    if (method == "fd") jac = nullptr;
    if (method == "an_col") jac = transposed(jac, m, n);

    const auto r = lsq::leastsq(f, x0, m, jac, opt);
    INFO(problem << " " << method << " " << o.dump());
    CHECK(r.ier == run.at("ier").get<int>());
    CHECK(r.nfev == run.at("nfev").get<int>());
    if (method != "fd") CHECK(r.njev.value() == run.at("njev").get<int>());
    CHECK(r.mesg == run.at("mesg").get<std::string>());
    CHECK(max_relative_difference(r.x, run.at("x").get<std::vector<double>>()) <= 1e-12);
    if (run.at("cov_x").is_null()) {
      CHECK_FALSE(r.cov_x.has_value());
    } else {
      REQUIRE(r.cov_x.has_value());
      std::vector<double> expected;
      for (const auto& row : run.at("cov_x"))
        for (const auto& v : row) expected.push_back(v);
      CHECK(max_relative_difference(*r.cov_x, expected, 1e-200) <= 1e-9);
    }
    ++compared;
  }
  CHECK(compared == 62);
}

TEST_CASE("col_deriv = true takes the Jacobian column-major and gives the same bits",
          "[leastsq][options]") {
  const Decay decay;
  const int m = decay.m(), n = 3;
  std::vector<double> x_rows{1.0, 1.0, 0.0}, x_cols = x_rows;
  lsq::Workspace ws(m, n);
  auto f = [&](Span p, Out r) { decay.f(p, r); };
  auto jac_rows = [&](Span p, Out J) { decay.jac_rows(p, J); };
  const auto s_rows = lsq::lmder(f, jac_rows, std::span<double>(x_rows), ws);
  const std::vector<double> fjac_rows(ws.fjac().begin(), ws.fjac().end());

  lsq::Options col;
  col.col_deriv = true;
  const auto jac_cols = transposed(jac_rows, m, n);
  const auto s_cols = lsq::lmder(f, jac_cols, std::span<double>(x_cols), ws, col);
  CHECK(x_rows == x_cols);
  CHECK(s_rows.nfev == s_cols.nfev);
  CHECK(s_rows.njev == s_cols.njev);
  CHECK(std::vector<double>(ws.fjac().begin(), ws.fjac().end()) == fjac_rows);
}

TEST_CASE("maxfev = 0 (or negative) means 200*(n+1) without and 100*(n+1) with a Jacobian",
          "[leastsq][options]") {
  // exp(-x) has no minimiser: every Gauss-Newton step moves x by 1 and reduces
  // the sum of squares by a constant fraction, so only maxfev stops it.
  auto f = [](Span x, Out r) { r[0] = std::exp(-x[0]); };
  auto jac = [](Span x, Out J) { J[0] = -std::exp(-x[0]); };
  lsq::Options opt;
  opt.ftol = opt.xtol = 0.0;
  for (const int maxfev : {0, -3}) {
    opt.maxfev = maxfev;
    const double x0[] = {0.0};
    const auto fd = lsq::leastsq(f, x0, 1, nullptr, opt);
    CHECK(fd.ier == 5);
    CHECK(fd.nfev >= 400);
    CHECK(fd.nfev <= 401);
    CHECK(fd.mesg == "Number of calls to function has reached maxfev = 400.");
    const auto an = lsq::leastsq(f, x0, 1, jac, opt);
    CHECK(an.ier == 5);
    CHECK(an.nfev == 200);
    CHECK(an.mesg == "Number of calls to function has reached maxfev = 200.");
  }
  opt.maxfev = 10;
  const double x0[] = {0.0};
  CHECK(lsq::leastsq(f, x0, 1, jac, opt).nfev == 10);
}

TEST_CASE("every improper input gives ier 0, no evaluation and scipy's message", "[leastsq]") {
  int calls = 0;
  auto f = [&calls](Span x, Out r) {
    ++calls;
    for (size_t i = 0; i < r.size(); ++i) r[i] = x[0] - static_cast<double>(i);
  };
  const double x2[] = {1.0, 2.0};
  const double x1[] = {1.0};
  const double zero_diag[] = {1.0, 0.0};
  const double short_diag[] = {1.0};
  const double nan = std::numeric_limits<double>::quiet_NaN();

  struct Case {
    const char* what;
    std::span<const double> x0;
    int m;
    lsq::Options opt;
  };
  std::vector<Case> cases;
  auto with = [](auto change) {
    lsq::Options o;
    change(o);
    return o;
  };
  cases.push_back({"n = 0", {}, 3, {}});
  cases.push_back({"m < n", x2, 1, {}});
  cases.push_back({"ftol < 0", x1, 3, with([](auto& o) { o.ftol = -1e-8; })});
  cases.push_back({"xtol < 0", x1, 3, with([](auto& o) { o.xtol = -1e-8; })});
  cases.push_back({"gtol < 0", x1, 3, with([](auto& o) { o.gtol = -1.0; })});
  cases.push_back({"factor = 0", x1, 3, with([](auto& o) { o.factor = 0.0; })});
  cases.push_back({"factor < 0", x1, 3, with([](auto& o) { o.factor = -100.0; })});
  cases.push_back({"ftol NaN", x1, 3, with([nan](auto& o) { o.ftol = nan; })});
  cases.push_back({"diag with a zero", x2, 3, with([&](auto& o) { o.diag = zero_diag; })});
  cases.push_back({"diag of wrong length", x2, 3, with([&](auto& o) { o.diag = short_diag; })});
  for (const auto& c : cases) {
    INFO(c.what);
    calls = 0;
    const auto r = lsq::leastsq(f, c.x0, c.m, nullptr, c.opt);
    CHECK(r.ier == 0);
    CHECK(r.status == lsq::Status::improper_input);
    CHECK(r.mesg == "Improper input parameters.");
    CHECK(r.nfev == 0);
    CHECK(calls == 0);
    CHECK_FALSE(r.cov_x.has_value());
    CHECK(c.opt.validate(c.m, static_cast<int>(c.x0.size())) != nullptr);
  }
  CHECK(lsq::Options{}.validate(3, 1) == nullptr);
}

TEST_CASE("NaN or Inf residuals at x0 end the solve with status non_finite", "[leastsq]") {
  for (const double bad :
       {std::numeric_limits<double>::quiet_NaN(), double(INFINITY), -double(INFINITY)}) {
    auto f = [bad](Span x, Out r) {
      r[0] = x[0];
      r[1] = bad;
    };
    const double x0[] = {1.0};
    const auto r = lsq::leastsq(f, x0, 2);
    CHECK(r.ier == -2);
    CHECK(r.status == lsq::Status::non_finite);
    CHECK(r.nfev == 1);
    CHECK_FALSE(r.cov_x.has_value());
    // No Jacobian was formed: no fjac, ipvt or qtf to report.
    CHECK(r.fvec.size() == 2);
    CHECK(r.fjac.size() == 2);
    CHECK(std::all_of(r.fjac.begin(), r.fjac.end(), [](double v) { return std::isnan(v); }));
    CHECK(r.ipvt == std::vector<int>{0});
    CHECK(std::isnan(r.qtf.at(0)));
  }
  // A reused workspace says whether its arrays are this solve's.
  lsq::Workspace ws(2, 1);
  auto good = [](Span x, Out r) {
    r[0] = x[0] - 1.0;
    r[1] = x[0] + 1.0;
  };
  auto bad = [](Span x, Out r) {
    r[0] = x[0];
    r[1] = std::numeric_limits<double>::quiet_NaN();
  };
  CHECK_FALSE(ws.factored());
  double x[] = {3.0};
  lsq::lmdif(good, std::span<double>(x), ws);
  CHECK(ws.factored());
  lsq::lmdif(bad, std::span<double>(x), ws);
  CHECK_FALSE(ws.factored());
}

TEST_CASE("a NaN Jacobian ends the solve with status non_finite at the last good x", "[leastsq]") {
  auto f = [](Span x, Out r) {
    r[0] = x[0] - 1.0;
    r[1] = x[0] + 1.0;
  };
  auto jac = [](Span, Out J) {
    J[0] = 1.0;
    J[1] = std::numeric_limits<double>::quiet_NaN();
  };
  const double x0[] = {5.0};
  const auto r = lsq::leastsq(f, x0, 2, jac);
  CHECK(r.ier == -2);
  CHECK(*r.njev == 1);
  CHECK(r.x[0] == 5.0);
  // Forward differences through a function that is NaN just right of x0.
  auto cliff = [](Span x, Out r) {
    r[0] = x[0] > 5.0 ? std::numeric_limits<double>::quiet_NaN() : x[0];
    r[1] = 1.0;
  };
  const auto fd = lsq::leastsq(cliff, x0, 2);
  CHECK(fd.ier == -2);
  CHECK(fd.nfev == 2);
  CHECK(fd.x[0] == 5.0);
}

TEST_CASE("the non_finite message says where: residuals or Jacobian, x0 or a later iterate",
          "[leastsq]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double x0[] = {5.0};
  auto line = [](Span x, Out r) {
    r[0] = x[0] - 1.0;
    r[1] = x[0] + 1.0;
  };
  SECTION("residuals at x0") {
    auto f = [nan](Span, Out r) { r[0] = nan, r[1] = 1.0; };
    const auto r = lsq::leastsq(f, x0, 2);
    CHECK(r.mesg == "The residuals at the starting point are not finite (NaN or Inf).");
  }
  SECTION("the Jacobian at x0, analytic or by forward differences") {
    auto jac = [nan](Span, Out J) { J[0] = 1.0, J[1] = nan; };
    const auto analytic = lsq::leastsq(line, x0, 2, jac);
    CHECK(analytic.mesg == "The Jacobian at the starting point is not finite (NaN or Inf).");
    auto cliff = [nan](Span x, Out r) {
      r[0] = x[0] > 5.0 ? nan : x[0];
      r[1] = 1.0;
    };
    const auto forward = lsq::leastsq(cliff, x0, 2);
    CHECK(forward.mesg == analytic.mesg);
  }
  SECTION("the Jacobian at a later, finite iterate: x0 is not blamed") {
    // Finite at x0 only: the first step is taken, its Jacobian is NaN.
    auto jac = [nan](Span x, Out J) {
      J[0] = 1.0;
      J[1] = x[0] == 5.0 ? 1.0 : nan;
    };
    const auto r = lsq::leastsq(line, x0, 2, jac);
    CHECK(r.ier == -2);
    CHECK(*r.njev == 2);
    CHECK(r.x[0] != 5.0);
    CHECK(std::isfinite(r.x[0]));
    CHECK(r.mesg ==
          "The Jacobian at an iterate after the starting point is not finite (NaN or Inf).");
  }
  SECTION("an iterate whose residuals are NaN too (MINPACK took a NaN step to it)") {
    lsq::Summary s;
    s.status = lsq::Status::non_finite;
    s.non_finite_at = lsq::NonFiniteAt::iterate_jacobian;
    s.fnorm = nan;
    const std::string mesg = lsq::message(s, {}, 400);
    CHECK(mesg.find("The residuals and the Jacobian at an iterate after the starting point") == 0);
    CHECK(mesg.find("NaN") != std::string::npos);
  }
  SECTION("every other status: scipy's texts, unchanged") {
    for (int code = 0; code <= 8; ++code) {
      lsq::Summary s;
      s.status = static_cast<lsq::Status>(code);
      CHECK(lsq::message(s, {}, 400) == lsq::message(s.status, {}, 400));
    }
  }
}

TEST_CASE("NaN residuals at a trial point are rejected steps, as in MINPACK: no hang",
          "[leastsq]") {
  // sqrt(x) - 2 with its minimum at x = 4; steps to x < 0 give NaN and MINPACK
  // treats them as unsuccessful, shrinking the trust region.
  auto f = [](Span x, Out r) { r[0] = std::sqrt(x[0]) - 2.0; };
  auto jac = [](Span x, Out J) { J[0] = 0.5 / std::sqrt(x[0]); };
  const double x0[] = {100.0};
  const auto r = lsq::leastsq(f, x0, 1, jac);
  CHECK(lsq::converged(r.status));
  CHECK(r.x[0] == Approx(4.0).epsilon(1e-8));
}

TEST_CASE("a functor that returns false or a negative int stops the solve", "[leastsq]") {
  lsq::Workspace ws(2, 1);
  std::vector<double> x{3.0};
  int calls = 0;
  auto stop_on_third = [&calls](Span p, Out r) {
    r[0] = p[0] * p[0] - 2.0;
    r[1] = p[0];
    return ++calls < 3;
  };
  auto s = lsq::lmdif(stop_on_third, std::span<double>(x), ws);
  CHECK(s.status == lsq::Status::stopped_by_function);
  CHECK(lsq::ier(s.status) == -1);
  CHECK(calls == 3);

  x = {3.0};
  auto f = [](Span p, Out r) {
    r[0] = p[0] * p[0] - 2.0;
    r[1] = p[0];
  };
  auto jac_stop = [](Span, Out) { return -1; };
  s = lsq::lmder(f, jac_stop, std::span<double>(x), ws);
  CHECK(s.status == lsq::Status::stopped_by_function);
  CHECK(s.njev == 1);
  CHECK(s.nfev == 1);
}

TEST_CASE("a workspace is reused across solves of different sizes with identical results",
          "[leastsq]") {
  const Decay decay;
  auto f = [&](Span p, Out r) { decay.f(p, r); };
  std::vector<double> a{1.0, 1.0, 0.0}, b = a, c{-1.2, 1.0};
  lsq::Workspace fresh(decay.m(), 3), reused(decay.m(), 3);
  const auto sa = lsq::lmdif(f, std::span<double>(a), fresh);
  lsq::Workspace small(2, 2);
  lsq::lmdif(rosenbrock, std::span<double>(c), small);
  reused.resize(2, 2);
  std::vector<double> d{-1.2, 1.0};
  lsq::lmdif(rosenbrock, std::span<double>(d), reused);
  CHECK(c == d);
  reused.resize(decay.m(), 3);
  const auto sb = lsq::lmdif(f, std::span<double>(b), reused);
  CHECK(a == b);
  CHECK(sa.nfev == sb.nfev);
}

TEST_CASE("messages for the tolerance-too-small codes use scipy's words", "[leastsq]") {
  lsq::Options o;
  o.ftol = 1e-3;
  CHECK(lsq::message(lsq::Status::ftol_too_small, o, 0) ==
        "ftol=0.001000 is too small, no further reduction in the sum of squares\n  is possible.");
  CHECK(lsq::message(lsq::Status::xtol_too_small, o, 0) ==
        "xtol=0.000000 is too small, no further improvement in the approximate\n  solution is "
        "possible.");
  CHECK(lsq::message(lsq::Status::gtol_too_small, o, 0) ==
        "gtol=0.000000 is too small, func(x) is orthogonal to the columns of\n  the Jacobian to "
        "machine precision.");
  CHECK(lsq::message(lsq::Status::ftol_and_xtol, o, 0) ==
        "Both actual and predicted relative reductions in the sum of squares\n  are at most "
        "0.001000 and the relative error between two consecutive iterates is at \n  most "
        "0.000000");
}

TEST_CASE("a copied Workspace holds its own arrays", "[contract]") {
  lmbatch::leastsq::Workspace ws(8, 2);
  auto f = [](std::span<const double> x, std::span<double> r) {
    for (size_t i = 0; i < r.size(); ++i) r[i] = x[0] * static_cast<double>(i) + x[1] - 1.0;
  };
  std::vector<double> x{0.5, 0.5};
  lmbatch::leastsq::lmdif(f, x, ws);
  lmbatch::leastsq::Workspace copy(ws);
  // Same values, different storage.
  REQUIRE(copy.fvec().size() == ws.fvec().size());
  CHECK(std::equal(copy.fvec().begin(), copy.fvec().end(), ws.fvec().begin()));
  CHECK(std::equal(copy.fjac().begin(), copy.fjac().end(), ws.fjac().begin()));
  CHECK(copy.fvec().data() != ws.fvec().data());
  CHECK(copy.fjac().data() != ws.fjac().data());
  // A solve in the original leaves the copy as it was.
  const std::vector<double> kept(copy.fjac().begin(), copy.fjac().end());
  std::vector<double> x2{3.0, -2.0};
  lmbatch::leastsq::lmdif(f, x2, ws);
  CHECK(std::equal(kept.begin(), kept.end(), copy.fjac().begin()));
}
