// Expression evaluation: the value is the written operation order in IEEE
// double with C libm (bit for bit), the Jacobian is the exact derivative
// (against hand-derived formulas and central differences), blocks of any
// size, scalar-only expressions, non-finite values, and threads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "lmbatch/expr/expression.hpp"

using lmbatch::expr::CompileOptions;
using lmbatch::expr::Expression;

namespace {

std::vector<double> values(const Expression& e, const std::vector<double>& p,
                           const std::vector<double>& x) {
  std::vector<double> f(x.size(), -1.0);
  e.value(p, x, f);
  return f;
}

std::vector<double> jacobian(const Expression& e, const std::vector<double>& p,
                             const std::vector<double>& x) {
  std::vector<double> jac(x.size() * p.size(), -1.0);
  e.jacobian(p, x, jac.data(), static_cast<std::ptrdiff_t>(x.size()));
  return jac;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::vector<double> grid(int m, double lo, double hi) {
  std::vector<double> x(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / std::max(1, m - 1);
  return x;
}

// Central-difference check of every Jacobian column.
void check_derivatives(const std::string& text, const std::vector<double>& p,
                       const std::vector<double>& x, double tolerance = 1e-6) {
  INFO(text);
  for (const auto mode : {CompileOptions::Derivatives::sympy_form,
                          CompileOptions::Derivatives::chain_rule}) {
  CompileOptions options;
  options.derivatives = mode;
  const Expression e = Expression::compile(text, options);
  REQUIRE(static_cast<std::size_t>(e.n_params()) == p.size());
  const auto jac = jacobian(e, p, x);
  for (std::size_t k = 0; k < p.size(); ++k) {
    INFO("parameter " << e.parameters()[k] << ": " << e.derivative_text(static_cast<int>(k)));
    const double h = 1e-6 * std::max(1.0, std::fabs(p[k]));
    auto up = p, down = p;
    up[k] += h;
    down[k] -= h;
    const auto fu = values(e, up, x), fd = values(e, down, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double numeric = (fu[i] - fd[i]) / (2 * h);
      const double exact = jac[i + k * x.size()];
      CHECK(std::fabs(exact - numeric) <= tolerance * std::max(1.0, std::fabs(numeric)));
    }
  }
  }
}

}  // namespace

TEST_CASE("values are the written operation order, bit for bit", "[expr][eval]") {
  const std::vector<double> x = grid(300, -2.7, 3.1);
  struct Case {
    const char* text;
    std::vector<double> p;
    std::function<double(const double*, double)> reference;
  };
  const std::vector<Case> cases = {
      {"a*exp(-(x-mu)^2/(2*s^2)) + c", {1.7, 0.3, 0.9, -0.25},
       [](const double* p, double x) {
         return p[0] * std::exp((-((x - p[1]) * (x - p[1]))) / (2.0 * (p[2] * p[2]))) + p[3];
       }},
      {"b1*(b2+x)**(-1/b3)", {2.0, 5.0, 3.0},
       [](const double* p, double x) { return p[0] * std::pow(p[1] + x, (-1.0) / p[2]); }},
      {"(b1+b2*x+b3*x**2+b4*x**3)/(1+b5*x+b6*x**2+b7*x**3)",
       {1.0, 0.1, 0.01, 0.001, 0.2, 0.02, 0.002},
       [](const double* p, double x) {
         return (((p[0] + p[1] * x) + p[2] * (x * x)) + p[3] * ((x * x) * x)) /
                (((1.0 + p[4] * x) + p[5] * (x * x)) + p[6] * ((x * x) * x));
       }},
      {"a*x^4 - x^2.5", {0.3},
       [](const double* p, double x) {
         return p[0] * (((x * x) * x) * x) - std::pow(x, 2.5);
       }},
      {"log(abs(x)+a) + log10(a+x*x) + sqrt(a+x*x) + sin(a*x) + cos(x) + tan(x/a)", {4.0},
       [](const double* p, double x) {
         return ((((std::log(std::fabs(x) + p[0]) + std::log10(p[0] + x * x)) +
                   std::sqrt(p[0] + x * x)) +
                  std::sin(p[0] * x)) +
                 std::cos(x)) +
                std::tan(x / p[0]);
       }},
      {"asin(x/a) + acos(x/a) + atan(a*x) + atan2(x, a) + sinh(x) + cosh(a*x) + tanh(x)", {4.0},
       [](const double* p, double x) {
         return (((((std::asin(x / p[0]) + std::acos(x / p[0])) + std::atan(p[0] * x)) +
                   std::atan2(x, p[0])) +
                  std::sinh(x)) +
                 std::cosh(p[0] * x)) +
                std::tanh(x);
       }},
      {"erf(a*x) + erfc(x) + min(x, a) + max(x, -a) + pow(a, x) + e*pi", {0.5},
       [](const double* p, double x) {
         return ((((std::erf(p[0] * x) + std::erfc(x)) + std::fmin(x, p[0])) +
                  std::fmax(x, -p[0])) +
                 std::pow(p[0], x)) +
                2.718281828459045 * 3.141592653589793;
       }},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const Expression e = Expression::compile(c.text);
    const auto f = values(e, c.p, x);
    int same = 0;
    for (std::size_t i = 0; i < x.size(); ++i) same += same_bits(f[i], c.reference(c.p.data(), x[i]));
    CHECK(same == static_cast<int>(x.size()));
  }
}

TEST_CASE("powers: literal 2, 3, 4 are products, everything else libm pow", "[expr][eval]") {
  const std::vector<double> x = grid(1000, 0.1, 7.3);
  const auto f2 = values(Expression::compile("a*x^2"), {1.0}, x);
  const auto f3 = values(Expression::compile("a*x**3"), {1.0}, x);
  const auto f4 = values(Expression::compile("a*(x)^(4)"), {1.0}, x);
  const auto f4p = values(Expression::compile("a*x^(2+2)"), {1.0}, x);
  const auto fpow = values(Expression::compile("a*pow(x, 3)"), {1.0}, x);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(same_bits(f2[i], x[i] * x[i]));
    CHECK(same_bits(f3[i], (x[i] * x[i]) * x[i]));
    CHECK(same_bits(f4[i], ((x[i] * x[i]) * x[i]) * x[i]));
    CHECK(same_bits(f4p[i], std::pow(x[i], 4.0)));
    CHECK(same_bits(fpow[i], std::pow(x[i], 3.0)));
  }
  // 0 ^ negative is +inf, whatever the zero's sign (as the NIST references).
  const std::vector<double> zeros = {0.0, -0.0};
  const auto inv = values(Expression::compile("a*x^(-1)"), {1.0}, zeros);
  CHECK(inv[0] == INFINITY);
  CHECK(inv[1] == INFINITY);
}

TEST_CASE("the Jacobian is exact", "[expr][jacobian]") {
  SECTION("linear in the parameters: the columns are the functions, bit for bit") {
    const std::vector<double> x = grid(257, -3.0, 5.0);
    const Expression e = Expression::compile("c0 + c1*x + c2*x^2 + c3*exp(x)");
    const auto jac = jacobian(e, {1.0, 2.0, 3.0, 4.0}, x);
    const std::size_t m = x.size();
    for (std::size_t i = 0; i < m; ++i) {
      CHECK(jac[i] == 1.0);
      CHECK(jac[i + m] == x[i]);
      CHECK(jac[i + 2 * m] == x[i] * x[i]);
      CHECK(jac[i + 3 * m] == std::exp(x[i]));
    }
  }
  SECTION("a gaussian against the hand-derived formulas") {
    const std::vector<double> x = grid(100, -3.0, 5.0);
    const std::vector<double> p = {1.7, 0.3, 0.9};
    const Expression e = Expression::compile("a*exp(-(x-mu)^2/(2*s^2))");
    const auto jac = jacobian(e, p, x);
    const std::size_t m = x.size();
    for (std::size_t i = 0; i < m; ++i) {
      const double u = (x[i] - p[1]) / p[2];
      const double g = std::exp(-0.5 * u * u);
      CHECK(jac[i] == Approx(g).epsilon(1e-14));
      CHECK(jac[i + m] == Approx(p[0] * g * u / p[2]).epsilon(1e-13).margin(1e-300));
      CHECK(jac[i + 2 * m] == Approx(p[0] * g * u * u / p[2]).epsilon(1e-13).margin(1e-300));
    }
  }
  SECTION("every function against central differences") {
    const std::vector<double> x = grid(37, -0.9, 0.95);
    check_derivatives("a*exp(b*x) + log(a + x*b + 3) + log10(b*x + 2*a)", {1.3, 0.7}, x);
    check_derivatives("sqrt(a + b*x*x) + abs(a*x - b)", {1.3, 0.7}, x);
    check_derivatives("sin(a*x) + cos(b*x + a) + tan(a*x/3)", {1.3, 0.7}, x);
    check_derivatives("asin(a*x/2) + acos(b*x) + atan(a*x + b)", {1.3, 0.7}, x);
    check_derivatives("atan2(a*x + 0.1, b) + atan2(b, x - a)", {1.3, 0.7}, x);
    check_derivatives("sinh(a*x) + cosh(b*x) + tanh(a - b*x)", {1.3, 0.7}, x);
    check_derivatives("erf(a*x) + erfc(b*x + a)", {1.3, 0.7}, x);
    check_derivatives("min(a*x, b) + max(b*x, a - 1)", {1.3, 0.7}, x, 1e-5);
    check_derivatives("pow(a + x, b) + (x + 2)^a + a^b + b^(x + 1) + (a*x + 3)^(-b/2)",
                      {1.3, 0.7}, x);
    check_derivatives("a/(b + x^2) - (a*x)/(x - 3*b) + -a*b/x^3", {1.3, 0.7}, grid(20, 0.5, 2));
    check_derivatives("b1*(b2+x)**(-1/b3)", {2.0, 5.0, 3.0}, x);
    check_derivatives("a*exp(-(x-mu)^2/(2*s^2)) + c", {1.7, 0.3, 0.9, -0.25}, x);
  }
  SECTION("a parameter that only appears in a parameter-only subexpression") {
    const std::vector<double> x = grid(5, 0.0, 1.0);
    const Expression e = Expression::compile("x*exp(a) + b^2");
    const auto jac = jacobian(e, {0.5, 3.0}, x);
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK(jac[i] == x[i] * std::exp(0.5));
      CHECK(jac[i + 5] == 6.0);
    }
  }
}

TEST_CASE("any number of samples, blocks and scalar-only expressions", "[expr][eval]") {
  const Expression e = Expression::compile("a*x + b*exp(-x)");
  const Expression scalar = Expression::compile("a*b + 1");
  const Expression identity = Expression::compile("x + 0*a");
  for (const int m : {0, 1, 2, 127, 128, 129, 255, 256, 257, 1000}) {
    INFO(m);
    const std::vector<double> x = grid(m, -1.0, 2.0);
    const std::vector<double> p = {1.5, -0.5};
    const auto f = values(e, p, x);
    const auto jac = jacobian(e, p, x);
    const auto fs = values(scalar, p, x);
    const auto js = jacobian(scalar, p, x);
    const auto fi = values(identity, {2.0}, x);
    for (std::size_t i = 0; i < x.size(); ++i) {
      CHECK(f[i] == 1.5 * x[i] + (-0.5) * std::exp(-x[i]));
      CHECK(jac[i] == x[i]);
      CHECK(jac[i + x.size()] == std::exp(-x[i]));
      CHECK(fs[i] == 1.5 * -0.5 + 1.0);
      CHECK(js[i] == -0.5);
      CHECK(js[i + x.size()] == 1.5);
      CHECK(fi[i] == x[i] + 0.0);
    }
    // accumulate adds
    std::vector<double> acc(x.size(), 1.0);
    e.accumulate(p, x, acc);
    for (std::size_t i = 0; i < x.size(); ++i) CHECK(acc[i] == 1.0 + f[i]);
  }
}

TEST_CASE("non-finite values pass through, they are not errors", "[expr][eval]") {
  const Expression e = Expression::compile("log(x - a) + sqrt(b)");
  const std::vector<double> x = {0.0, 1.0, 2.0};
  const auto f = values(e, {1.0, -1.0}, x);
  CHECK(std::isnan(f[0]));
  CHECK(std::isnan(f[1]));  // log(0) = -inf, plus sqrt(-1) = NaN
  const auto g = values(e, {0.5, 4.0}, x);
  CHECK(std::isnan(g[0]));
  CHECK(g[1] == std::log(0.5) + 2.0);
  const auto jac = jacobian(e, {1.0, 4.0}, x);
  CHECK(std::isinf(jac[1]));  // d/da log(x - a) = -1/(x - a) at x = a
}

TEST_CASE("the compiled form is shown and shares subexpressions", "[expr][eval]") {
  const Expression e = Expression::compile("a*exp(-b*x) + a*exp(-b*x)");
  CHECK(e.value_text() == "((a * exp(((-b) * x))) + (a * exp(((-b) * x))))");
  // exp(-b*x) is computed once: (-b) is a scalar; vector work: *, exp, *, +
  CHECK(e.value_instructions() == 4);
  // the derivative as sympy forms it, sharing exp(-b*x) with the value
  CHECK(e.sympy_derivative(0) == "2*exp(-b*x)");
  CHECK(e.derivative_text(0) == "(exp(((-b) * x)) * 2)");
  CHECK(e.sympy_derivative(1) == "-2*a*x*exp(-b*x)");
  CompileOptions chain;
  chain.derivatives = CompileOptions::Derivatives::chain_rule;
  const Expression c = Expression::compile("a*exp(-b*x) + a*exp(-b*x)", chain);
  CHECK(c.derivative_text(0) == "(exp(((-b) * x)) + exp(((-b) * x)))");
  CHECK(c.sympy_derivative(0).empty());
  // outside sympy's subset here: the chain rule
  const Expression m = Expression::compile("a*abs(x) + b*exp(x)");
  CHECK(m.sympy_derivative(0).empty());
  CHECK(m.derivative_text(0) == "abs(x)");
  const Expression g = Expression::compile("2*pi*x/12");
  CHECK(g.value_text() == "((6.2831853071795862 * x) / 12)");
}

TEST_CASE("evaluation is thread-safe and the same on every thread", "[expr][eval]") {
  const Expression e = Expression::compile("a*exp(-(x-mu)^2/(2*s^2)) + c*sin(x)");
  const std::vector<double> x = grid(777, -4.0, 4.0);
  const std::vector<double> p = {1.7, 0.3, 0.9, -0.25};
  const auto f0 = values(e, p, x);
  const auto j0 = jacobian(e, p, x);
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      bool same = true;
      for (int r = 0; r < 50; ++r) {
        same = same && values(e, p, x) == f0 && jacobian(e, p, x) == j0;
      }
      ok[static_cast<std::size_t>(t)] = same;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == std::vector<int>(4, 1));
}

TEST_CASE("several variables evaluate from their own arrays", "[expr][eval]") {
  CompileOptions o;
  o.variables = {"x1", "x2"};
  const Expression e = Expression::compile("b1 - b2*x1*exp(-b3*x2)", o);
  const std::vector<double> x1 = {1.0, 2.0, 4.0}, x2 = {180.0, 225.0, 250.0};
  const double* vars[2] = {x1.data(), x2.data()};
  const double p[3] = {2.5, 5e-9, -0.05};
  std::vector<double> f(3), jac(9);
  e.value(p, vars, 3, f.data());
  e.jacobian(p, vars, 3, jac.data(), 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(same_bits(f[i], p[0] - ((p[1] * x1[i]) * std::exp((-p[2]) * x2[i]))));
    CHECK(jac[i] == 1.0);
    CHECK(jac[i + 3] == Approx(-x1[i] * std::exp(-p[2] * x2[i])).epsilon(1e-14));
  }
}
