// Derivatives as SymPy prints them: for the expressions of
// data/sympy_expressions.txt, Expression::sympy_derivative(k) is exactly
// str(sympy.diff(expr, p_k)) (data/sympy_derivatives.json, made by
// gen_sympy_derivatives.py with SymPy 1.14) wherever lmbatch uses the
// sympy form, and both derivative modes agree with each other numerically.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lmbatch/expr/expression.hpp"

using lmbatch::expr::CompileOptions;
using lmbatch::expr::Expression;

TEST_CASE("derivatives print as sympy.diff's", "[expr][sympy]") {
  std::ifstream in(std::string(LMBATCH_EXPR_TEST_DATA) + "/sympy_derivatives.json");
  REQUIRE(in);
  const nlohmann::json cases = nlohmann::json::parse(in);
  int same = 0, chain_rule = 0, total = 0;
  for (const auto& c : cases) {
    const std::string text = c.at("expression").get<std::string>();
    INFO(text);
    const Expression e = Expression::compile(text);
    const auto params = c.at("parameters").get<std::vector<std::string>>();
    REQUIRE(e.parameters() == params);
    CompileOptions chain;
    chain.derivatives = CompileOptions::Derivatives::chain_rule;
    const Expression reference = Expression::compile(text, chain);
    // points where everything is defined
    std::vector<double> x = {0.7, 1.3, 2.9};
    std::vector<double> p(params.size());
    for (std::size_t k = 0; k < p.size(); ++k) p[k] = 0.4 + 0.3 * static_cast<double>(k % 4);
    std::vector<double> jac(x.size() * p.size()), jref(jac.size());
    e.jacobian(p, x, jac.data(), static_cast<std::ptrdiff_t>(x.size()));
    reference.jacobian(p, x, jref.data(), static_cast<std::ptrdiff_t>(x.size()));
    for (std::size_t k = 0; k < params.size(); ++k) {
      INFO("d/d" << params[k]);
      const std::string expected = c.at("derivatives")[k].get<std::string>();
      const std::string& ours = e.sympy_derivative(static_cast<int>(k));
      ++total;
      if (ours.empty()) {
        ++chain_rule;
      } else {
        CHECK(ours == expected);
        same += ours == expected;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double a = jac[i + k * x.size()], b = jref[i + k * x.size()];
        if (std::isfinite(b)) CHECK(a == Approx(b).epsilon(1e-12).margin(1e-300));
      }
    }
  }
  std::printf("sympy derivatives: %d of %d as sympy prints them, %d by the chain rule\n", same,
              total, chain_rule);
  CHECK(same + chain_rule == total);
  CHECK(chain_rule <= 4);
}
