// Expression models: a formula such as "a*exp(-(x-mu)^2/(2*s^2)) + c",
// parsed once into a compiled form that evaluates the value and the exact
// Jacobian array-at-a-time over all samples.
//
// Grammar (Python's precedence; ^ and ** are the same operator):
//
//   expression := term (("+" | "-") term)*
//   term       := unary (("*" | "/") unary)*
//   unary      := ("-" | "+") unary | power
//   power      := primary (("^" | "**") unary)?          right-associative
//   primary    := number | name | name "(" arguments ")" | "(" expression ")"
//
// numbers: 2, 2.5, .5, 1e-3; names: [A-Za-z_][A-Za-z0-9_]*. The sample
// variable is x (CompileOptions::variables: any number of per-sample
// variables, e.g. x1, x2 for a model's predictors), the constants pi and e; the
// functions exp log log10 sqrt abs sin cos tan asin acos atan sinh cosh tanh
// erf erfc (one argument), atan2 pow min max (two). Every other name is a
// parameter: in order of first appearance, or as listed in
// CompileOptions::parameters.
//
// Evaluation: IEEE double in the written operation order (nothing is
// reassociated, -ffp-contract=off), C libm for the functions, a^2, a^3, a^4
// with a literal exponent as the products a*a, (a*a)*a, ((a*a)*a)*a (every
// other power, pow() included, is libm pow(); 0^negative is +inf). min and max
// return NaN if either argument is NaN. A non-finite value is a value like any
// other: it reaches the solver, which reports the fit as non-finite.
//
// The Jacobian is symbolic, never finite differences. By default each
// derivative is formed as SymPy forms it -- sympy.diff of the expression in
// SymPy's canonical form, printed by str() -- and that text is compiled with
// the same evaluation rules. An analytic Jacobian written with sympy.diff for
// scipy.optimize.leastsq (the NIST StRD references do exactly that) is thus
// reproduced to the last bit. This covers numbers, + - * / ^, exp, log, sin,
// cos, atan, sqrt, pow and pi; an expression using anything else (or whose
// SymPy form would need exact arithmetic beyond 64-bit rationals) is
// differentiated with the chain rule on the compiled graph instead (exact as
// well, with 0/1 simplifications; CompileOptions::derivatives selects it
// always). abs, min and max use the one-sided derivative of the branch taken
// (sign(u), or the argument selected; ties pick the first). The Jacobian
// program shares every subexpression with the value where the forms agree.
//
// An expression can only compute: there are no loops, no assignments and no
// I/O. Compilation is cheap (microseconds); evaluation allocates nothing
// after the first call on a thread (per-thread scratch that only grows).
// Evaluation is thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lmbatch::expr {

// A syntax or naming error. what() reads
//   expression "a*(x+)": column 6: unexpected ")"; expected a number, a name or "("
// column() is 1-based (0 when the error concerns no place, e.g. an unused
// parameter), token() the offending token ("" at the end of the text).
class Error : public std::invalid_argument {
 public:
  Error(const std::string& what, int column, std::string token)
      : std::invalid_argument(what), column_(column), token_(std::move(token)) {}
  int column() const noexcept { return column_; }
  const std::string& token() const noexcept { return token_; }

 private:
  int column_;
  std::string token_;
};

struct CompileOptions {
  // The parameters, in order. Empty: every free name, in order of first
  // appearance. Given: a free name not listed is an error ("unknown name"),
  // and so is a listed name the expression does not use.
  std::vector<std::string> parameters;
  // Per-sample variables; a model term has the one variable "x".
  std::vector<std::string> variables = {"x"};
  // How derivatives are formed (see the comment at the top).
  enum class Derivatives {
    sympy_form,  // as sympy.diff prints them where possible, else chain_rule
    chain_rule,  // the chain rule on the compiled graph
  };
  Derivatives derivatives = Derivatives::sympy_form;
};

namespace detail {
struct Compiled;
}

class Expression {
 public:
  // Parses and compiles; throws Error.
  static Expression compile(std::string_view text, const CompileOptions& options = {});
  // The free names of `text` (what would become parameters), in order of
  // first appearance. Throws Error on a syntax error.
  static std::vector<std::string> free_names(std::string_view text,
                                             const std::vector<std::string>& variables = {"x"});

  const std::string& text() const;
  const std::vector<std::string>& parameters() const;
  int n_params() const { return static_cast<int>(parameters().size()); }
  const std::vector<std::string>& variables() const;

  // One variable (x): f[i] = e(x[i]; p), or f[i] += e(x[i]; p).
  void value(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  void accumulate(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  // jac[i + k*ld] = d e(x[i]; p) / d p_k, k < n_params() (overwritten).
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                std::ptrdiff_t ld) const;

  // Any number of variables: vars[v] points at the m values of variables()[v].
  void value(const double* p, const double* const* vars, std::size_t m, double* f) const;
  void accumulate(const double* p, const double* const* vars, std::size_t m, double* f) const;
  void jacobian(const double* p, const double* const* vars, std::size_t m, double* jac,
                std::ptrdiff_t ld) const;

  // The compiled value and derivatives as fully parenthesised text (what is
  // evaluated, after constant folding), for tests and messages.
  std::string value_text() const;
  std::string derivative_text(int k) const;
  // The derivative of parameter k as SymPy prints it ("" where the chain
  // rule was used).
  const std::string& sympy_derivative(int k) const;

  // Instructions per sample of the compiled value and Jacobian programs.
  int value_instructions() const;
  int jacobian_instructions() const;

 private:
  Expression() = default;  // only compile() makes one
  std::shared_ptr<const detail::Compiled> impl_;
};

}  // namespace lmbatch::expr
