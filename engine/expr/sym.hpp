// Internal to engine/expr: a small computer-algebra core that reproduces what
// SymPy does with an expression -- its automatic canonical form, its
// derivative and its str() printing -- for the subset of expressions made of
// numbers, symbols, pi, + - * / ** and exp, log, sin, cos, atan, sqrt.
//
// Why: the NIST StRD references (and any scipy run with a Jacobian written by
// sympy.diff) evaluate the derivative *as sympy prints it*, in that written
// order. A mathematically equal Jacobian with another operation order differs
// in the last bits, and MINPACK's accept/reject decisions can amplify a last
// bit into another nfev or ier. Printing the derivative as sympy would and
// compiling that text gives the reference's bits.
//
// Anything outside the subset (other functions, numbers whose sympy value
// would need more than double precision, automatic simplifications not
// reproduced here) throws Unsupported; the caller then differentiates with
// the chain rule on the graph instead (exact too, other rounding).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmbatch::expr::detail::sym {

struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// sympy's Integer / Rational (exact, here in 64 bits) or Float (53 bits).
struct Number {
  bool is_float = false;
  double f = 0.0;
  std::int64_t p = 0, q = 1;

  static Number integer(std::int64_t v);
  static Number rational(std::int64_t p, std::int64_t q);
  static Number real(double v);
  bool is_integer() const { return !is_float && q == 1; }
  bool is_rational() const { return !is_float; }
  bool is_zero() const { return is_float ? f == 0.0 : p == 0; }
  bool is_exact(std::int64_t v) const { return !is_float && q == 1 && p == v; }  // sympy's S.One etc.
  int sign() const;
  double value() const;
};

enum class Kind : std::uint8_t { number, symbol, pi, exp1, add, mul, pow, function };

struct Node;
using Expr = std::shared_ptr<const Node>;

struct Node {
  Kind kind = Kind::number;
  Number number;
  std::string name;  // symbol or function name
  std::vector<Expr> args;
  std::string id;  // structural identity
  // Memoised sort key and ordered arguments (sym.cpp), computed on first use.
  mutable std::shared_ptr<const void> key_cache;
  mutable std::shared_ptr<const std::vector<Expr>> ordered_cache;
};

// Limits the work of one compilation: past `nodes` constructed nodes the
// algebra throws Unsupported (the caller then uses the chain rule).
class Budget {
 public:
  explicit Budget(long nodes);
  ~Budget();
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

 private:
  long saved_;
};

Expr number(const Number& n);
Expr integer(std::int64_t v);
Expr symbol(const std::string& name);
Expr pi();
// Evaluated constructors: sympy's Add(*args), Mul(*args), Pow(b, e), f(u).
Expr add(std::vector<Expr> terms);
Expr mul(std::vector<Expr> factors);
Expr pow(const Expr& base, const Expr& exponent);
Expr function(const std::string& name, const Expr& arg);  // exp log sin cos atan

// sympy's expr.diff(symbol).
Expr diff(const Expr& e, const std::string& symbol);

// sympy's str(expr).
std::string str(const Expr& e);

// A literal as sympify reads it: digits only -> Integer, else Float (more
// than 15 significant digits: Unsupported, sympy would keep more precision).
Number literal(const std::string& text, double value);

}  // namespace lmbatch::expr::detail::sym
