// Expression parsing: the grammar and its precedence, parameter names and
// order, and the error messages (column, offending token, names, arity).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "lmbatch/expr/expression.hpp"

using Catch::Matchers::Contains;
using lmbatch::expr::CompileOptions;
using lmbatch::expr::Error;
using lmbatch::expr::Expression;
using Names = std::vector<std::string>;

namespace {

double eval(const std::string& text, std::vector<double> p = {}, double x = 0.0) {
  const Expression e = Expression::compile(text);
  REQUIRE(static_cast<std::size_t>(e.n_params()) == p.size());
  double f = 0.0;
  e.value(p, std::span<const double>(&x, 1), std::span<double>(&f, 1));
  return f;
}

// The error compile() throws for `text`.
Error error_of(const std::string& text, const CompileOptions& options = {}) {
  try {
    Expression::compile(text, options);
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error for " << text);
  return Error("", 0, "");
}

}  // namespace

TEST_CASE("parameters are the free names in order of first appearance", "[expr][parse]") {
  const Expression e = Expression::compile("a*exp(-(x-mu)^2/(2*s^2)) + c");
  CHECK(e.parameters() == Names{"a", "mu", "s", "c"});
  CHECK(e.variables() == Names{"x"});
  CHECK(e.text() == "a*exp(-(x-mu)^2/(2*s^2)) + c");
  CHECK(Expression::free_names("b2*x + b1 + b2*pi + e") == Names{"b2", "b1"});
  CHECK(Expression::compile("x*k_2 + K_2").parameters() == Names{"k_2", "K_2"});
}

TEST_CASE("a parameter list fixes the order", "[expr][parse]") {
  CompileOptions o;
  o.parameters = {"c", "s", "mu", "a"};
  const Expression e = Expression::compile("a*exp(-(x-mu)^2/(2*s^2)) + c", o);
  CHECK(e.parameters() == o.parameters);
  const std::vector<double> p = {0.5, 2.0, 1.0, 3.0};  // c, s, mu, a
  const double x = 1.0;
  double f = 0.0;
  e.value(p, std::span<const double>(&x, 1), std::span<double>(&f, 1));
  CHECK(f == 3.5);
}

TEST_CASE("precedence and associativity as in Python", "[expr][parse]") {
  CHECK(eval("2+3*4") == 14.0);
  CHECK(eval("(2+3)*4") == 20.0);
  CHECK(eval("-2^2") == -4.0);       // -(2^2)
  CHECK(eval("2^3^2") == 512.0);     // 2^(3^2)
  CHECK(eval("2**3**2") == 512.0);
  CHECK(eval("2^-1") == 0.5);
  CHECK(eval("-2*-3") == 6.0);
  CHECK(eval("--3") == 3.0);
  CHECK(eval("+3") == 3.0);
  CHECK(eval("8/4/2") == 1.0);       // (8/4)/2
  CHECK(eval("8-4-2") == 2.0);
  CHECK(eval("2*3^2") == 18.0);
  CHECK(eval("1e3 + .5 + 2. + 2.5E-1") == 1002.75);
  CHECK(eval("pi") == 3.141592653589793);
  CHECK(eval("e") == 2.718281828459045);
  CHECK(eval("atan2(1, 1)*4") == 3.141592653589793);
  CHECK(eval("min(2, 3) + max(2, 3)") == 5.0);
  CHECK(eval("pow(2, 10)") == 1024.0);
  CHECK(eval("x^2", {}, 3.0) == 9.0);
  CHECK(eval("  a  *  x ", {2.0}, 3.0) == 6.0);
}

TEST_CASE("syntax errors give the column and the offending token", "[expr][parse][errors]") {
  {
    const Error e = error_of("a*(x+)");
    CHECK(e.column() == 6);
    CHECK(e.token() == ")");
    CHECK_THAT(std::string(e.what()), Contains("column 6") && Contains("unexpected \")\""));
    CHECK_THAT(std::string(e.what()), Contains("expression \"a*(x+)\""));
  }
  {
    const Error e = error_of("a*(x+1");
    CHECK(e.column() == 7);
    CHECK(e.token().empty());
    CHECK_THAT(std::string(e.what()), Contains("end of expression") && Contains("column 3"));
  }
  {
    const Error e = error_of("a*x)");
    CHECK(e.column() == 4);
    CHECK_THAT(std::string(e.what()), Contains("after a complete expression"));
  }
  {
    const Error e = error_of("2x");
    CHECK(e.column() == 2);
    CHECK(e.token() == "x");
    CHECK_THAT(std::string(e.what()), Contains("write * for a product"));
  }
  {
    const Error e = error_of("a $ x");
    CHECK(e.column() == 3);
    CHECK(e.token() == "$");
  }
  {
    const Error e = error_of("a*x; system(1)");
    CHECK(e.column() == 4);
    CHECK(e.token() == ";");
  }
  CHECK(error_of("").column() == 1);
  CHECK_THAT(std::string(error_of("   ").what()), Contains("empty expression"));
  CHECK(error_of("a**").column() == 4);
  CHECK(error_of("a*/x").column() == 3);
  CHECK(error_of("f(x,)").column() == 1);  // unknown function first
  CHECK(error_of("exp(x,)").column() == 7);
  CHECK(error_of("exp(x").column() == 6);
}

TEST_CASE("unknown names, functions and wrong arity are named", "[expr][parse][errors]") {
  {
    const Error e = error_of("a*foo(x)");
    CHECK(e.column() == 3);
    CHECK(e.token() == "foo");
    CHECK_THAT(std::string(e.what()), Contains("unknown function \"foo\"") && Contains("atan2"));
  }
  {
    const Error e = error_of("atan2(x)");
    CHECK(e.column() == 1);
    CHECK_THAT(std::string(e.what()),
               Contains("function \"atan2\" takes 2 arguments, got 1"));
  }
  CHECK_THAT(std::string(error_of("exp(x, 2)").what()),
             Contains("function \"exp\" takes 1 argument, got 2"));
  CHECK_THAT(std::string(error_of("sqrt()").what()), Contains("takes 1 argument, got 0"));
  CHECK_THAT(std::string(error_of("a*exp").what()), Contains("\"exp\" is a function"));
  CHECK_THAT(std::string(error_of("a(x+1)").what()), Contains("unknown function \"a\""));
  CHECK_THAT(std::string(error_of("a*x + a(x+1)").what()), Contains("\"a\" is not a function"));
  CHECK_THAT(std::string(error_of("x(2)").what()), Contains("\"x\" is not a function"));
  CompileOptions o;
  o.parameters = {"a", "b"};
  {
    const Error e = error_of("a*x + b + q", o);
    CHECK(e.column() == 11);
    CHECK(e.token() == "q");
    CHECK_THAT(std::string(e.what()), Contains("unknown name \"q\"") && Contains("a, b"));
  }
  {
    const Error e = error_of("a*x", o);
    CHECK(e.column() == 0);
    CHECK(e.token() == "b");
    CHECK_THAT(std::string(e.what()), Contains("parameter \"b\" does not appear"));
  }
  o.parameters = {"a", "a"};
  CHECK_THAT(std::string(error_of("a*x", o).what()), Contains("listed twice"));
  o.parameters = {"a", "exp"};
  CHECK_THAT(std::string(error_of("a*x", o).what()), Contains("reserved"));
  o.parameters = {"a", "x"};
  CHECK_THAT(std::string(error_of("a*x", o).what()), Contains("reserved"));
  o.parameters = {"a", "2b"};
  CHECK_THAT(std::string(error_of("a*x", o).what()), Contains("not a name"));
}

TEST_CASE("nesting and length are bounded", "[expr][parse][errors]") {
  CHECK_THAT(std::string(error_of(std::string(600, '(') + "x" + std::string(600, ')')).what()),
             Contains("nested too deeply"));
  std::string chain = "a";
  for (int i = 0; i < 5000; ++i) chain += "+x";
  CHECK_THAT(std::string(error_of(chain).what()), Contains("too long a chain"));
  CHECK_THAT(std::string(error_of(std::string(200000, ' ') + "x").what()),
             Contains("too long"));
}

TEST_CASE("several variables", "[expr][parse]") {
  CompileOptions o;
  o.variables = {"x1", "x2"};
  const Expression e = Expression::compile("b1 - b2*x1*exp(-b3*x2)", o);
  CHECK(e.parameters() == Names{"b1", "b2", "b3"});
  CHECK(e.variables() == o.variables);
  CHECK(Expression::compile("a*x", o).parameters() == Names{"a", "x"});  // x is a name here
}
