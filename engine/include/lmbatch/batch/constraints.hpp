// Parameter constraints of a batch run, resolved against the model's
// parameter names: bounds, fixed and tied parameters (issue #16).
//
// The method is MPFIT's (Markwardt, cmpfit 1.3a, mpfit.c: mpfit()): fixed and
// tied parameters leave the free set (MPFIT's ifree), so the solver sees
// n_free parameters; residuals expand free -> full (fixed values held, tied
// ones computed), the Jacobian takes the free columns plus, for a tied
// parameter, the chain rule through its expression's exact derivatives. Bounds
// act on the free parameters, in the leastsq core (leastsq::Options::lower,
// upper). With none of this given, the solve is the unconstrained one, bit for
// bit.
//
// The by-name forms, as the CLI (--bounds, --fix, --tie) and Python take them:
//   bounds  "amplitude=0:inf,sigma=0.35:3,center_2=50:80"  (lower:upper; an
//           empty side, inf or -inf: no bound on that side)
//   fix     "sigma=1.5,c"  (held at the value, or at its starting value)
//   tie     "sigma_2=sigma_1,center_2=center_1+21.3"  (an expression of other
//           parameters: lmbatch::expr, no per-sample variable)
// In bounds and fix a term's base name (sigma) names every repeat (sigma_1,
// sigma_2, ...); a full name given as well wins over the base name. Bounds on
// a fixed or tied parameter are not used (its value is held or computed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lmbatch/expr/expression.hpp"

namespace lmbatch::batch {

// A parameter's role in a constrained solve; also the /pegged code of a
// fixed or tied parameter (2).
enum class ParameterRole : std::int8_t { free = 0, fixed = 1, tied = 2 };

// The /pegged codes (result_fields.hpp): -1 at its lower bound, +1 at its
// upper, 0 free, 2 fixed or tied.
inline constexpr std::int8_t kPeggedLower = -1;
inline constexpr std::int8_t kPeggedUpper = 1;
inline constexpr std::int8_t kPeggedFree = 0;
inline constexpr std::int8_t kPeggedHeld = 2;

// The per-sample variable a tie's expression is compiled with (evaluated at
// one sample of value 0; no tie names it).
inline constexpr std::string_view kTieVariable = "__tie__";

// One tied parameter: p[parameter] = expression(p[refs[0]], p[refs[1]], ...).
struct Tie {
  int parameter;
  expr::Expression expression;
  std::vector<int> refs;  // the model's parameter index of each expression parameter
};

// The by-name constraints resolved to parameter indices (n entries each).
struct ResolvedConstraints {
  int n = 0;
  std::vector<double> lower, upper;  // -inf / +inf where there is no bound
  std::vector<ParameterRole> role;   // free, fixed or tied
  std::vector<double> fixed_value;   // NaN: held at its starting value
  std::vector<Tie> ties;             // in the order given
  bool has_bounds = false;           // some finite bound
  bool has_fixed = false;            // some fixed parameter
  bool any() const { return has_bounds || has_fixed || !ties.empty(); }
};

// Resolves the three texts against the model's parameter names. Throws
// std::invalid_argument naming the parameter (or the unknown name) for an
// unknown name, a malformed item, lower >= upper, a parameter given twice, a
// fixed parameter also tied, a tie that refers to itself, to an unknown name
// or to another tied parameter.
ResolvedConstraints resolve_constraints(std::string_view bounds, std::string_view fix,
                                        std::string_view tie,
                                        const std::vector<std::string>& names);

// Splits "a=1,b=atan2(c,d)" at the commas outside parentheses.
std::vector<std::string> split_constraint_items(std::string_view text);

}  // namespace lmbatch::batch
