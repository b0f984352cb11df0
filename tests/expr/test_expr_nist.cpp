// The 27 NIST StRD models written as expressions (their model_expression,
// verbatim) against the generated reference models and scipy's runs:
//  * the residuals are bit-identical to tests/support/nist_models.cpp (the
//    reference evaluation) at both starts and at the certified values;
//  * the derivatives print exactly as sympy's jacobian_of_model (the
//    expression's derivatives are sympy's, see sym.hpp), so the Jacobian is
//    bit-identical to the reference too;
//  * lmdif and lmder on the expression give scipy's ier, nfev (njev) and x in
//    all 108 runs, the rounding-sensitive MGH09 start1 lmder run included.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <vector>

#include "lmbatch/expr/expression.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "nist_expressions.hpp"
#include "support/check.hpp"
#include "support/conformance_report.hpp"
#include "support/nist_models.hpp"
#include "support/reference_data.hpp"

namespace lsq = lmbatch::leastsq;
using lmbatch::expr::CompileOptions;
using lmbatch::expr::Expression;
using namespace lmbatch::test;

namespace {

struct Problem {
  const NistDataset* data;
  const NistModel* reference;
  Expression expression;
  std::vector<double> response;  // y or log(y)
  std::vector<const double*> vars;
  int m = 0, n = 0;
};

Problem problem(const std::string& name) {
  const NistExpression e = nist_expression(name);
  CompileOptions options;
  options.parameters = e.parameters;
  options.variables = e.predictors;
  Problem p{&nist_dataset(name), find_nist_model(name.c_str()),
            Expression::compile(e.model_expression, options), {}, {}, 0, 0};
  p.m = static_cast<int>(p.data->y.size());
  p.n = p.data->n_params;
  for (const double y : p.data->y) p.response.push_back(e.response == "y" ? y : std::log(y));
  p.vars.push_back(p.data->x1.data());
  if (e.predictors.size() == 2) p.vars.push_back(p.data->x2.data());
  return p;
}

void residuals(const Problem& p, const double* b, double* r, std::vector<double>& f) {
  p.expression.value(b, p.vars.data(), static_cast<std::size_t>(p.m), f.data());
  for (int i = 0; i < p.m; ++i) r[i] = p.response[static_cast<std::size_t>(i)] - f[static_cast<std::size_t>(i)];
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("NIST expressions: the derivatives are sympy's, as printed in jacobian_of_model",
          "[expr][nist]") {
  int same = 0, total = 0;
  for (const std::string& name : nist_dataset_names()) {
    const NistExpression e = nist_expression(name);
    CompileOptions options;
    options.parameters = e.parameters;
    options.variables = e.predictors;
    const Expression expression = Expression::compile(e.model_expression, options);
    for (int k = 0; k < expression.n_params(); ++k) {
      INFO(name << " b" << k + 1);
      CHECK(expression.sympy_derivative(k) == e.jacobian[static_cast<std::size_t>(k)]);
      same += expression.sympy_derivative(k) == e.jacobian[static_cast<std::size_t>(k)];
      ++total;
    }
  }
  CHECK(total == 120);
  std::printf("nist expressions: %d of %d derivatives print as sympy's jacobian_of_model\n", same,
              total);
}

TEST_CASE("NIST expressions: residuals bit-identical to the reference models", "[expr][nist]") {
  int jacobian_columns = 0, jacobian_columns_same = 0;
  for (const std::string& name : nist_dataset_names()) {
    INFO(name);
    const Problem p = problem(name);
    REQUIRE(p.reference != nullptr);
    REQUIRE(p.expression.n_params() == p.n);
    const double* x2 = p.data->x2.empty() ? nullptr : p.data->x2.data();
    std::vector<double> f(static_cast<std::size_t>(p.m));
    for (const auto* b : {&p.data->start1, &p.data->start2, &p.data->certified_values}) {
      std::vector<double> ours(static_cast<std::size_t>(p.m)), ref(ours.size());
      residuals(p, b->data(), ours.data(), f);
      p.reference->residuals(b->data(), p.m, p.data->x1.data(), x2, p.data->y.data(), ref.data());
      CHECK(same_bits(ours, ref));

      // Jacobian: the same bits as the reference (sympy's derivative text).
      std::vector<double> jac(static_cast<std::size_t>(p.m * p.n));
      std::vector<double> jref(jac.size());
      p.expression.jacobian(b->data(), p.vars.data(), static_cast<std::size_t>(p.m), jac.data(),
                            p.m);
      p.reference->jacobian(b->data(), p.m, p.data->x1.data(), x2, p.data->y.data(), jref.data());
      for (int j = 0; j < p.n; ++j) {
        bool same = true;
        double worst = 0.0, scale = 0.0;
        for (int i = 0; i < p.m; ++i) {
          const double ours_ij = -jac[static_cast<std::size_t>(i + j * p.m)];
          const double ref_ij = jref[static_cast<std::size_t>(i * p.n + j)];
          same = same && std::memcmp(&ours_ij, &ref_ij, sizeof(double)) == 0;
          worst = std::max(worst, std::fabs(ours_ij - ref_ij));
          scale = std::max(scale, std::fabs(ref_ij));
        }
        ++jacobian_columns;
        jacobian_columns_same += same;
        INFO("column b" << j + 1 << ": " << p.expression.derivative_text(j));
        CHECK(worst <= 1e-12 * scale);
      }
    }
  }
  std::printf("nist expressions: %d of %d Jacobian columns bit-identical to sympy's derivatives\n",
              jacobian_columns_same, jacobian_columns);
  // 27 models x 3 points: every column, since the derivatives are sympy's own text.
  CHECK(jacobian_columns == 360);
  CHECK(jacobian_columns_same == 360);
}

TEST_CASE("NIST expressions: scipy's ier and nfev in all 108 runs", "[conformance][expr][nist]") {
  int analytic_match = 0, analytic_runs = 0, forward_match = 0, forward_runs = 0;
  ConformanceReport report("expr_nist", "| run | ier (scipy) | nfev (scipy) | max rel. diff x |\n|---|---|---|---|");
  for (const NistRun& run : nist_runs()) {
    const ScipyRun& ref = run.scipy;
    INFO(ref.id);
    const Problem p = problem(run.dataset);
    std::vector<double> f(static_cast<std::size_t>(p.m));
    auto res = [&](std::span<const double> b, std::span<double> r) {
      residuals(p, b.data(), r.data(), f);
    };
    auto jac = [&](std::span<const double> b, std::span<double> J) {
      p.expression.jacobian(b.data(), p.vars.data(), static_cast<std::size_t>(p.m), J.data(), p.m);
      for (double& v : J) v = -v;
    };
    lsq::Options opt;
    opt.col_deriv = true;
    lsq::Workspace ws(p.m, p.n);
    std::vector<double> x = ref.x0;
    const lsq::Summary s = ref.analytic ? lsq::lmder(res, jac, std::span<double>(x), ws, opt)
                                        : lsq::lmdif(res, std::span<double>(x), ws, opt);
    const bool counts = lsq::ier(s.status) == ref.ier && s.nfev == ref.nfev &&
                        (!ref.analytic || s.njev == ref.njev);
    const double dx = max_relative_difference(x, ref.x);
    if (ref.analytic) {
      ++analytic_runs;
      analytic_match += counts;
      CHECK(s.njev == ref.njev);
    } else {
      ++forward_runs;
      forward_match += counts;
    }
    CHECK(lsq::ier(s.status) == ref.ier);
    CHECK(s.nfev == ref.nfev);
    CHECK(dx <= 1e-9);
    report.row(format("| %s | %d (%d) | %d (%d) | %.1e |", ref.id.c_str(), lsq::ier(s.status),
                      ref.ier, s.nfev, ref.nfev, dx));
  }
  report.summary(format("%d/%d forward-difference runs with scipy's ier and nfev", forward_match,
                        forward_runs));
  report.summary(format("%d/%d analytic-Jacobian runs with scipy's ier, nfev and njev",
                        analytic_match, analytic_runs));
  CHECK(forward_runs == 54);
  CHECK(forward_match == 54);
  CHECK(analytic_runs == 54);
  CHECK(analytic_match == 54);
}
