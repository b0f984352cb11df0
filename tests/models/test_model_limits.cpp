// The catalogue terms at the edges of floating point: where a plain formula
// meets 0 * inf or inf / inf (an exponential underflowed to 0 times a ratio
// that overflowed, a square that overflowed), the value and Jacobian are their
// limits instead of NaN; and wherever the plain formulas (the terms as they
// were written before, mirrored by tests/support/gen_model_refs.py) give a
// finite or infinite result, the terms give exactly those bits.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <limits>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "lmbatch/models/model.hpp"

using lmbatch::models::find_term;
using lmbatch::models::Term;

using lmbatch::test::same_bits;
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Evaluation {
  std::vector<double> value;     // m
  std::vector<double> jacobian;  // m x n, column-major
};

Evaluation evaluate(const std::string& name, const std::vector<double>& p,
                    const std::vector<double>& x) {
  const Term* term = find_term(name);
  REQUIRE(term != nullptr);
  const int m = static_cast<int>(x.size());
  Evaluation e;
  e.value.assign(x.size(), 0.0);
  term->accumulate(p, x, e.value);
  e.jacobian.assign(x.size() * p.size(), std::numeric_limits<double>::quiet_NaN());
  term->jacobian(p, x, e.jacobian.data(), m);
  return e;
}

double column(const Evaluation& e, std::size_t m, std::size_t k, std::size_t i) {
  return e.jacobian[k * m + i];
}

// The plain formulas, operation for operation as the terms computed them
// before their limits were added: value, then one entry per parameter.
std::vector<double> plain_gaussian(double a, double c, double s, double x) {
  const double u = (x - c) / s;
  const double e = std::exp(-0.5 * (u * u));
  const double slope = ((a * e) * u) / s;
  return {a * e, e, slope, slope * u};
}

std::vector<double> plain_lorentzian(double a, double c, double g, double x) {
  const double g2 = g * g;
  const double d = x - c;
  const double den = d * d + g2;
  const double shape = g2 / den;
  const double two_a = (2.0 * a) / den;
  return {a * (g2 / (d * d + g2)), shape, (two_a * shape) * d, ((two_a * g) * (d * d)) / den};
}

std::vector<double> plain_pseudo_voigt(double a, double c, double w, double eta, double x) {
  constexpr double k = 4.0 * std::numbers::ln2;
  const double t = (x - c) / w;
  const double t2 = t * t;
  const double gauss = std::exp(-k * t2);
  const double lorentz = 1.0 / (1.0 + 4.0 * t2);
  const double s = (8.0 * eta) * (lorentz * lorentz) + ((2.0 * k) * (1.0 - eta)) * gauss;
  const double ats = (a * t) * s;
  return {a * (eta * lorentz + (1.0 - eta) * gauss), eta * lorentz + (1.0 - eta) * gauss, ats / w,
          (ats * t) / w, a * (lorentz - gauss)};
}

std::vector<double> plain_exponential(double a, double tau, double x) {
  const double u = x / tau;
  const double e = std::exp(-u);
  return {a * std::exp(-(x / tau)), e, ((a * e) * u) / tau};
}

// Magnitudes from subnormal to near overflow, both signs and both zeros.
std::vector<double> extreme_values() {
  std::vector<double> v = {0.0, -0.0};
  for (const double magnitude :
       {5e-324, 1e-310, 1e-300, 1e-200, 1e-170, 1e-155, 1e-100, 1e-20, 1e-3,  0.37,   1.0,
        2.5,    40.0,   1e3,    1e20,   1e100,  1e155,  1e170,  1e200, 1e300, 1.7e308}) {
    v.push_back(magnitude);
    v.push_back(-magnitude);
  }
  return v;
}

// Terms are checked against `plain` at every combination of extreme values:
// the same bits wherever plain is not NaN; never NaN where plain is finite.
// Returns how many plain NaNs the term turned into numbers.
template <class Plain>
int compare_with_plain(const std::string& name, const std::vector<std::vector<double>>& points,
                       Plain plain) {
  int repaired = 0;
  for (const auto& point : points) {
    const std::vector<double> p(point.begin(), point.end() - 1);
    const double x = point.back();
    const Evaluation e = evaluate(name, p, {x});
    std::vector<double> expected = plain(point);
    expected[0] = 0.0 + expected[0];  // accumulated into 0 (+0 + -0 is +0)
    std::vector<double> got = {e.value[0]};
    got.insert(got.end(), e.jacobian.begin(), e.jacobian.end());
    REQUIRE(got.size() == expected.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      if (std::isnan(expected[k])) {
        repaired += !std::isnan(got[k]);
        continue;
      }
      if (!same_bits(got[k], expected[k])) {
        std::ostringstream where;
        where << name << " at" << std::setprecision(17);
        for (const double v : point) where << ' ' << v;
        FAIL_CHECK(where.str() << ", output " << k << ": " << got[k] << " != plain "
                               << expected[k]);
      }
    }
  }
  return repaired;
}

}  // namespace

TEST_CASE("gaussian: sigma collapsed, exponential underflowed: Jacobian 0, not 0*inf",
          "[models][limits]") {
  // u = (x - center)/sigma overflows to inf away from the center, exp(-u^2/2)
  // underflows to 0: the plain d/dcenter = (A e u)/sigma is 0 * inf = NaN.
  const std::vector<double> x = {-1.0, 0.0, 1.0, 3.0};
  for (const double sigma : {1e-310, -1e-310, 5e-324, 0.0}) {
    INFO("sigma " << sigma);
    const Evaluation e = evaluate("gaussian", {2.0, 0.0, sigma}, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      INFO("x " << x[i]);
      if (x[i] == 0.0 && sigma == 0.0) continue;  // 0/0 at the center: no limit
      CHECK(e.value[i] == (x[i] == 0.0 ? 2.0 : 0.0));
      CHECK(column(e, x.size(), 0, i) == (x[i] == 0.0 ? 1.0 : 0.0));
      CHECK(column(e, x.size(), 1, i) == 0.0);
      CHECK(column(e, x.size(), 2, i) == 0.0);
    }
  }
}

TEST_CASE("pseudo_voigt: fwhm collapsed or A*t overflowing: Jacobian 0, not 0*inf",
          "[models][limits]") {
  const std::vector<double> x = {-1.0, 1.0, 3.0};
  for (const auto& p : std::vector<std::vector<double>>{
           {2.0, 0.0, 1e-310, 0.5}, {2.0, 0.0, 0.0, 0.3}, {1e200, 0.0, 1e-200, 0.5}}) {
    INFO("amplitude " << p[0] << " fwhm " << p[2]);
    const Evaluation e = evaluate("pseudo_voigt", p, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(e.value[i] == 0.0);
      for (std::size_t k = 0; k < 4; ++k) CHECK(column(e, x.size(), k, i) == 0.0);
    }
  }
}

TEST_CASE("exponential: tau collapsed, or A = 0 under an overflowing exp: 0, not 0*inf",
          "[models][limits]") {
  // tau -> 0+: x/tau = inf, e = 0, d/dtau = (A e u)/tau = 0 * inf.
  const std::vector<double> x = {1.0, 2.0};
  for (const double tau : {1e-310, 5e-324, 0.0}) {
    INFO("tau " << tau);
    const Evaluation e = evaluate("exponential", {2.0, tau}, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(e.value[i] == 0.0);
      CHECK(column(e, x.size(), 0, i) == 0.0);
      CHECK(column(e, x.size(), 1, i) == 0.0);
    }
  }
  // A = 0 where exp(-x/tau) overflows: the term is 0 (0 * inf in the plain
  // value) and flat in tau; d/dA = exp(-x/tau) = inf is the true derivative.
  const Evaluation e = evaluate("exponential", {0.0, 1.0}, {-800.0});
  CHECK(e.value[0] == 0.0);
  CHECK(e.jacobian[0] == kInf);
  CHECK(e.jacobian[1] == 0.0);
}

TEST_CASE("lorentzian: squares overflowing or underflowing: limits, not inf/inf or 0/0",
          "[models][limits]") {
  SECTION("|x - center| beyond 1.3e154: d/dgamma is (0 * inf)/inf in the plain formula") {
    const Evaluation e = evaluate("lorentzian", {2.0, 0.0, 1.0}, {1e155, -1e170});
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(e.value[i] == 0.0);
      CHECK(column(e, 2, 0, i) == 0.0);
      CHECK(column(e, 2, 1, i) == 0.0);
    }
    // 2 A gamma d^2/den^2 -> 2 A gamma/d^2: 4e-310 (a subnormal), then 0.
    CHECK(column(e, 2, 2, 0) == Approx(4e-310).epsilon(1e-10));
    CHECK(column(e, 2, 2, 1) == 0.0);
  }
  SECTION("gamma beyond 1.3e154: gamma^2/(d^2 + gamma^2) is inf/inf") {
    const Evaluation e = evaluate("lorentzian", {2.0, 0.0, 1e155}, {1.0});
    CHECK(e.value[0] == 2.0);
    CHECK(e.jacobian[0] == 1.0);
    // 2 A gamma^2 d / den^2 = 2 A d / gamma^2 (1 + r^2)^-2 = 4e-310.
    CHECK(e.jacobian[1] == Approx(4e-310).epsilon(1e-12));
    CHECK(e.jacobian[2] == 0.0);  // 2 A d^2/gamma^3: below the smallest double
  }
  SECTION("gamma and x - center below 1e-162: both squares 0, 0/0 in the plain formula") {
    const double gamma = 1e-170;
    const Evaluation e = evaluate("lorentzian", {2.0, 0.0, gamma}, {0.0, gamma});
    CHECK(e.value[0] == 2.0);
    CHECK(e.value[1] == 1.0);
    CHECK(e.jacobian[0] == 1.0);
    CHECK(e.jacobian[1] == 0.5);
    // At x - center = gamma: d/dcenter = d/dgamma = A/(2 gamma) = 1e170.
    CHECK(e.jacobian[2] == 0.0);
    CHECK(e.jacobian[3] == Approx(1e170).epsilon(1e-12));
    CHECK(e.jacobian[4] == 0.0);
    CHECK(e.jacobian[5] == Approx(1e170).epsilon(1e-12));
  }
  SECTION("gamma = 0 away from the center: a line of zero width is 0 and flat") {
    const Evaluation e = evaluate("lorentzian", {2.0, 0.0, 0.0}, {1e-170, 3.0});
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(e.value[i] == 0.0);
      for (std::size_t k = 0; k < 3; ++k) CHECK(column(e, 2, k, i) == 0.0);
    }
  }
}

TEST_CASE("the limits change only NaNs: every other result keeps the plain formula's bits",
          "[models][limits]") {
  const std::vector<double> v = extreme_values();
  std::vector<std::vector<double>> three, four, two;  // parameters..., x
  for (const double a : {2.0, -0.5, 0.0, 1e300})
    for (const double c : {0.0, 1.0, -1e200})
      for (const double w : v)
        for (const double x : v) {
          three.push_back({a, c, w, x});
          for (const double eta : {0.0, 0.5, 1.0, -0.25}) four.push_back({a, c, w, eta, x});
        }
  for (const double a : v)
    for (const double tau : v)
      for (const double x : v) two.push_back({a, tau, x});

  const int gaussian = compare_with_plain("gaussian", three, [](const std::vector<double>& q) {
    return plain_gaussian(q[0], q[1], q[2], q[3]);
  });
  const int lorentzian = compare_with_plain("lorentzian", three, [](const std::vector<double>& q) {
    return plain_lorentzian(q[0], q[1], q[2], q[3]);
  });
  const int pseudo_voigt =
      compare_with_plain("pseudo_voigt", four, [](const std::vector<double>& q) {
        return plain_pseudo_voigt(q[0], q[1], q[2], q[3], q[4]);
      });
  const int exponential = compare_with_plain("exponential", two, [](const std::vector<double>& q) {
    return plain_exponential(q[0], q[1], q[2]);
  });
  // The sweep does reach the plain formulas' NaNs (else it would prove nothing).
  CHECK(gaussian > 0);
  CHECK(lorentzian > 0);
  CHECK(pseudo_voigt > 0);
  CHECK(exponential > 0);
}

TEST_CASE("no catalogue term gives NaN for finite parameters and x, except without a limit",
          "[models][limits]") {
  // The only NaNs left: a width (sigma, gamma, fwhm) or tau of exactly 0 at
  // x == center (x == 0 for the exponential), where the term has no limit.
  const std::vector<double> v = extreme_values();
  for (const Term& term : lmbatch::models::catalogue()) {
    const std::size_t n = term.parameters.size();
    const std::string name(term.name);
    const bool peak = name == "gaussian" || name == "lorentzian" || name == "pseudo_voigt";
    // Each parameter in turn sweeps the extremes, the others at ordinary values.
    for (std::size_t k = 0; k < n; ++k)
      for (const double pk : v)
        for (const double x : v) {
          std::vector<double> p(n, 1.5);
          if (peak) p[1] = 0.25;
          p[k] = pk;
          // pseudo_voigt's eta beyond ~2e307 (a mixing fraction, meant to lie
          // in [0, 1]) overflows 8*eta and (1-eta) to inf - inf: not a limit
          // of the shape, and left alone.
          if (name == "pseudo_voigt" && k == 3 && std::fabs(pk) > 1e307) continue;
          const Evaluation e = evaluate(name, p, {x});
          const bool no_limit = (peak && p[2] == 0.0 && x == p[1]) ||
                                (name == "exponential" && p[1] == 0.0 && x == 0.0);
          if (no_limit) continue;
          INFO(name << " parameter " << k << " = " << pk << ", x = " << x);
          CHECK_FALSE(std::isnan(e.value[0]));
          for (const double j : e.jacobian) CHECK_FALSE(std::isnan(j));
        }
  }
}
