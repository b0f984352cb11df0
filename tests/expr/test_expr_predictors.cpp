// Several predictors per sample (x1..xd): the predictor names in model
// expressions, which models accept d predictors and the errors for those that
// do not, evaluation over predictor columns, and the batch engine on chunks
// whose x has a trailing predictor dimension (shared and per problem, with
// missing samples).
#include <catch2/catch.hpp>
#include <algorithm>
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
using lmbatch::models::Predictors;
using Names = std::vector<std::string>;
namespace batch = lmbatch::batch;

namespace {

const double kNaN = std::nan("");

std::string parse_error(const std::string& spec, const ParseOptions& o = {}) {
  try {
    Model::parse(spec, o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("no error for " << spec);
  return "";
}

std::string predictor_error(const Model& model, int d) {
  try {
    model.check_predictors(d);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("no error for " << model.spec() << " on " << d << " predictors");
  return "";
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

struct Ramp {
  void accumulate(std::span<const double> p, std::span<const double> x,
                  std::span<double> f) const {
    for (std::size_t i = 0; i < x.size(); ++i) f[i] += p[0] * x[i];
  }
  void jacobian(std::span<const double>, std::span<const double> x, double* jac, int) const {
    for (std::size_t i = 0; i < x.size(); ++i) jac[i] = x[i];
  }
};

const char* const kNelson = "b1 - b2*x1*exp(-b3*x2)";

}  // namespace

TEST_CASE("predictor names: x, x1, x2, ... are variables, never parameters",
          "[expr][model][predictors]") {
  CHECK(lmbatch::models::predictor_index("x") == 0);
  CHECK(lmbatch::models::predictor_index("x1") == 1);
  CHECK(lmbatch::models::predictor_index("x12") == 12);
  CHECK(lmbatch::models::predictor_index("x0") == -1);
  CHECK(lmbatch::models::predictor_index("x01") == -1);
  CHECK(lmbatch::models::predictor_index("x1a") == -1);
  CHECK(lmbatch::models::predictor_index("xi") == -1);
  CHECK(lmbatch::models::predictor_index("b1") == -1);

  const Model nelson = Model::parse(std::string("expr: ") + kNelson);
  CHECK(nelson.parameter_names() == Names{"b1", "b2", "b3"});
  CHECK(nelson.spec() == std::string("expr: ") + kNelson);  // order of appearance: no list
  CHECK(nelson.predictor_use().highest == 2);
  CHECK_FALSE(nelson.predictor_use().single_x);
  CHECK_FALSE(nelson.accepts_predictors(1));
  CHECK(nelson.accepts_predictors(2));
  CHECK(nelson.accepts_predictors(3));  // x3 is simply unused
  ParseOptions o;
  o.expression_parameters = {"b3", "b2", "b1"};
  CHECK(Model::parse(std::string("expr: ") + kNelson, o).spec() ==
        std::string("expr(b3,b2,b1): ") + kNelson);

  // x reads one predictor; x1 is that predictor too; neither: any d.
  const Model with_x = Model::parse("expr: a*x + b");
  CHECK(with_x.accepts_predictors(1));
  CHECK_FALSE(with_x.accepts_predictors(2));
  const Model with_x1 = Model::parse("expr: a*x1 + b");
  CHECK(with_x1.accepts_predictors(1));
  CHECK(with_x1.accepts_predictors(2));
  const Model constant = Model::parse("expr: c");
  CHECK(constant.accepts_predictors(1));
  CHECK(constant.accepts_predictors(5));
  CHECK(Model::parse("gaussian").accepts_predictors(1));
  CHECK_FALSE(Model::parse("gaussian").accepts_predictors(2));
  CHECK_FALSE((Model::parse(std::string("expr: ") + kNelson) + Model::parse("constant"))
                  .accepts_predictors(2));

  // names that only look like predictors stay parameters
  CHECK(Model::parse("expr: x0*x + x01 + xa").parameter_names() == Names{"x0", "x01", "xa"});

  // on one predictor, x1 is x: the same bits
  const std::vector<double> x = {0.5, 1.0, 2.0, -3.0}, p = {1.25, -0.5};
  std::vector<double> f(4), g(4), jf(8), jg(8);
  Model::parse("expr: a*x^2 + b*exp(x)").value(p, x, f);
  Model::parse("expr: a*x1^2 + b*exp(x1)").value(p, x, g);
  CHECK(same_bits(f, g));
  Model::parse("expr: a*x^2 + b*exp(x)").jacobian(p, x, jf);
  Model::parse("expr: a*x1^2 + b*exp(x1)").jacobian(p, x, jg);
  CHECK(same_bits(jf, jg));
}

TEST_CASE("predictor names: errors", "[expr][model][predictors][errors]") {
  CHECK_THAT(parse_error("expr: a*x + b*x2"), Contains("uses both x and x2"));
  CHECK_THAT(parse_error("expr: a*x1 + b*x"), Contains("uses both x and x1"));
  CHECK_THROWS_AS(Model::parse("expr: a*x + b*x2"), lmbatch::expr::Error);
  CHECK_THAT(parse_error("expr: a*x1001"), Contains("\"x1001\" is beyond x1000"));
  ParseOptions o;
  o.expression_parameters = {"a", "x1"};
  CHECK_THAT(parse_error("expr: a*x1", o),
             Contains("parameter name \"x1\" is a predictor variable"));
  CHECK_THAT(parse_error("expr(a, x2): a*x1*x2"),
             Contains("parameter name \"x2\" is a predictor variable"));
}

TEST_CASE("models that cannot read d predictors say which term and what there is",
          "[expr][model][predictors][errors]") {
  // x with several predictors: the variables are named
  CHECK_THAT(predictor_error(Model::parse("expr: a*x + b"), 2),
             Contains("model term \"expr: a*x + b\" uses x") &&
                 Contains("2 predictors per sample, named x1, x2"));
  // a catalogue term reads a single x
  CHECK_THAT(predictor_error(Model::parse("gaussian"), 3),
             Contains("model term \"gaussian\" takes a single x") &&
                 Contains("3 predictors per sample, named x1, x2, x3") &&
                 Contains("only expression terms"));
  // the first term at fault is named, after the ones that are fine
  CHECK_THAT(predictor_error(Model::parse(std::string("expr{") + kNelson + "} + linear"), 2),
             Contains("model term \"linear\" takes a single x"));
  // a functor (or plugin) term too
  CHECK_THAT(predictor_error(Model::from_functor("ramp", {"k"}, Ramp{}), 2),
             Contains("model term \"ramp\" takes a single x"));
  // beyond the predictors there are
  CHECK_THAT(predictor_error(Model::parse("expr: a*x1 + b*x3"), 2),
             Contains("uses x3") && Contains("named x1, x2"));
  CHECK_THAT(predictor_error(Model::parse(std::string("expr: ") + kNelson), 1),
             Contains("uses x2") && Contains("one predictor per sample, named x (or x1)"));
  CHECK_THAT(predictor_error(Model::parse("expr: a*x1 + b*x12"), 10),
             Contains("named x1, x2, x3, ..., x10"));
  CHECK_NOTHROW(Model::parse(std::string("expr: ") + kNelson).check_predictors(2));
  CHECK_NOTHROW(Model::parse("gaussian").check_predictors(1));
}

TEST_CASE("a model over predictor columns is the expression over its variables",
          "[expr][model][predictors]") {
  const std::vector<double> x1 = {1, 1, 2, 4, 8, 16}, x2 = {180, 225, 250, 275, 180, 225};
  const double* columns[2] = {x1.data(), x2.data()};
  const Predictors xs{columns, 2, x1.size()};
  const std::vector<double> p = {2.5, 5e-9, -0.05};
  const Model model = Model::parse(std::string("expr: ") + kNelson);
  lmbatch::expr::CompileOptions options;
  options.variables = {"x1", "x2"};
  const auto e = lmbatch::expr::Expression::compile(kNelson, options);
  std::vector<double> f(6), g(6), jf(18), jg(18);
  model.value(p, xs, f);
  e.value(p.data(), columns, 6, g.data());
  CHECK(same_bits(f, g));
  model.jacobian(p, xs, jf);
  e.jacobian(p.data(), columns, 6, jg.data(), 6);
  CHECK(same_bits(jf, jg));
  // a sum of expressions: each reads the columns it names
  const Model sum = Model::parse(std::string("expr{") + kNelson + "} + expr: c*x2");
  const std::vector<double> q = {2.5, 5e-9, -0.05, 0.001};
  std::vector<double> h(6);
  sum.value(q, xs, h);
  for (std::size_t i = 0; i < 6; ++i) CHECK(h[i] == (0.0 + g[i]) + 0.001 * x2[i]);
}

namespace {

// Problems whose x has d predictors per sample: y count x m, x m x d (shared)
// or count x m x d (per problem), row-major as a ProblemFile reads them.
class PredictorSource final : public batch::ProblemSource {
 public:
  PredictorSource(std::vector<double> y, std::vector<double> x, std::size_t count, int m, int d,
                  batch::Layout layout, std::vector<double> x0)
      : y_(std::move(y)), x_(std::move(x)), x0_(std::move(x0)), count_(count), m_(m), d_(d),
        layout_(layout) {}
  std::size_t problem_count() const override { return count_; }
  int samples() const override { return m_; }
  void read(std::size_t first, int count, batch::Chunk& c) override {
    const auto mm = static_cast<std::size_t>(m_), md = mm * static_cast<std::size_t>(d_);
    const auto rows = static_cast<std::size_t>(count);
    c.first = first;
    c.count = count;
    std::copy_n(y_.begin() + static_cast<std::ptrdiff_t>(first * mm), rows * mm, c.y.begin());
    c.predictors = d_;
    c.x_layout = layout_;
    if (layout_ == batch::Layout::shared) {
      c.x.assign(x_.begin(), x_.end());
    } else {
      c.x.assign(x_.begin() + static_cast<std::ptrdiff_t>(first * md),
                 x_.begin() + static_cast<std::ptrdiff_t>((first + rows) * md));
    }
    c.sigma_layout = batch::Layout::absent;
    c.x0_layout = batch::Layout::shared;
    c.x0.assign(x0_.begin(), x0_.end());
  }

 private:
  std::vector<double> y_, x_, x0_;
  std::size_t count_;
  int m_, d_;
  batch::Layout layout_;
};

struct Results final : batch::ResultSink {
  std::vector<double> x;
  std::vector<int> ier, nfev, m_valid;
  void write(const batch::Chunk& c) override {
    for (int k = 0; k < c.count; ++k) {
      for (int j = 0; j < c.n; ++j) x.push_back(c.x_out[static_cast<std::size_t>(k * c.n + j)]);
      ier.push_back(c.ier[static_cast<std::size_t>(k)]);
      nfev.push_back(c.nfev[static_cast<std::size_t>(k)]);
      m_valid.push_back(c.m_valid[static_cast<std::size_t>(k)]);
    }
  }
};

double truth_value(double a, double b, double c, double x1, double x2) {
  return a * std::exp(-b * x1) + c * x2;
}

}  // namespace

TEST_CASE("the batch engine on per-problem predictors (count x m x 2), with missing samples",
          "[expr][model][predictors][batch]") {
  const Model model = Model::parse("expr: a*exp(-b*x1) + c*x2");
  const int count = 5, m = 24, d = 2;
  std::vector<double> y, x;
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) {
      const double x1 = 0.25 * i + 0.1 * k, x2 = std::sin(0.7 * i + k);
      x.push_back(x1);
      x.push_back(x2);
      y.push_back(truth_value(2.0 + 0.1 * k, 0.5, -0.3 + 0.05 * k, x1, x2) +
                  1e-3 * std::cos(11.0 * i + k));
    }
  // problem 1 misses sample 3 (x2 NaN) and sample 7 (x1 NaN); problem 3 sample 0 (y NaN)
  x[static_cast<std::size_t>((1 * m + 3) * d + 1)] = kNaN;
  x[static_cast<std::size_t>((1 * m + 7) * d + 0)] = kNaN;
  y[static_cast<std::size_t>(3 * m + 0)] = kNaN;
  const std::vector<double> x0 = {1.0, 1.0, 0.0};
  batch::BatchOptions options;
  options.threads = 2;
  options.chunk_size = 2;
  PredictorSource source(y, x, count, m, d, batch::Layout::per_problem, x0);
  Results r;
  batch::run(model, source, r, options);
  REQUIRE(r.ier.size() == static_cast<std::size_t>(count));
  CHECK(r.m_valid == std::vector<int>{m, m - 2, m, m - 1, m});

  // Each problem alone, with its missing samples left out and x shared,
  // gives the same bits: the predictors reach the model as they should.
  for (int k = 0; k < count; ++k) {
    INFO("problem " << k);
    std::vector<double> yk, xk;
    for (int i = 0; i < m; ++i) {
      const auto s = static_cast<std::size_t>(k * m + i);
      const double x1 = x[2 * s], x2 = x[2 * s + 1];
      if (std::isnan(y[s]) || std::isnan(x1) || std::isnan(x2)) continue;
      yk.push_back(y[s]);
      xk.push_back(x1);
      xk.push_back(x2);
    }
    const int mk = static_cast<int>(yk.size());
    PredictorSource alone(yk, xk, 1, mk, d, batch::Layout::shared, x0);
    Results one;
    batch::run(model, alone, one, options);
    CHECK(one.ier[0] == r.ier[static_cast<std::size_t>(k)]);
    CHECK(one.nfev[0] == r.nfev[static_cast<std::size_t>(k)]);
    CHECK(same_bits(one.x, std::vector<double>(r.x.begin() + 3 * k, r.x.begin() + 3 * k + 3)));
    CHECK((r.ier[static_cast<std::size_t>(k)] >= 1 && r.ier[static_cast<std::size_t>(k)] <= 4));
    CHECK(r.x[static_cast<std::size_t>(3 * k)] == Approx(2.0 + 0.1 * k).epsilon(1e-2));
    CHECK(r.x[static_cast<std::size_t>(3 * k + 2)] == Approx(-0.3 + 0.05 * k).margin(1e-2));
  }
}

TEST_CASE("the batch engine refuses a model that cannot read the chunk's predictors",
          "[expr][model][predictors][batch][errors]") {
  const int m = 8;
  std::vector<double> y(m, 1.0), x(2 * m, 1.0);
  batch::BatchOptions options;
  options.threads = 1;
  {
    PredictorSource source(y, x, 1, m, 2, batch::Layout::shared, {1.0, 1.0});
    Results r;
    CHECK_THROWS_WITH(batch::run(Model::parse("linear"), source, r, options),
                      Contains("\"linear\" takes a single x") && Contains("x1, x2"));
  }
  {
    PredictorSource source(y, x, 1, m, 2, batch::Layout::shared, {1.0, 1.0});
    Results r;
    CHECK_THROWS_WITH(batch::run(Model::parse("expr: a*x + b"), source, r, options),
                      Contains("uses x") && Contains("named x1, x2"));
  }
}

TEST_CASE("batch::fit takes predictors (ArrayInput::predictors): the same bits as a chunk source",
          "[expr][model][predictors][batch]") {
  const Model model = Model::parse("expr: a*exp(-b*x1) + c*x2");
  const int count = 6, m = 20, d = 2;
  std::vector<double> y, x_per_problem, x_shared;
  for (int i = 0; i < m; ++i) {
    x_shared.push_back(0.3 * i);
    x_shared.push_back(std::cos(0.9 * i));
  }
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) {
      const double x1 = 0.3 * i + 0.05 * k, x2 = std::sin(0.4 * i - k);
      x_per_problem.push_back(x1);
      x_per_problem.push_back(x2);
      y.push_back(truth_value(1.5 + 0.2 * k, 0.4, 0.2 - 0.1 * k, x1, x2) +
                  1e-3 * std::cos(7.0 * i + k));
    }
  x_per_problem[static_cast<std::size_t>((2 * m + 4) * d + 1)] = kNaN;  // problem 2, sample 4
  const std::vector<double> x0 = {1.0, 1.0, 0.0};
  batch::BatchOptions options;
  options.threads = 2;
  for (const bool shared : {false, true}) {
    INFO((shared ? "shared x (m x 2)" : "per-problem x (count x m x 2)"));
    const std::vector<double>& x = shared ? x_shared : x_per_problem;
    batch::ArrayInput in;
    in.y = y;
    in.count = count;
    in.m = m;
    in.x = x;
    in.predictors = d;
    in.x0 = x0;
    const batch::ArrayResult a = batch::fit(model, in, options);
    PredictorSource source(y, x, count, m, d,
                           shared ? batch::Layout::shared : batch::Layout::per_problem, x0);
    Results r;
    batch::run(model, source, r, options);
    CHECK(same_bits(a.x, r.x));
    CHECK(std::vector<int>(a.nfev.begin(), a.nfev.end()) == r.nfev);
    CHECK(std::vector<int>(a.ier.begin(), a.ier.end()) == r.ier);
    CHECK(std::vector<int>(a.m_valid.begin(), a.m_valid.end()) == r.m_valid);
    CHECK(a.m_valid[2] == (shared ? m : m - 1));
    if (!shared) CHECK(a.x[3] == Approx(1.7).epsilon(1e-2));  // problem 1: a (y from this x)
  }

  batch::ArrayInput in;
  in.y = y;
  in.count = count;
  in.m = m;
  in.predictors = d;
  CHECK_THROWS_WITH(batch::fit(model, in), Contains("predictors = 2 needs x"));
  in.x = std::span<const double>(x_shared).first(static_cast<std::size_t>(m));
  CHECK_THROWS_WITH(batch::fit(model, in), Contains("x has 20 values; expected 40 (shared)"));
  in.x = x_shared;
  CHECK_THROWS_WITH(batch::fit(Model::parse("gaussian"), in),
                    Contains("\"gaussian\" takes a single x"));
  in.predictors = 0;
  CHECK_THROWS_WITH(batch::fit(model, in), Contains("predictors must be >= 1"));
}
