// The one list of a batch run's user-facing options: name, help text, and the
// member of BatchOptions it sets. The `lmbatch fit` command line, the Python
// module's keywords and the run's record (fingerprint and result-file
// attributes, io/run_description.cpp) walk this list; the defaults are the
// members' initialisers (scipy's) and the checks are BatchOptions::validate.
// Adding an option is its member, one row here and its use in the solver.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "lmbatch/batch/engine.hpp"

namespace lmbatch::batch {

struct OptionInfo {
  std::string_view name;  // Python keyword and file attribute; the CLI's --name-with-dashes
  std::string_view help;
  // Decides the results: part of a run's fingerprint (what --resume and a
  // merge of shards must match) and of the result file's attributes.
  bool decides_results;
};

// Calls f(info, member) for every option, in order; Options is BatchOptions
// or const BatchOptions. Member types: double, int, bool, std::vector<double>,
// std::string (empty: not given, and then not recorded) and named choices (enums with ChoiceNames
// below: JacobianMode, Loss, X0From, Refine, Simd).
template <class Options, class F>
void for_each_option(Options& o, F&& f) {
  f(OptionInfo{"ftol", "relative reduction of the sum of squares (MINPACK info 1)", true},
    o.solver.ftol);
  f(OptionInfo{"xtol", "relative change of x (MINPACK info 2)", true}, o.solver.xtol);
  f(OptionInfo{"gtol", "orthogonality of fvec and the Jacobian's columns (MINPACK info 4)", true},
    o.solver.gtol);
  f(OptionInfo{"maxfev", "maximum function calls (0: 100(n+1) analytic, 200(n+1) forward)", true},
    o.solver.maxfev);
  f(OptionInfo{"epsfcn", "forward-difference step parameter (0: machine epsilon)", true},
    o.solver.epsfcn);
  f(OptionInfo{"factor", "initial step bound factor", true}, o.solver.factor);
  f(OptionInfo{"diag", "n positive scale factors a,b,c (default: automatic, MINPACK mode 1)", true},
    o.diag);
  f(OptionInfo{"jacobian", "analytic (MINPACK lmder, the model's derivatives) or forward (lmdif)",
               true},
    o.jacobian);
  f(OptionInfo{"loss",
               "robust loss on ((y - f)/sigma/f_scale)^2: linear (least squares), soft_l1, "
               "huber, cauchy or arctan (scipy least_squares' loss); or poisson: maximum "
               "likelihood for counts y >= 0 (the deviance; sigma and f_scale unused)",
               true},
    o.loss);
  f(OptionInfo{"f_scale",
               "residual scale of the robust loss: the soft margin between inliers "
               "and outliers (scipy least_squares' f_scale)",
               true},
    o.f_scale);
  f(OptionInfo{"full_output", "also fvec, fjac, ipvt and qtf (scipy's infodict)", true},
    o.full_output);
  f(OptionInfo{"bounds",
               "bounds by parameter name: 'amplitude=0:inf,sigma=0.35:3' (a term's base name "
               "names every repeat; an empty side or inf: no bound)",
               true},
    o.bounds);
  f(OptionInfo{"fix", "parameters held: 'sigma=1.5,c' (at the value, or at the starting value)",
               true},
    o.fix);
  f(OptionInfo{"tie", "parameters computed from others: 'sigma_2=sigma_1,center_2=center_1+21.3'",
               true},
    o.tie);
  f(OptionInfo{"starts",
               "starts per problem: the first start and N-1 seeded perturbations of it; "
               "the lowest cost is kept (/start says which)",
               true},
    o.starts);
  f(OptionInfo{"x0_from",
               "none (each problem's estimate), or mean, sum or median: fit that aggregate "
               "spectrum first and start every problem from it, amplitudes scaled",
               true},
    o.x0_from);
  f(OptionInfo{"refine",
               "none, or neighbours (y of two leading dimensions): refit each pixel from its 8 "
               "neighbours' solutions of lower cost per sample, keeping the lower cost",
               true},
    o.refine);
  f(OptionInfo{"refine_passes", "at most this many passes of refine (each reads the previous)",
               true},
    o.refine_passes);
  f(OptionInfo{"threads", "worker threads (0: every core); results do not depend on it", false},
    o.threads);
  f(OptionInfo{"chunk_size",
               "problems per pipeline chunk (default: at most problems / (4 x threads), up to "
               "1024); results do not depend on it",
               false},
    o.chunk_size);
  f(OptionInfo{"simd",
               "auto: several problems of one shape side by side in the CPU's SIMD lanes "
               "(AVX-512, AVX2 or SSE4, chosen at run time) where they allow it, off: one at a "
               "time; results do not depend on it",
               false},
    o.simd);
}

// ---- named choices: an option whose value is one of a few names ----
// ChoiceNames<E>::names lists (value, name) for an enum E; the CLI, Python and
// the run's record handle every such option through it (a new enum option
// needs only its specialisation here).
template <class E>
struct ChoiceNames;

template <>
struct ChoiceNames<JacobianMode> {
  static constexpr std::array<std::pair<JacobianMode, std::string_view>, 2> names{{
      {JacobianMode::analytic, "analytic"},
      {JacobianMode::forward, "forward"},
  }};
};

template <>
struct ChoiceNames<Loss> {
  static constexpr std::array<std::pair<Loss, std::string_view>, 6> names{{
      {Loss::linear, "linear"},
      {Loss::soft_l1, "soft_l1"},
      {Loss::huber, "huber"},
      {Loss::cauchy, "cauchy"},
      {Loss::arctan, "arctan"},
      {Loss::poisson, "poisson"},
  }};
};

template <>
struct ChoiceNames<X0From> {
  static constexpr std::array<std::pair<X0From, std::string_view>, 4> names{{
      {X0From::none, "none"},
      {X0From::mean, "mean"},
      {X0From::sum, "sum"},
      {X0From::median, "median"},
  }};
};

template <>
struct ChoiceNames<Refine> {
  static constexpr std::array<std::pair<Refine, std::string_view>, 2> names{{
      {Refine::none, "none"},
      {Refine::neighbours, "neighbours"},
  }};
};

template <>
struct ChoiceNames<Simd> {
  static constexpr std::array<std::pair<Simd, std::string_view>, 2> names{{
      {Simd::off, "off"},
      {Simd::automatic, "auto"},
  }};
};

template <class T>
concept NamedChoice = requires {
  ChoiceNames<T>::names;
};

// The name of `value` ("?" for a value outside the list).
template <NamedChoice E>
constexpr std::string_view choice_name(E value) {
  for (const auto& [v, name] : ChoiceNames<E>::names)
    if (v == value) return name;
  return "?";
}

// The value named `name`; nullopt for any other name.
template <NamedChoice E>
constexpr std::optional<E> parse_choice(std::string_view name) {
  for (const auto& [v, n] : ChoiceNames<E>::names)
    if (n == name) return v;
  return std::nullopt;
}

// "'linear', 'soft_l1', 'huber', 'cauchy' or 'arctan'": for messages.
template <NamedChoice E>
std::string choice_list() {
  const auto& names = ChoiceNames<E>::names;
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += "'" + std::string(names[i].second) + "'";
  }
  return text;
}

// "option must be one of ..., not 'name'": the one message for a bad name.
template <NamedChoice E>
std::string choice_error(std::string_view option, std::string_view name) {
  return std::string(option) + " must be " + choice_list<E>() + ", not '" + std::string(name) + "'";
}

// "analytic" / "forward".
inline std::string_view jacobian_name(JacobianMode mode) {
  return choice_name(mode);
}
// The mode named `name`; nullopt for any other name.
inline std::optional<JacobianMode> parse_jacobian(std::string_view name) {
  return parse_choice<JacobianMode>(name);
}

}  // namespace lmbatch::batch
