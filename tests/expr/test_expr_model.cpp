// Expression terms in models: Model::parse with "expr: ...", sums with
// catalogue terms, --params semantics, functor terms (the template
// interface), starting values, and the batch engine on expressions
// (identical results to the equivalent catalogue model; non-finite fits).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/expr/expression.hpp"
#include "lmbatch/models/model.hpp"

using Catch::Matchers::Contains;
using lmbatch::models::Model;
using lmbatch::models::ParseOptions;
using Names = std::vector<std::string>;
namespace batch = lmbatch::batch;

namespace {

std::vector<double> grid(int m, double lo, double hi) {
  std::vector<double> x(static_cast<std::size_t>(m));
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / (m - 1);
  return x;
}

std::string parse_error(const std::string& spec, const ParseOptions& o = {}) {
  try {
    Model::parse(spec, o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("no error for " << spec);
  return "";
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("an expression is a model", "[expr][model]") {
  const Model m = Model::parse("expr: a*exp(-(x-mu)^2/(2*s^2)) + c");
  CHECK(m.n_params() == 4);
  CHECK(m.parameter_names() == Names{"a", "mu", "s", "c"});
  CHECK(m.spec() == "expr: a*exp(-(x-mu)^2/(2*s^2)) + c");
  CHECK(Model::parse("  expr :  a*x  ").spec() == "expr: a*x");
  CHECK(Model::expression("a*x + b").parameter_names() == Names{"a", "b"});
  CHECK(Model::expression("a*x + b", {"b", "a"}).parameter_names() == Names{"b", "a"});
  CHECK_FALSE(m.can_estimate());
  CHECK(m.first_term_without_estimate() == "expr: a*exp(-(x-mu)^2/(2*s^2)) + c");
}

TEST_CASE("expressions and catalogue terms add up", "[expr][model]") {
  const Model m = Model::parse("gaussian + expr: c0 + c1*x");
  CHECK(m.parameter_names() == Names{"amplitude", "center", "sigma", "c0", "c1"});
  CHECK(m.spec() == "gaussian+expr: c0 + c1*x");
  const Model braces = Model::parse("expr{c0 + c1*x} + gaussian*2");
  CHECK(braces.spec() == "expr{c0 + c1*x}+gaussian*2");
  CHECK(braces.n_params() == 8);
  // shared names are numbered as between catalogue terms
  CHECK(Model::parse("constant + expr: c*x").parameter_names() == Names{"c_1", "c_2"});
  CHECK(Model::parse("expr{a*x} + expr: a*x^2").parameter_names() == Names{"a_1", "a_2"});

  // value and Jacobian are the terms' sum and their columns side by side
  const std::vector<double> x = grid(50, -2.0, 3.0);
  const std::vector<double> p = {1.5, 0.2, 0.7, 0.3, -0.1};
  std::vector<double> f(x.size()), g(x.size()), h(x.size());
  m.value(p, x, f);
  Model::parse("gaussian").value(std::span<const double>(p).first(3), x, g);
  Model::parse("expr: c0 + c1*x").value(std::span<const double>(p).subspan(3), x, h);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(f[i] == (0.0 + g[i]) + h[i]);
  std::vector<double> jac(x.size() * 5);
  m.jacobian(p, x, jac);
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(jac[i + 3 * x.size()] == 1.0);
    CHECK(jac[i + 4 * x.size()] == x[i]);
  }
}

TEST_CASE("a parameter list orders the expressions' parameters", "[expr][model]") {
  ParseOptions o;
  o.expression_parameters = {"c", "s", "mu", "a"};
  const Model m = Model::parse("expr: a*exp(-(x-mu)^2/(2*s^2)) + c", o);
  CHECK(m.parameter_names() == Names{"c", "s", "mu", "a"});
  // the order is part of the specification, which rebuilds the same model
  CHECK(m.spec() == "expr(c,s,mu,a): a*exp(-(x-mu)^2/(2*s^2)) + c");
  CHECK(Model::parse(m.spec()).parameter_names() == m.parameter_names());
  CHECK(Model::parse("expr (b, a) {a*x + b} + constant").spec() == "expr(b,a){a*x + b}+constant");
  CHECK(Model::parse("expr(a,b): a*x + b").spec() == "expr: a*x + b");
  o.expression_parameters = {"b", "a", "k"};
  const Model two = Model::parse("linear + expr{a*x} + expr: k*x^2 + b", o);
  CHECK(two.parameter_names() == Names{"intercept", "slope", "a", "b", "k"});
  CHECK(two.spec() == "linear+expr{a*x}+expr(b,k): k*x^2 + b");
  CHECK(Model::parse(two.spec()).parameter_names() == two.parameter_names());
  CHECK_THAT(parse_error("expr(a, q): a*x"), Contains("parameter \"q\" does not appear"));
  CHECK_THAT(parse_error("expr(a,): a*x"), Contains("empty parameter name"));
  o.expression_parameters = {"a", "z"};
  CHECK_THAT(parse_error("expr: a*x", o), Contains("\"z\"") && Contains("appears in no expression"));
  o.expression_parameters = {"a"};
  CHECK_THAT(parse_error("expr: a*x + q", o), Contains("unknown name \"q\"") && Contains("column 7"));
  CHECK_THAT(parse_error("gaussian", o), Contains("no expression term"));
}

TEST_CASE("malformed expression specifications", "[expr][model][errors]") {
  CHECK_THAT(parse_error("expr:"), Contains("empty expression"));
  CHECK_THAT(parse_error("gaussian + expr:   "), Contains("empty expression"));
  CHECK_THAT(parse_error("expr{a*x"), Contains("no closing"));
  CHECK_THAT(parse_error("expr{a*x} gaussian"), Contains("expected '+'"));
  CHECK_THAT(parse_error("expr: a*(x"), Contains("column 5"));
  CHECK_THAT(parse_error("expr: x^2"), Contains("no parameters"));
  CHECK_THAT(parse_error("gausian + expr: a"), Contains("unknown model term \"gausian\""));
  CHECK_THAT(parse_error("expression"), Contains("unknown model term"));
  // an expression error is an expr::Error with the column in the expression
  CHECK_THROWS_AS(Model::parse("expr: a*foo(x)"), lmbatch::expr::Error);
  // catalogue specifications parse as before
  CHECK(Model::parse("gaussian*3+linear").spec() == "gaussian*3+linear");
  CHECK(Model::parse(" gaussian * 1 + constant ").spec() == "gaussian*1+constant");
}

namespace {

// A C++ functor term: the template interface (value and Jacobian over all
// samples at once).
struct Ramp {
  void accumulate(std::span<const double> p, std::span<const double> x,
                  std::span<double> f) const {
    for (std::size_t i = 0; i < x.size(); ++i) f[i] += p[0] * x[i];
  }
  void jacobian(std::span<const double>, std::span<const double> x, double* jac, int) const {
    for (std::size_t i = 0; i < x.size(); ++i) jac[i] = x[i];
  }
};

struct RampWithEstimate : Ramp {
  void estimate(std::span<const double> x, std::span<double> remaining,
                std::span<double> p) const {
    p[0] = 2.0;
    for (std::size_t i = 0; i < x.size(); ++i) remaining[i] -= 2.0 * x[i];
  }
};

}  // namespace

TEST_CASE("functor terms: the template model interface", "[expr][model][functor]") {
  static_assert(lmbatch::models::TermFunctor<Ramp>);
  static_assert(!lmbatch::models::EstimatingTermFunctor<Ramp>);
  static_assert(lmbatch::models::EstimatingTermFunctor<RampWithEstimate>);
  const Model ramp = Model::from_functor("ramp", {"slope"}, Ramp{});
  CHECK(ramp.spec() == "ramp");
  CHECK_FALSE(ramp.can_estimate());
  const Model sum = Model::parse("constant") + Model::from_functor("ramp", {"k"}, RampWithEstimate{});
  CHECK(sum.spec() == "constant+ramp");
  CHECK(sum.parameter_names() == Names{"c", "k"});
  CHECK(sum.can_estimate());
  const std::vector<double> x = grid(40, 0.0, 1.0);
  std::vector<double> y(x.size()), p(2), scratch(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = 1.0 + 2.0 * x[i];
  sum.estimate(x, y, p, scratch);
  CHECK(p[1] == 2.0);

  Model m = Model::parse("gaussian");
  m += Model::parse("expr: a*x");
  m += ramp;
  CHECK(m.spec() == "gaussian+expr{a*x}+ramp");
  CHECK(m.n_params() == 5);

  // through the batch engine: fits a*x data exactly
  std::vector<double> data(3 * x.size());
  for (std::size_t k = 0; k < 3; ++k)
    for (std::size_t i = 0; i < x.size(); ++i) data[k * x.size() + i] = (k + 1.0) * x[i];
  const std::vector<double> x0 = {0.5};
  batch::ArrayInput in{.y = data, .count = 3, .m = static_cast<int>(x.size()), .x = x, .sigma = {}, .x0 = x0};
  batch::BatchOptions options;
  options.threads = 1;
  const auto r = batch::fit(ramp, in, options);
  for (std::size_t k = 0; k < 3; ++k) CHECK(r.x[k] == Approx(k + 1.0).epsilon(1e-12));
}

TEST_CASE("starting values: expressions need x0", "[expr][model]") {
  const Model m = Model::parse("gaussian + expr: c0 + c1*x");
  CHECK_FALSE(m.can_estimate());
  const std::vector<double> x = grid(10, 0.0, 1.0), y(10, 1.0);
  std::vector<double> p(5), scratch(10);
  CHECK_THROWS_WITH(m.estimate(x, y, p, scratch),
                    Contains("expr: c0 + c1*x") && Contains("no starting-value estimate"));
}

TEST_CASE("batch::fit on an expression equal to a catalogue model gives the same bits",
          "[expr][model][batch]") {
  // linear is intercept + slope*x: the same operations, the same Jacobian
  // (1, x), hence the same iterates.
  const int count = 200, m = 30;
  const std::vector<double> x = grid(m, -1.0, 4.0);
  std::vector<double> y(static_cast<std::size_t>(count * m));
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i)
      y[static_cast<std::size_t>(k * m + i)] =
          0.1 * k - 0.3 * x[static_cast<std::size_t>(i)] + 0.01 * std::sin(7.0 * i + k);
  const std::vector<double> x0 = {1.0, 1.0};
  batch::ArrayInput in{.y = y, .count = count, .m = m, .x = x, .sigma = {}, .x0 = x0};
  batch::BatchOptions options;
  options.threads = 2;
  options.chunk_size = 16;
  const auto a = batch::fit(Model::parse("linear"), in, options);
  const auto b = batch::fit(Model::parse("expr: intercept + slope*x"), in, options);
  CHECK(same_bits(a.x, b.x));
  CHECK(a.nfev == b.nfev);
  CHECK(a.ier == b.ier);
  options.jacobian = batch::JacobianMode::forward;
  const auto c = batch::fit(Model::parse("linear"), in, options);
  const auto d = batch::fit(Model::parse("expr: intercept + slope*x"), in, options);
  CHECK(same_bits(c.x, d.x));
}

TEST_CASE("a non-finite expression value gives that fit's non-finite status",
          "[expr][model][batch]") {
  // log(x - b): with b past the smallest x the residuals at x0 are NaN.
  const int m = 20;
  const std::vector<double> x = grid(m, 1.0, 3.0);
  std::vector<double> y(2 * m);
  for (int i = 0; i < m; ++i) {
    y[static_cast<std::size_t>(i)] = 2.0 * std::log(x[static_cast<std::size_t>(i)] - 0.5);
    y[static_cast<std::size_t>(m + i)] = y[static_cast<std::size_t>(i)];
  }
  const std::vector<double> x0 = {1.0, 0.2, 1.0, 2.0};  // per problem: (a, b)
  batch::ArrayInput in{.y = y, .count = 2, .m = m, .x = x, .sigma = {}, .x0 = x0};
  batch::BatchOptions options;
  options.threads = 1;
  const auto r = batch::fit(Model::parse("expr: a*log(x - b)"), in, options);
  CHECK(lmbatch::leastsq::converged(static_cast<lmbatch::leastsq::Status>(r.ier[0])));
  CHECK(r.x[0] == Approx(2.0));
  CHECK(r.x[1] == Approx(0.5));
  CHECK(r.ier[1] == -2);
}
