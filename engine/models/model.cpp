// Model: parsing of "term[*k][+term[*k]...]" and evaluation of the sum.
#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <map>
#include <memory>
#include <stdexcept>

#include "lmbatch/expr/expression.hpp"
#include "lmbatch/models/model.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "term_support.hpp"

namespace lmbatch::models {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string known_terms() {
  std::string list;
  for (const Term& term : catalogue()) {
    if (!list.empty()) list += ", ";
    list += term.name;
  }
  return list;
}

std::string quoted(std::string_view s) {
  return "\"" + std::string(s) + "\"";
}

// Repeats beyond this are surely a typo (and would make n_params huge).
constexpr int kMaxRepeat = 1000;

}  // namespace

void CustomTerm::estimate(std::span<const double>, std::span<double>, std::span<double>) const {
  throw std::logic_error("model term " + quoted(spec()) + " has no starting-value estimate");
}

void CustomTerm::accumulate_predictors(std::span<const double> p, const Predictors& x,
                                       std::span<double> f) const {
  assert(x.count == 1);
  accumulate(p, std::span<const double>(x.columns[0], x.m), f);
}

void CustomTerm::jacobian_predictors(std::span<const double> p, const Predictors& x, double* jac,
                                     int ld) const {
  assert(x.count == 1);
  jacobian(p, std::span<const double>(x.columns[0], x.m), jac, ld);
}

int predictor_index(std::string_view name) noexcept {
  if (name.empty() || name[0] != 'x') return -1;
  if (name.size() == 1) return 0;
  if (name[1] < '1' || name[1] > '9') return -1;
  int k = 0;
  for (std::size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    if (k <= kMaxPredictors) k = 10 * k + (name[i] - '0');
  }
  return std::min(k, kMaxPredictors + 1);
}

namespace {

// The predictor variables of a model expression: x, or x1..xk (the compiled
// expression's variables are then x1..x_highest, so that Predictors::columns
// is its variable array as it is); x alone when it uses none.
struct ExpressionVariables {
  std::vector<std::string> names;
  PredictorUse use;
};

std::string predictor_names(int d) {
  if (d == 1) return "x (or x1)";
  std::string s;
  for (int v = 1; v <= d; ++v) {
    if (d > 8 && v == 4) {
      s += ", ...";
      v = d - 1;
      continue;
    }
    s += (s.empty() ? "x" : ", x") + std::to_string(v);
  }
  return s;
}

ExpressionVariables expression_variables(std::string_view text) {
  const std::vector<std::string> names = expr::Expression::free_names(text, {});
  ExpressionVariables v;
  v.use.single_x = false;
  std::string indexed;  // the first xk used
  for (const std::string& name : names) {
    const int k = predictor_index(name);
    if (k > kMaxPredictors)
      throw expr::Error("expression " + quoted(text) + ": predictor " + quoted(name) +
                            " is beyond x" + std::to_string(kMaxPredictors),
                        0, name);
    if (k == 0) v.use.single_x = true;
    if (k > 0 && indexed.empty()) indexed = name;
    v.use.highest = std::max(v.use.highest, k);
  }
  if (v.use.single_x && v.use.highest > 0)
    throw expr::Error("expression " + quoted(text) + " uses both x and " + indexed +
                          ": x names the sample position when x has one predictor per sample, "
                          "x1, x2, ... the predictors when it has several; use one or the other",
                      0, indexed);
  if (v.use.highest == 0) {
    v.names = {"x"};
  } else {
    for (int k = 1; k <= v.use.highest; ++k) v.names.push_back("x" + std::to_string(k));
  }
  return v;
}

// A name given as a parameter that is a predictor variable.
void refuse_predictor_parameter(const std::string& name) {
  if (predictor_index(name) >= 0)
    throw std::invalid_argument("parameter name " + quoted(name) +
                                " is a predictor variable (x, or x1, x2, ... for an x with "
                                "several predictors per sample), not a parameter");
}

// An expression term: the compiled expression in x, or in x1..xk.
class ExpressionTerm final : public CustomTerm {
 public:
  ExpressionTerm(expr::Expression e, PredictorUse use) : e_(std::move(e)), use_(use) {}
  std::string spec() const override { return "expr: " + e_.text(); }
  const std::vector<std::string>& parameters() const override { return e_.parameters(); }
  void accumulate(std::span<const double> p, std::span<const double> x,
                  std::span<double> f) const override {
    const double* column = x.data();
    e_.accumulate(p.data(), &column, x.size(), f.data());
  }
  void jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                int ld) const override {
    const double* column = x.data();
    e_.jacobian(p.data(), &column, x.size(), jac, ld);
  }
  PredictorUse predictor_use() const override { return use_; }
  // The variables are x (one column) or x1..x_highest (the first columns).
  void accumulate_predictors(std::span<const double> p, const Predictors& x,
                             std::span<double> f) const override {
    assert(use_.accepts(x.count));
    e_.accumulate(p.data(), x.columns, x.m, f.data());
  }
  void jacobian_predictors(std::span<const double> p, const Predictors& x, double* jac,
                           int ld) const override {
    assert(use_.accepts(x.count));
    e_.jacobian(p.data(), x.columns, x.m, jac, ld);
  }

 private:
  expr::Expression e_;
  PredictorUse use_;
};

bool contains(const std::vector<std::string>& list, std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Compiles one expression of a specification. `listed` (ParseOptions::
// expression_parameters) empty: free names in order of appearance; else the
// listed names the expression uses, in list order (a free name not listed
// fails in compile() with its column).
std::shared_ptr<const CustomTerm> compile_expression(std::string_view text,
                                                     const std::vector<std::string>& listed,
                                                     std::vector<bool>& used) {
  ExpressionVariables variables = expression_variables(text);
  expr::CompileOptions options;
  options.variables = variables.names;
  if (!listed.empty()) {
    const std::vector<std::string> names = expr::Expression::free_names(text, options.variables);
    for (const std::string& name : names)
      if (!contains(listed, name)) {
        options.parameters = listed;
        expr::Expression::compile(text, options);  // throws: unknown name, with its column
      }
    for (std::size_t i = 0; i < listed.size(); ++i)
      if (contains(names, listed[i])) {
        options.parameters.push_back(listed[i]);
        used[i] = true;
      }
  }
  return std::make_shared<const ExpressionTerm>(expr::Expression::compile(text, options),
                                                variables.use);
}

// An expression with its own parameter list ("expr(c, a): ...").
std::shared_ptr<const CustomTerm> compile_expression(std::string_view text,
                                                     const std::vector<std::string>& parameters) {
  for (const std::string& name : parameters) refuse_predictor_parameter(name);
  ExpressionVariables variables = expression_variables(text);
  expr::CompileOptions options;
  options.variables = variables.names;
  options.parameters = parameters;
  return std::make_shared<const ExpressionTerm>(expr::Expression::compile(text, options),
                                                variables.use);
}

// "expr", spaces, an optional "(p1, p2, ...)" parameter list, spaces, then
// ':' or '{'. On success `after` is the position of the ':' or '{' and
// `inline_parameters` the list (empty if none was written).
bool starts_expression(std::string_view s, std::size_t& after,
                       std::vector<std::string>& inline_parameters, bool& has_list) {
  if (s.substr(0, 4) != "expr") return false;
  std::size_t i = 4;
  const auto skip = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  skip();
  has_list = false;
  inline_parameters.clear();
  if (i < s.size() && s[i] == '(') {
    const std::size_t close = s.find(')', i);
    if (close == std::string_view::npos) return false;
    has_list = true;
    std::string_view list = s.substr(i + 1, close - i - 1);
    for (;;) {
      const std::size_t comma = list.find(',');
      const std::string_view name = trim(list.substr(0, comma));
      if (name.empty())
        throw std::invalid_argument("empty parameter name in \"" +
                                    std::string(s.substr(0, close + 1)) + "\"");
      inline_parameters.emplace_back(name);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    i = close + 1;
    skip();
  }
  if (i < s.size() && (s[i] == ':' || s[i] == '{')) {
    after = i;
    return true;
  }
  return false;
}

// Named terms (plugins) must be non-null and must not shadow the catalogue.
void check_named_terms(const ParseOptions& options) {
  for (const auto& named : options.named_terms) {
    if (named == nullptr) throw std::invalid_argument("Model::parse: null named term");
    if (find_term(named->spec()) != nullptr)
      throw std::invalid_argument("model term " + quoted(named->spec()) +
                                  " is already a catalogue term");
  }
}

std::shared_ptr<const CustomTerm> find_named(const ParseOptions& options, std::string_view name) {
  for (const auto& named : options.named_terms)
    if (named->spec() == name) return named;
  return nullptr;
}

// Where an expression part's text lies: after "expr...:" to the end of the
// specification, or inside "expr...{...}". `next` is the position of the
// '+' that follows a braced expression (npos: it ends the specification).
struct ExpressionText {
  std::string_view text;
  std::size_t next = std::string_view::npos;
};

ExpressionText locate_expression(std::string_view spec, std::size_t open, int index,
                                 const std::string& context) {
  ExpressionText located;
  if (spec[open] == ':') {
    located.text = spec.substr(open + 1);
  } else {
    const std::size_t close = spec.find('}', open);
    if (close == std::string_view::npos)
      throw std::invalid_argument("expression term " + std::to_string(index) +
                                  " opened with \"expr{\" has no closing \"}\"" + context);
    located.text = spec.substr(open + 1, close - open - 1);
    const std::string_view rest = trim(spec.substr(close + 1));
    if (!rest.empty()) {
      if (rest.front() != '+')
        throw std::invalid_argument("expected '+' or the end after \"expr{...}\", found " +
                                    quoted(rest) + context);
      located.next = spec.find('+', close + 1);
    }
  }
  located.text = trim(located.text);
  if (located.text.empty())
    throw std::invalid_argument("empty expression (term " + std::to_string(index) + ")" + context);
  return located;
}

// The written form names an expression's parameters, "(c,a)", when their
// order is not the order of appearance, so that spec() alone rebuilds the
// same model; "" otherwise.
std::string parameter_list_head(const CustomTerm& term, std::string_view text) {
  const std::vector<std::string>& params = term.parameters();
  if (params == expr::Expression::free_names(text, expression_variables(text).names)) return {};
  std::string head;
  for (const std::string& p : params) head += (head.empty() ? "" : ",") + p;
  return "(" + head + ")";
}

// A "name" or "name*k" part: the name, and the count as written (empty
// when unstarred).
struct NamedPart {
  std::string_view name;
  std::string_view count;
  bool starred = false;
};

NamedPart split_named_part(std::string_view part, int index, const std::string& context) {
  NamedPart named;
  const std::size_t star = part.find('*');
  named.name = trim(part.substr(0, star));
  if (named.name.empty())
    throw std::invalid_argument("empty term (term " + std::to_string(index) + ")" + context);
  named.starred = star != std::string_view::npos;
  if (named.starred) named.count = trim(part.substr(star + 1));
  return named;
}

// The repeat count of a known term: 1 when unstarred, else an integer in
// [1, kMaxRepeat].
int repeat_count(const NamedPart& part, const std::string& context) {
  if (!part.starred) return 1;
  int repeat = 1;
  const char* first = part.count.data();
  const char* last = part.count.data() + part.count.size();
  const bool digits_only =
      !part.count.empty() && std::all_of(first, last, [](char c) { return c >= '0' && c <= '9'; });
  const auto [end, error] = std::from_chars(first, last, repeat);
  if (!digits_only || error != std::errc() || end != last || repeat < 1 || repeat > kMaxRepeat)
    throw std::invalid_argument("bad repeat count " + quoted(part.count) + " for term " +
                                quoted(part.name) + context + "; expected an integer from 1 to " +
                                std::to_string(kMaxRepeat) + ", as in \"gaussian*3\"");
  return repeat;
}

[[noreturn]] void throw_unknown_term(std::string_view name, const ParseOptions& options,
                                     const std::string& context) {
  std::string known = known_terms();
  for (const auto& t : options.named_terms) known += ", " + t->spec();
  throw std::invalid_argument("unknown model term " + quoted(name) + context +
                              "; known terms: " + known + ", or an expression \"expr: ...\"");
}

// Every name of --params must be used by some expression.
void check_listed_parameters_used(std::string_view spec, const std::vector<std::string>& listed,
                                  const std::vector<bool>& used, bool any_expression,
                                  const std::string& context) {
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (!any_expression)
      throw std::invalid_argument("a parameter list is given but model specification " +
                                  quoted(spec) + " has no expression term");
    if (!used[i])
      throw std::invalid_argument("parameter " + quoted(listed[i]) +
                                  " of the parameter list appears in no expression" + context);
  }
}

}  // namespace

Model Model::parse(std::string_view spec) {
  return parse(spec, ParseOptions{});
}

Model Model::parse(std::string_view spec, const ParseOptions& options) {
  const std::string context = " in model specification " + quoted(spec);
  if (trim(spec).empty())
    throw std::invalid_argument(
        "empty model specification; expected terms joined by '+', e.g. "
        "\"gaussian+constant\" (known terms: " +
        known_terms() + ")");
  check_named_terms(options);
  const std::vector<std::string>& listed = options.expression_parameters;
  for (const std::string& name : listed) refuse_predictor_parameter(name);
  std::vector<bool> used(listed.size(), false);
  bool any_expression = false;

  Model model;
  std::size_t begin = 0;
  for (int index = 1;; ++index) {
    // Leading spaces, then either an expression or a catalogue term.
    while (begin < spec.size() && trim(spec.substr(begin, 1)).empty()) ++begin;
    std::size_t after = 0;
    std::vector<std::string> inline_parameters;
    bool has_list = false;
    if (starts_expression(spec.substr(begin), after, inline_parameters, has_list)) {
      any_expression = true;
      const ExpressionText located = locate_expression(spec, begin + after, index, context);
      // "expr(c, a): ...": this expression's parameters, in this order.
      std::shared_ptr<const CustomTerm> term =
          has_list ? compile_expression(located.text, inline_parameters)
                   : compile_expression(located.text, listed, used);
      std::string head = parameter_list_head(*term, located.text);
      model.add_use(nullptr, std::move(term));
      model.parts_.push_back({std::string(located.text), true, std::move(head)});
      if (located.next == std::string_view::npos) break;
      begin = located.next + 1;
      continue;
    }

    const std::size_t plus = spec.find('+', begin);
    const NamedPart part = split_named_part(
        trim(spec.substr(begin, plus == std::string_view::npos ? spec.npos : plus - begin)), index,
        context);
    const Term* term = find_term(part.name);
    std::shared_ptr<const CustomTerm> named =
        term == nullptr ? find_named(options, part.name) : nullptr;
    if (term == nullptr && named == nullptr) throw_unknown_term(part.name, options, context);
    const int repeat = repeat_count(part, context);
    for (int r = 0; r < repeat; ++r) model.add_use(term, named);
    std::string written(part.name);
    if (part.starred) written += "*" + std::to_string(repeat);
    model.parts_.push_back({std::move(written), false, {}});
    if (plus == std::string_view::npos) break;
    begin = plus + 1;
  }

  check_listed_parameters_used(spec, listed, used, any_expression, context);
  if (model.n_params_ == 0)
    throw std::invalid_argument("model specification " + quoted(spec) +
                                " has no parameters to fit");
  model.number_names();
  model.rebuild_spec();
  model.sum_predictor_use();
  return model;
}

Model Model::expression(std::string_view text, std::vector<std::string> parameters) {
  ParseOptions options;
  options.expression_parameters = std::move(parameters);
  return parse("expr: " + std::string(text), options);
}

Model Model::from_term(std::shared_ptr<const CustomTerm> term) {
  if (term == nullptr) throw std::invalid_argument("Model::from_term: null term");
  Model model;
  model.parts_.push_back({term->spec(), false, {}});
  model.add_use(nullptr, std::move(term));
  model.number_names();
  model.rebuild_spec();
  model.sum_predictor_use();
  return model;
}

Model& Model::operator+=(const Model& other) {
  for (const Use& use : other.uses_) {
    uses_.push_back(use);
    uses_.back().offset = n_params_;
    n_params_ += use.size;
  }
  parts_.insert(parts_.end(), other.parts_.begin(), other.parts_.end());
  number_names();
  rebuild_spec();
  sum_predictor_use();
  return *this;
}

void Model::add_use(const Term* term, std::shared_ptr<const CustomTerm> custom) {
  Use use;
  use.term = term;
  use.custom = std::move(custom);
  use.offset = n_params_;
  use.size = term ? static_cast<int>(term->parameters.size())
                  : static_cast<int>(use.custom->parameters().size());
  if (!term) use.predictors = use.custom->predictor_use();
  n_params_ += use.size;
  uses_.push_back(std::move(use));
}

// "expr: ..." runs to the end of a specification, so an expression that is
// not the last part is written in braces.
void Model::rebuild_spec() {
  spec_.clear();
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    if (i) spec_ += '+';
    const Part& part = parts_[i];
    if (!part.expression) {
      spec_ += part.text;
    } else if (i + 1 == parts_.size()) {
      spec_ += "expr" + part.parameters + ": " + part.text;
    } else {
      spec_ += "expr" + part.parameters + "{" + part.text + "}";
    }
  }
}

// A parameter name that occurs more than once in the model (repeated terms,
// or different terms sharing a name such as gaussian+lorentzian's amplitude)
// is numbered 1, 2, ... in parameter order; a unique one stays bare, so every
// name is unique.
void Model::number_names() {
  std::vector<std::vector<std::string>> raw;
  for (const Use& use : uses_) {
    std::vector<std::string> names;
    if (use.term) {
      for (std::string_view name : use.term->parameters) names.emplace_back(name);
    } else {
      names = use.custom->parameters();
    }
    raw.push_back(std::move(names));
  }
  std::map<std::string, int> occurrences, seen;
  for (const auto& names : raw)
    for (const std::string& name : names) ++occurrences[name];
  names_.clear();
  names_.reserve(static_cast<std::size_t>(n_params_));
  for (const auto& names : raw) {
    for (const std::string& name : names) {
      std::string full(name);
      if (occurrences[name] > 1) full += "_" + std::to_string(++seen[name]);
      names_.push_back(std::move(full));
    }
  }
}

// The sum of the terms' predictor needs: every term must accept d.
void Model::sum_predictor_use() {
  predictors_ = PredictorUse{false, 0};
  for (const Use& use : uses_) {
    predictors_.single_x = predictors_.single_x || use.predictors.single_x;
    predictors_.highest = std::max(predictors_.highest, use.predictors.highest);
  }
}

void Model::check_predictors(int d) const {
  if (accepts_predictors(d)) return;
  if (d < 1) throw std::invalid_argument("the number of predictors must be >= 1");
  const std::string have =
      d == 1 ? std::string("one predictor per sample, named x (or x1)")
             : std::to_string(d) + " predictors per sample, named " + predictor_names(d);
  for (const Use& use : uses_) {
    if (use.predictors.accepts(d)) continue;
    const std::string term = quoted(use.term ? std::string(use.term->name) : use.custom->spec());
    const bool is_expression = dynamic_cast<const ExpressionTerm*>(use.custom.get()) != nullptr;
    if (d >= 2 && !is_expression)
      throw std::invalid_argument(
          "model term " + term + " takes a single x, but the input's x has " + have +
          "; only expression terms can read several predictors (e.g. \"expr: b1 - "
          "b2*x1*exp(-b3*x2)\")");
    if (d >= 2 && use.predictors.single_x)
      throw std::invalid_argument("model term " + term + " uses x, but the input's x has " + have +
                                  ": write the expression in those");
    throw std::invalid_argument("model term " + term + " uses x" +
                                std::to_string(use.predictors.highest) +
                                ", but the input's x has " + have);
  }
  throw std::invalid_argument("model " + quoted(spec_) + " cannot be evaluated on " +
                              std::to_string(d) + " predictors per sample");
}

void Model::value(std::span<const double> p, std::span<const double> x, std::span<double> f) const {
  const double* column = x.data();
  value(p, Predictors{&column, 1, x.size()}, f);
}

void Model::jacobian(std::span<const double> p, std::span<const double> x,
                     std::span<double> jac) const {
  const double* column = x.data();
  jacobian(p, Predictors{&column, 1, x.size()}, jac);
}

void Model::value(std::span<const double> p, const Predictors& x, std::span<double> f) const {
  assert(p.size() >= static_cast<std::size_t>(n_params_) && f.size() >= x.m &&
         accepts_predictors(x.count));
  std::fill(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(x.m), 0.0);
  for (const Use& use : uses_) {
    const auto params =
        p.subspan(static_cast<std::size_t>(use.offset), static_cast<std::size_t>(use.size));
    if (use.term) {
      use.term->accumulate(params, std::span<const double>(x.columns[0], x.m), f);
    } else {
      use.custom->accumulate_predictors(params, x, f);
    }
  }
}

void Model::jacobian(std::span<const double> p, const Predictors& x, std::span<double> jac) const {
  const auto m = static_cast<std::ptrdiff_t>(x.m);
  assert(p.size() >= static_cast<std::size_t>(n_params_) &&
         jac.size() >= x.m * static_cast<std::size_t>(n_params_) && accepts_predictors(x.count));
  for (const Use& use : uses_) {
    const auto params =
        p.subspan(static_cast<std::size_t>(use.offset), static_cast<std::size_t>(use.size));
    double* columns = jac.data() + use.offset * m;
    if (use.term) {
      use.term->jacobian(params, std::span<const double>(x.columns[0], x.m), columns,
                         static_cast<int>(m));
    } else {
      use.custom->jacobian_predictors(params, x, columns, static_cast<int>(m));
    }
  }
}

bool Model::has_lane_kernels() const noexcept {
  return !uses_.empty() && std::all_of(uses_.begin(), uses_.end(), [](const Use& use) {
    return use.term && use.term->accumulate_lanes && use.term->jacobian_lanes;
  });
}

namespace {
void require_lane_kernels(const Model& model) {
  if (!model.has_lane_kernels())
    throw std::logic_error("model " + quoted(model.spec()) +
                           " has a term without lane kernels (an expression, plugin or functor "
                           "term): evaluate it problem by problem");
}
}  // namespace

void Model::value_lanes(const double* p, const double* x, std::size_t m, double* f) const {
  require_lane_kernels(*this);
  const auto w = static_cast<std::size_t>(simd::lane_width());
  std::fill(f, f + m * w, 0.0);
  for (const Use& use : uses_)
    use.term->accumulate_lanes(p + static_cast<std::size_t>(use.offset) * w, x, m, f);
}

void Model::jacobian_lanes(const double* p, const double* x, std::size_t m, double* jac) const {
  require_lane_kernels(*this);
  const auto w = static_cast<std::size_t>(simd::lane_width());
  for (const Use& use : uses_) {
    const auto offset = static_cast<std::size_t>(use.offset);
    use.term->jacobian_lanes(p + offset * w, x, m, jac + offset * m * w);
  }
}

bool Model::can_estimate() const {
  return first_term_without_estimate().empty();
}

std::string Model::first_term_without_estimate() const {
  for (const Use& use : uses_)
    if (!use.term && !use.custom->has_estimate()) return use.custom->spec();
  return {};
}

void Model::scale_intensity(std::span<double> p, double ratio) const {
  for (const Use& use : uses_) {
    if (!use.term) continue;
    for (int k = 0; k < use.size; ++k)
      if ((use.term->scales_with_intensity >> k) & 1u)
        p[static_cast<std::size_t>(use.offset + k)] *= ratio;
  }
}

void Model::estimate(std::span<const double> x, std::span<const double> y, std::span<double> p,
                     std::span<double> scratch) const {
  if (y.size() != x.size() || scratch.size() < x.size() ||
      p.size() < static_cast<std::size_t>(n_params_))
    throw std::invalid_argument(
        "Model::estimate: y must have x's size, scratch at least x's size, "
        "p at least n_params() values");
  if (const std::string term = first_term_without_estimate(); !term.empty())
    throw std::invalid_argument("model term " + quoted(term) +
                                " has no starting-value estimate: starting values (x0) are needed");
  const std::span<double> remaining = scratch.first(x.size());
  // A model of catalogue terms: jointly where it qualifies, and finite.
  constexpr std::size_t kMaxJointTerms = 32;
  const bool catalogue_only =
      std::all_of(uses_.begin(), uses_.end(), [](const Use& use) { return use.term != nullptr; });
  std::array<detail::JointTerm, kMaxJointTerms> joint;
  const std::span<const detail::JointTerm> terms(joint.data(),
                                                 std::min(uses_.size(), kMaxJointTerms));
  if (catalogue_only && uses_.size() <= kMaxJointTerms) {
    for (std::size_t i = 0; i < uses_.size(); ++i)
      joint[i] = {uses_[i].term, p.subspan(static_cast<std::size_t>(uses_[i].offset),
                                           static_cast<std::size_t>(uses_[i].size))};
    if (detail::can_estimate_jointly(terms)) {
      detail::estimate_jointly(x, y, terms, remaining);
      return;
    }
  }
  std::copy(y.begin(), y.end(), remaining.begin());
  // Baselines first, whatever their place in the specification, so that the
  // peak and decay estimators see the signal above the background; within
  // each group, specification order (repeats thus peel off one peak or decay
  // after another).
  for (const bool baselines : {true, false}) {
    for (const Use& use : uses_) {
      const bool is_baseline = use.term ? use.term->is_baseline : use.custom->is_baseline();
      if (is_baseline != baselines) continue;
      const auto params =
          p.subspan(static_cast<std::size_t>(use.offset), static_cast<std::size_t>(use.size));
      if (use.term) {
        use.term->estimate(x, remaining, params);
      } else {
        use.custom->estimate(x, remaining, params);
      }
    }
  }
  if (catalogue_only && uses_.size() <= kMaxJointTerms) detail::make_finite(x, y, terms, remaining);
}

}  // namespace lmbatch::models
