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
//
// Predictors: a sample has one position x, or d >= 2 predictors x1..xd (an
// input x of shape (m, d)). Catalogue, plugin and functor terms read a single
// x; expressions read x (one predictor) or x1..xd. In a model expression the
// names x and x1, x2, ... (x followed by a number, no leading zero) are always
// predictors, never parameters; x1 is x when d == 1. accepts_predictors(d)
// says whether a model can be evaluated on d predictors.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmbatch::models {

// The predictors of one problem's samples, column by column: columns[v]
// points at the m values of x_{v+1} (d = count columns; count == 1: x).
struct Predictors {
  const double* const* columns = nullptr;
  int count = 1;
  std::size_t m = 0;
};

// The predictors a term reads.
struct PredictorUse {
  bool single_x = true;  // reads x (or is a catalogue/plugin/functor term): needs d == 1
  int highest = 0;       // reads x1..x_highest (0: none of them): needs d >= highest
  bool accepts(int d) const noexcept { return d >= 1 && d >= highest && (!single_x || d == 1); }
};

// The highest predictor index a model expression may name (x1000).
inline constexpr int kMaxPredictors = 1000;

// 0 for "x", k for "xk" (k >= 1, no leading zero), -1 for any other name
// (and for an index beyond kMaxPredictors: kMaxPredictors + 1).
int predictor_index(std::string_view name) noexcept;

// Where synthetic problems (`lmbatch generate`) put a copy of a term: samples
// x in [0, span]; the copy is the repeat-th (0-based) of `repeats` copies of
// the term in the model.
struct TruthSlot {
  double span = 1.0;
  int repeat = 0;
  int repeats = 1;
};

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
  // Plausible true parameters for synthetic problems: writes
  // parameters.size() values to p from the truth_draws uniforms in [0, 1) of
  // u, drawn in that order by the caller. Peaks spread over the range (the
  // r-th of R copies in the r-th R-th of it), decays go from fast to slow,
  // baselines stay small. u[0] and u[1] place and size a peak within its
  // slot; every term is given them (baselines ignore them), so that a seed
  // keeps drawing the same numbers whatever the model.
  void (*truth)(const TruthSlot& slot, std::span<const double> u, std::span<double> p) = nullptr;
  int truth_draws = 0;
  // Joint estimation (Model::estimate, when every term of a model is a
  // catalogue term and its non-baselines are all peaks or all decays): the
  // model places its peaks or splits its decays over the terms together, then
  // each term writes its parameters from what was found. A peak term from a
  // peak's signed height above the baseline, its center and its full width at
  // half maximum; a decay term from its value at x = 0 and its decay
  // constant. Either kind is linear in its first parameter (the amplitude);
  // catalogue baselines are polynomials, their parameters the coefficients of
  // 1, x, x^2, ... nullptr: not that kind.
  void (*from_peak)(double height, double center, double fwhm, std::span<double> p) = nullptr;
  void (*from_decay)(double amplitude, double tau, std::span<double> p) = nullptr;
  // Bit k set: parameter k is proportional to the data's intensity (an
  // amplitude, a baseline coefficient), so that y -> a y maps the best fit's
  // parameter to a times it. Seeding from an aggregate spectrum (--x0-from)
  // scales these by a problem's own intensity; widths, centers, decay
  // constants and shape factors stay.
  std::uint32_t scales_with_intensity = 0;
  // Lane kernels (issue #19; Model::value_lanes), or nullptr: W =
  // lmbatch::simd::lane_width() problems side by side, p[k*W + l] parameter k
  // of lane l, x the m sample positions shared by all lanes.
  // accumulate_lanes: f[i*W + l] += term(x[i]; p_l), with the bits of
  // accumulate(p_l, x, f_l). jacobian_lanes: jac[(k*m + i)*W + l] = d
  // term(x[i]; p_l) / d p_k (overwritten), with the bits of jacobian(p_l, x, .).
  void (*accumulate_lanes)(const double* p, const double* x, std::size_t m, double* f) = nullptr;
  void (*jacobian_lanes)(const double* p, const double* x, std::size_t m, double* jac) = nullptr;
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
  // Several predictors (x1..xd). A term that reads one x (the default: plugins,
  // functors) is only evaluated with d == 1 (Model refuses it otherwise), and
  // the defaults below evaluate it on x.columns[0]. Expression terms override
  // all three.
  virtual PredictorUse predictor_use() const { return {}; }
  virtual void accumulate_predictors(std::span<const double> p, const Predictors& x,
                                     std::span<double> f) const;
  virtual void jacobian_predictors(std::span<const double> p, const Predictors& x, double* jac,
                                   int ld) const;
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
concept EstimatingTermFunctor = TermFunctor<F> &&
    requires(const F& f, std::span<const double> x, std::span<double> remaining,
             std::span<double> p) {
  f.estimate(x, remaining, p);
};

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

  // f[i] = sum over terms of term(x[i]; p). Needs accepts_predictors(1).
  void value(std::span<const double> p, std::span<const double> x, std::span<double> f) const;
  // Column-major m x n Jacobian of f (not of the residual): jac[i + k*m].
  void jacobian(std::span<const double> p, std::span<const double> x, std::span<double> jac) const;
  // The same over d = x.count predictors per sample (x.m samples); needs
  // accepts_predictors(x.count). With one column, exactly value(p, x, f) above.
  void value(std::span<const double> p, const Predictors& x, std::span<double> f) const;
  void jacobian(std::span<const double> p, const Predictors& x, std::span<double> jac) const;

  // SIMD lanes (issue #19): W problems of the same model and the same m
  // sample positions x side by side, one per lane, W =
  // lmbatch::simd::lane_width() (the dispatched target's doubles per vector:
  // 8 on AVX-512, 4 on AVX2, 2 on SSE4, 1 on Highway's scalar fallback).
  // Element i of lane l is at [i*W + l].
  // Whether every term is a catalogue term (all have lane kernels);
  // expression, plugin and functor terms have none.
  bool has_lane_kernels() const noexcept;
  // p: n x W interleaved (parameter j of lane l at p[j*W + l]); x: the m
  // predictor values shared by all lanes; f: m x W, overwritten with
  // f[i*W + l] = lane l's value at x[i], the same bits as value(p_l, x, f_l)
  // (f filled with 0, then each term accumulated, in specification order).
  // Allocates nothing. Throws std::logic_error if !has_lane_kernels().
  void value_lanes(const double* p, const double* x, std::size_t m, double* f) const;
  // Column k (of n) at jac + k*m*W, element i of lane l at
  // jac[(k*m + i)*W + l]: the same bits as jacobian(p_l, x, jac_l).
  void jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac) const;

  // Whether the model can be evaluated on samples with d predictors: d == 1
  // for any model whose expressions use at most x1 (or x); d >= 2 only when
  // every term is an expression, none uses x, and none uses beyond xd.
  bool accepts_predictors(int d) const noexcept { return predictors_.accepts(d); }
  // Throws std::invalid_argument naming the first term that cannot read d
  // predictors and the variables there are; does nothing if it accepts them.
  void check_predictors(int d) const;
  // What the model's terms read, together.
  const PredictorUse& predictor_use() const noexcept { return predictors_; }
  // Starting values from (x, y); scratch needs x.size() doubles. A model of
  // catalogue terms only whose other terms are all peaks or all decays is
  // estimated jointly (engine/models/estimate.cpp): baselines from the edges,
  // peaks by prominence in order of position, decay constants from an
  // integral-equation fit, then every amplitude and baseline coefficient by
  // linear least squares. Any other model: baseline terms first, then the
  // others in specification order, each from what the earlier ones leave of
  // y. The values are finite for finite data. Allocates nothing; throws
  // std::invalid_argument if y, scratch or p is too short, or if a term has
  // no estimator (see can_estimate()).
  void estimate(std::span<const double> x, std::span<const double> y, std::span<double> p,
                std::span<double> scratch) const;
  // False when a term cannot estimate starting values (expressions, plugins
  // without an estimator): such a model needs x0 from the caller.
  bool can_estimate() const;
  // The spec of the first term that cannot estimate ("" if none).
  std::string first_term_without_estimate() const;
  // Multiplies the intensity-proportional parameters of p
  // (Term::scales_with_intensity) by ratio; run-time terms (expressions,
  // plugins, functors) declare none, and keep theirs.
  void scale_intensity(std::span<double> p, double ratio) const;

 private:
  struct Use {
    const Term* term = nullptr;                // a catalogue term, or
    std::shared_ptr<const CustomTerm> custom;  // a run-time term
    int offset = 0;                            // index of its first parameter in p
    int size = 0;                              // its parameter count
    PredictorUse predictors;                   // what it reads (catalogue: a single x)
  };
  struct Part {
    std::string text;  // as written: "gaussian*3", a named term, or an expression's text
    bool expression = false;
    std::string parameters;  // an expression's "(a,b)" when not in order of appearance
  };
  void add_use(const Term* term, std::shared_ptr<const CustomTerm> custom);
  void number_names();
  void rebuild_spec();
  void sum_predictor_use();
  std::vector<Part> parts_;
  std::string spec_;
  std::vector<Use> uses_;
  std::vector<std::string> names_;
  int n_params_ = 0;
  PredictorUse predictors_;
};

namespace detail {
template <class F>
class FunctorTerm final : public CustomTerm {
 public:
  FunctorTerm(std::string name, std::vector<std::string> parameters, F f, bool baseline)
      : name_(std::move(name)),
        parameters_(std::move(parameters)),
        f_(std::move(f)),
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
