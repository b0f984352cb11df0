// The model catalogue: f(x; p) over all samples at once, with its analytic
// Jacobian, parameter names and a starting-value estimate from the data.
//
// A catalogue entry (Term) is one file in engine/models/. A Model is a sum of
// terms parsed from a specification such as "gaussian*3+linear": `+` adds
// terms, `*k` repeats one; the parameters are the terms' parameters in order.
// Besides catalogue terms a model can hold terms defined at run time
// (CustomTerm): expressions ("gaussian + expr: c0 + c1*x", see
// lmbatch/expr/expression.hpp), plugins (lmbatch/models/plugin_abi.h, loaded
// by the application) and C++ functors (Model::from_functor).
// Evaluation is array-at-a-time (one call per term per evaluation, never per
// sample) and allocates nothing (expression terms: nothing after the first
// evaluation on a thread).
#pragma once

#include <concepts>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmbatch::models {

// One catalogue entry. All functions see the term's own parameters only.
struct Term {
  std::string_view name;                     // e.g. "gaussian"
  std::string_view formula;                  // e.g. "amplitude*exp(-(x-center)^2/(2*sigma^2))"
  std::vector<std::string_view> parameters;  // names, in parameter order
  // f[i] += term(x[i]; p) for every sample i.
  void (*accumulate)(std::span<const double> p, std::span<const double> x, std::span<double> f);
  // jac[i + k*ld] = d term(x[i]; p) / d p_k for k < parameters.size()
  // (column-major, one column per parameter; overwritten, not accumulated).
  void (*jacobian)(std::span<const double> p, std::span<const double> x, double* jac, int ld);
  // Starting values from the data: `remaining` holds y minus the terms
  // estimated so far (the catalogue's estimators subtract their own
  // contribution from it, so a repeated term finds the next peak or decay),
  // x the sample positions (finite, as given; possibly unsorted, possibly
  // very few). Writes parameters.size() values to p: finite for finite data,
  // widths and decay constants > 0. Allocates nothing.
  void (*estimate)(std::span<const double> x, std::span<double> remaining, std::span<double> p);
  // Baseline terms (constant, linear, poly*) are estimated before peaks and
  // decays, whatever their position in the specification.
  bool is_baseline = false;
};

// The catalogue, in a stable order.
std::span<const Term> catalogue();
const Term* find_term(std::string_view name);  // nullptr if unknown

// A term defined at run time rather than in the catalogue: an expression, a
// plugin's model or a C++ functor. The contracts are Term's: accumulate adds
// the term to f, jacobian overwrites its columns, estimate (when
// has_estimate()) writes starting values and subtracts the term from
// `remaining`. Called through one virtual call per term and evaluation (never
// per sample), possibly from several threads at once: implementations must be
// thread-safe.
class CustomTerm {
 public:
  virtual ~CustomTerm() = default;
  // How the term is written in a specification: an expression's
  // "expr: ..." text, or the name a plugin or functor term is known by.
  virtual std::string spec() const = 0;
  virtual const std::vector<std::string>& parameters() const = 0;
  virtual void accumulate(std::span<const double> p, std::span<const double> x,
                          std::span<double> f) const = 0;
  virtual void jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                        int ld) const = 0;
  virtual bool has_estimate() const { return false; }
  virtual void estimate(std::span<const double> x, std::span<double> remaining,
                        std::span<double> p) const;  // default: throws std::logic_error
  virtual bool is_baseline() const { return false; }
};

// The template model interface for C++ users: any type with
//   void accumulate(std::span<const double> p, std::span<const double> x,
//                   std::span<double> f) const;          // f[i] += term(x[i]; p)
//   void jacobian(std::span<const double> p, std::span<const double> x,
//                 double* jac, int ld) const;             // jac[i + k*ld] = d term / d p_k
// and optionally
//   void estimate(std::span<const double> x, std::span<double> remaining,
//                 std::span<double> p) const;             // as Term::estimate
// over all samples at once (the same shape as a catalogue Term). Wrapped by
// Model::from_functor, it is called directly (inlined into the wrapper's
// loop-free call), one virtual call per evaluation.
template <class F>
concept TermFunctor = requires(const F& f, std::span<const double> p, std::span<const double> x,
                               std::span<double> out, double* jac, int ld) {
  f.accumulate(p, x, out);
  f.jacobian(p, x, jac, ld);
};
template <class F>
concept EstimatingTermFunctor =
    TermFunctor<F> && requires(const F& f, std::span<const double> x, std::span<double> remaining,
                               std::span<double> p) { f.estimate(x, remaining, p); };

// Options of Model::parse beyond the catalogue.
struct ParseOptions {
  // The parameters of the expression terms, in order (`lmbatch fit
  // --params`). Empty: each expression's free names in order of first
  // appearance. Given: each expression takes the listed names it uses, in the
  // listed order; a free name not listed is an error, and so is a listed name
  // that no expression uses.
  std::vector<std::string> expression_parameters;
  // Terms known by name besides the catalogue (plugins), by their spec();
  // usable like catalogue terms, with `*k`. A name that is also a catalogue
  // term is an error.
  std::vector<std::shared_ptr<const CustomTerm>> named_terms;
};

class Model {
 public:
  // Parses "term[*k][+term[*k]...]" (spaces allowed). Throws
  // std::invalid_argument naming the unknown term or the malformed part.
  //
  // A part "expr: <expression>" is an expression term; it runs to the end of
  // the specification (its own + and * belong to it), so it comes last:
  // "gaussian*2 + expr: c0 + c1*x". Elsewhere write it in braces,
  // "expr{a*x^2} + gaussian". "expr(c1, c0): c0 + c1*x" gives that
  // expression's parameters in order (instead of ParseOptions'). spec()
  // writes the list whenever the order is not the order of appearance, so
  // parse(model.spec()) rebuilds the same model. Expression errors are
  // lmbatch::expr::Error (an std::invalid_argument) with the column in the
  // expression.
  static Model parse(std::string_view spec);
  static Model parse(std::string_view spec, const ParseOptions& options);

  // One expression term (parameters: as ParseOptions::expression_parameters).
  static Model expression(std::string_view text, std::vector<std::string> parameters = {});
  // One run-time term (a plugin's, say).
  static Model from_term(std::shared_ptr<const CustomTerm> term);
  // One term from a C++ functor (see TermFunctor); `name` is its spec().
  template <TermFunctor F>
  static Model from_functor(std::string name, std::vector<std::string> parameters, F functor,
                            bool is_baseline = false);

  // The sum of two models: the terms of `other` after this one's, the
  // parameter names renumbered as Model::parse numbers them.
  Model& operator+=(const Model& other);
  friend Model operator+(Model a, const Model& b) { return a += b; }

  // The specification as parsed, spaces removed (e.g. "gaussian*3+linear").
  const std::string& spec() const { return spec_; }
  int n_params() const { return n_params_; }
  // Parameter names; repeated terms get a 1-based suffix: "amplitude_1",
  // "center_1", ..., "amplitude_2", ...; unique names stay bare. The rule is
  // per name, so names shared by different terms are numbered as well
  // ("gaussian+lorentzian": amplitude_1, center_1, sigma, amplitude_2,
  // center_2, gamma) and every name in a model is unique.
  const std::vector<std::string>& parameter_names() const { return names_; }

  // f[i] = sum over terms of term(x[i]; p).
  void value(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  // Column-major m x n Jacobian of f (not of the residual): jac[i + k*m].
  void jacobian(std::span<const double> p, std::span<const double> x, std::span<double> jac) const;
  // Starting values from (x, y); scratch needs x.size() doubles. Baseline
  // terms are estimated first, then the others in specification order, each
  // from what the earlier ones leave of y. Allocates nothing; throws
  // std::invalid_argument if y, scratch or p is too short, or if a term has
  // no estimator (see can_estimate()).
  void estimate(std::span<const double> x, std::span<const double> y, std::span<double> p,
                std::span<double> scratch) const;
  // False when a term cannot estimate starting values (expressions, plugins
  // without an estimator): such a model needs x0 from the caller.
  bool can_estimate() const;
  // The spec of the first term that cannot estimate ("" if none).
  std::string first_term_without_estimate() const;

 private:
  struct Use {
    const Term* term = nullptr;                // a catalogue term, or
    std::shared_ptr<const CustomTerm> custom;  // a run-time term
    int offset = 0;                            // index of its first parameter in p
    int size = 0;                              // its parameter count
  };
  struct Part {
    std::string text;  // as written: "gaussian*3", a named term, or an expression's text
    bool expression = false;
    std::string parameters;  // an expression's "(a,b)" when not in order of appearance
  };
  void add_use(const Term* term, std::shared_ptr<const CustomTerm> custom);
  void number_names();
  void rebuild_spec();
  std::vector<Part> parts_;
  std::string spec_;
  std::vector<Use> uses_;
  std::vector<std::string> names_;
  int n_params_ = 0;
};

namespace detail {
template <class F>
class FunctorTerm final : public CustomTerm {
 public:
  FunctorTerm(std::string name, std::vector<std::string> parameters, F f, bool baseline)
      : name_(std::move(name)), parameters_(std::move(parameters)), f_(std::move(f)),
        baseline_(baseline) {}
  std::string spec() const override { return name_; }
  const std::vector<std::string>& parameters() const override { return parameters_; }
  void accumulate(std::span<const double> p, std::span<const double> x,
                  std::span<double> f) const override {
    f_.accumulate(p, x, f);
  }
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                int ld) const override {
    f_.jacobian(p, x, jac, ld);
  }
  bool has_estimate() const override { return EstimatingTermFunctor<F>; }
  void estimate(std::span<const double> x, std::span<double> remaining,
                std::span<double> p) const override {
    if constexpr (EstimatingTermFunctor<F>) {
      f_.estimate(x, remaining, p);
    } else {
      CustomTerm::estimate(x, remaining, p);
    }
  }
  bool is_baseline() const override { return baseline_; }

 private:
  std::string name_;
  std::vector<std::string> parameters_;
  F f_;
  bool baseline_;
};
}  // namespace detail

template <TermFunctor F>
Model Model::from_functor(std::string name, std::vector<std::string> parameters, F functor,
                          bool is_baseline) {
  return from_term(std::make_shared<const detail::FunctorTerm<F>>(
      std::move(name), std::move(parameters), std::move(functor), is_baseline));
}

}  // namespace lmbatch::models
