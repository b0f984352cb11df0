// Every term's analytic Jacobian against central finite differences of its own
// values, at several parameter points; a composite's value and Jacobian are
// its terms' side by side.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"

using lmbatch::models::catalogue;
using lmbatch::models::Model;
using lmbatch::models::Term;

namespace {

std::vector<double> grid(double start, double step, int count) {
  std::vector<double> x(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) x[static_cast<size_t>(i)] = start + step * i;
  return x;
}

std::vector<double> term_values(const Term& term, const std::vector<double>& p,
                                const std::vector<double>& x) {
  std::vector<double> f(x.size(), 0.0);
  term.accumulate(p, x, f);
  return f;
}

// Parameter points per term: typical, negative amplitude or coefficients,
// narrow and wide shapes, and for pseudo_voigt both ends of eta.
const std::map<std::string, std::vector<std::vector<double>>>& parameter_points() {
  static const std::map<std::string, std::vector<std::vector<double>>> points = {
      {"gaussian", {{3.0, 0.5, 1.2}, {-2.0, -1.0, 0.4}, {0.7, 2.0, 3.5}}},
      {"lorentzian", {{2.0, 0.3, 0.8}, {-1.5, -2.0, 0.3}, {0.4, 1.0, 4.0}}},
      {"pseudo_voigt",
       {{5.0, 0.0, 2.0, 0.4}, {-1.0, 1.5, 0.7, 0.0}, {2.0, -1.0, 3.0, 1.0}, {1.0, 0.5, 1.0, 1.3}}},
      {"exponential", {{4.0, 1.3}, {-2.0, 0.4}, {0.5, 6.0}}},
      {"constant", {{2.5}, {-0.3}}},
      {"linear", {{1.5, -0.7}, {-2.0, 3.0}}},
      {"poly2", {{1.0, -0.5, 0.75}, {-2.0, 0.1, -1.0}}},
      {"poly3", {{0.5, 1.25, -0.4, 0.3}, {-1.0, 0.0, 2.0, -0.5}}},
      {"poly4", {{-1.0, 0.5, 0.8, -0.2, 0.1}, {0.3, -0.3, 0.3, -0.3, 0.3}}},
      {"poly5", {{0.3, -1.2, 0.5, 0.6, -0.15, 0.04}, {1.0, 1.0, 1.0, 1.0, 1.0, 1.0}}},
  };
  return points;
}

}  // namespace

TEST_CASE("every catalogue term has parameter points to test", "[models][jacobian]") {
  for (const Term& term : catalogue()) {
    INFO(term.name);
    const auto it = parameter_points().find(std::string(term.name));
    REQUIRE(it != parameter_points().end());
    for (const auto& p : it->second) CHECK(p.size() == term.parameters.size());
  }
}

TEST_CASE("analytic Jacobians agree with central differences", "[models][jacobian]") {
  // Samples over [-3, 3.25] (x = 0 included), so every shape is seen on both
  // sides of its center and the exponential grows and decays.
  const std::vector<double> x = grid(-3.0, 0.25, 26);
  const int m = static_cast<int>(x.size());
  for (const Term& term : catalogue()) {
    for (const auto& p : parameter_points().at(std::string(term.name))) {
      const int n = static_cast<int>(p.size());
      std::vector<double> jac(static_cast<size_t>(m) * n, NAN);
      term.jacobian(p, x, jac.data(), m);
      for (int k = 0; k < n; ++k) {
        // Step ~ eps^(1/3) * scale: truncation and rounding errors both ~1e-10.
        const double h = 1e-5 * std::max(1.0, std::fabs(p[static_cast<size_t>(k)]));
        std::vector<double> up = p, down = p;
        up[static_cast<size_t>(k)] += h;
        down[static_cast<size_t>(k)] -= h;
        const auto f_up = term_values(term, up, x);
        const auto f_down = term_values(term, down, x);
        double column_scale = 1.0;
        for (int i = 0; i < m; ++i)
          column_scale = std::max(column_scale, std::fabs(jac[static_cast<size_t>(i + k * m)]));
        for (int i = 0; i < m; ++i) {
          const double fd = (f_up[static_cast<size_t>(i)] - f_down[static_cast<size_t>(i)]) /
                            (up[static_cast<size_t>(k)] - down[static_cast<size_t>(k)]);
          const double analytic = jac[static_cast<size_t>(i + k * m)];
          INFO(term.name << " parameter " << term.parameters[static_cast<size_t>(k)] << " at x = "
                         << x[static_cast<size_t>(i)] << " (point starting " << p[0] << ")");
          CHECK(std::isfinite(analytic));
          CHECK(std::fabs(analytic - fd) <= 1e-7 * column_scale);
        }
      }
    }
  }
}

TEST_CASE("a composite's value is the sum of its terms and its Jacobian their columns",
          "[models][composite]") {
  const std::vector<double> x = grid(-1.0, 0.5, 15);
  const size_t m = x.size();
  struct Case {
    const char* spec;
    std::vector<double> p;
  };
  const std::vector<Case> cases = {
      {"gaussian+constant", {3.0, 1.0, 0.8, 0.7}},
      {"gaussian*3+linear", {3.0, 0.5, 0.4, 2.0, 2.0, 0.6, 1.5, 4.0, 0.5, 0.5, 0.1}},
      {"exponential*2+constant", {2.0, 0.4, 1.0, 2.5, 0.3}},
      {"lorentzian+linear", {2.0, 3.0, 1.0, 0.2, 0.05}},
      {"pseudo_voigt+constant", {4.0, 2.5, 2.0, 0.6, 1.0}},
      {"linear + poly3 + gaussian", {1.0, 2.0, 0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 0.5}},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    const Model model = Model::parse(c.spec);
    REQUIRE(model.n_params() == static_cast<int>(c.p.size()));
    std::vector<double> f(m, NAN), jac(m * c.p.size(), NAN);
    model.value(c.p, x, f);
    model.jacobian(c.p, x, jac);

    // The same sum, term by term, through the catalogue.
    std::vector<double> expected(m, 0.0), expected_jac(jac.size(), NAN);
    size_t offset = 0;
    std::string rest = c.spec;
    for (size_t start = 0; start <= rest.size();) {
      size_t plus = rest.find('+', start);
      if (plus == std::string::npos) plus = rest.size();
      std::string part = rest.substr(start, plus - start);
      int repeat = 1;
      if (const size_t star = part.find('*'); star != std::string::npos) {
        repeat = std::stoi(part.substr(star + 1));
        part = part.substr(0, star);
      }
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      const Term* term = lmbatch::models::find_term(part);
      REQUIRE(term != nullptr);
      for (int r = 0; r < repeat; ++r) {
        const size_t np = term->parameters.size();
        const std::span<const double> p(c.p.data() + offset, np);
        term->accumulate(p, x, expected);
        term->jacobian(p, x, expected_jac.data() + offset * m, static_cast<int>(m));
        offset += np;
      }
      start = plus + 1;
    }
    REQUIRE(offset == c.p.size());
    for (size_t i = 0; i < m; ++i) CHECK(f[i] == expected[i]);
    for (size_t i = 0; i < jac.size(); ++i) CHECK(jac[i] == expected_jac[i]);
  }
}

TEST_CASE("value overwrites f rather than accumulating into it", "[models][composite]") {
  const Model model = Model::parse("constant");
  const std::vector<double> x = {0.0, 1.0}, p = {2.0};
  std::vector<double> f = {100.0, -7.0};
  model.value(p, x, f);
  CHECK(f == std::vector<double>{2.0, 2.0});
}

TEST_CASE("term values follow their formulas", "[models][formula]") {
  const double x = 1.75;
  const std::vector<double> xs = {x};
  const auto value = [&](const char* spec, std::vector<double> p) {
    std::vector<double> f(1);
    Model::parse(spec).value(p, xs, f);
    return f[0];
  };
  const double d = x - 0.5;
  CHECK(value("gaussian", {3.0, 0.5, 1.2}) ==
        Approx(3.0 * std::exp(-d * d / (2.0 * 1.2 * 1.2))).epsilon(1e-14));
  CHECK(value("lorentzian", {2.0, 0.5, 0.8}) == Approx(2.0 * 0.64 / (d * d + 0.64)).epsilon(1e-14));
  const double t2 = d * d / 4.0;  // fwhm = 2
  CHECK(value("pseudo_voigt", {5.0, 0.5, 2.0, 0.3}) ==
        Approx(5.0 * (0.3 / (1.0 + 4.0 * t2) + 0.7 * std::exp(-4.0 * std::log(2.0) * t2)))
            .epsilon(1e-14));
  CHECK(value("exponential", {4.0, 1.3}) == Approx(4.0 * std::exp(-x / 1.3)).epsilon(1e-14));
  CHECK(value("constant", {2.5}) == 2.5);
  CHECK(value("linear", {1.5, -0.7}) == Approx(1.5 - 0.7 * x).epsilon(1e-14));
  CHECK(value("poly2", {1.0, 2.0, 3.0}) == Approx(1.0 + 2.0 * x + 3.0 * x * x).epsilon(1e-14));
  CHECK(value("poly5", {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}) ==
        Approx(1.0 + 2.0 * x + 3.0 * std::pow(x, 2) + 4.0 * std::pow(x, 3) + 5.0 * std::pow(x, 4) +
               6.0 * std::pow(x, 5))
            .epsilon(1e-14));
  // pseudo_voigt's half maximum lies at |x - center| = fwhm / 2 for any eta.
  for (const double eta : {0.0, 0.4, 1.0}) {
    std::vector<double> f(1);
    Model::parse("pseudo_voigt")
        .value(std::vector<double>{1.0, 0.0, 2.0, eta}, std::vector<double>{1.0}, f);
    CHECK(f[0] == Approx(0.5).epsilon(1e-14));
  }
}
