// libFuzzer target: arbitrary text as an expression model ("expr: " + text).
// When it parses, the value and the Jacobian are evaluated on a few x values
// (in every predictor it names) (and a parameter vector with a few special values). A parse error
// (lmbatch::expr::Error, std::invalid_argument) is an accepted outcome; a
// crash, a hang or a sanitizer report is a finding.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include "lmbatch/expr/expression.hpp"
#include "lmbatch/models/model.hpp"

namespace {

void evaluate(const lmbatch::models::Model& model) {
  const int n = model.n_params();
  if (n < 0 || n > 4096) return;
  static const double xs[] = {0.0, 1.0, -2.5, 0.5, 1e300, -1e-300,
                              std::numeric_limits<double>::quiet_NaN(),
                              std::numeric_limits<double>::infinity()};
  const std::size_t m = sizeof xs / sizeof xs[0];
  std::vector<double> p(static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) p[k] = 0.75 + k;
  std::vector<double> f(m), jac(m * static_cast<std::size_t>(n));
  // One predictor (x, or x1), or as many as the expression names (x1..xd):
  // every column the same values.
  const int d = model.accepts_predictors(1) ? 1 : model.predictor_use().highest;
  if (!model.accepts_predictors(d)) return;
  const std::vector<const double*> columns(static_cast<std::size_t>(d), xs);
  const lmbatch::models::Predictors x{columns.data(), d, m};
  model.value(p, x, f);
  model.jacobian(p, x, jac);
  // Special parameter values: zeros and a negative.
  for (int k = 0; k < n; ++k) p[k] = (k % 2) ? 0.0 : -1.5;
  model.value(p, x, f);
  model.jacobian(p, x, jac);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // long inputs add nothing but time
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    evaluate(lmbatch::models::Model::parse("expr: " + text));
  } catch (const std::exception&) {
  }
  // The expression API directly, with the chain-rule derivatives.
  try {
    lmbatch::expr::CompileOptions options;
    options.derivatives = lmbatch::expr::CompileOptions::Derivatives::chain_rule;
    const auto e = lmbatch::expr::Expression::compile(text, options);
    const int n = e.n_params();
    if (n <= 4096) {
      const double xs[] = {0.0, 1.0, -3.0, 2.0};
      std::vector<double> p(static_cast<std::size_t>(n), 1.25), f(4), jac(4 * (n ? n : 1));
      e.value(p, xs, f);
      e.jacobian(p, xs, jac.data(), 4);
      (void)e.value_text();
      for (int k = 0; k < n; ++k) (void)e.derivative_text(k);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
