// Model evaluation and estimation allocate nothing: global operator new is
// replaced by a counting one (this executable only) and value, jacobian and
// estimate run on every catalogue term and a few composites between two reads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"
#include "support/counting_allocator.hpp"

using lmbatch::models::Model;

TEST_CASE("value, jacobian and estimate allocate nothing", "[models][allocation]") {
  std::vector<std::string> specs;
  for (const auto& term : lmbatch::models::catalogue()) specs.emplace_back(term.name);
  specs.emplace_back("gaussian*3+linear");
  specs.emplace_back("exponential*2+constant");
  specs.emplace_back("pseudo_voigt+lorentzian+poly5");
  constexpr int m = 64;
  std::vector<double> x(m), y(m), f(m), scratch(m), jac(static_cast<size_t>(m) * 64), p(64);
  for (int i = 0; i < m; ++i) {
    x[static_cast<size_t>(i)] = 0.1 * ((i * 29) % m);  // unsorted
    y[static_cast<size_t>(i)] =
        2.0 * std::exp(-std::pow(x[static_cast<size_t>(i)] - 3.0, 2)) + 0.1 * std::cos(i);
  }
  for (const auto& spec : specs) {
    INFO(spec);
    const Model model = Model::parse(spec);
    const long before = allocations_so_far();
    model.estimate(x, y, p, scratch);
    model.value(p, x, f);
    model.jacobian(p, x, jac);
    const long during = allocations_so_far() - before;
    CHECK(during == 0);
  }
}

TEST_CASE("evaluation over several predictors allocates nothing after the first",
          "[models][allocation][predictors]") {
  constexpr int m = 64;
  std::vector<double> x1(m), x2(m), f(m), jac(static_cast<size_t>(m) * 3);
  for (int i = 0; i < m; ++i) {
    x1[static_cast<size_t>(i)] = 1.0 + i % 4;
    x2[static_cast<size_t>(i)] = 180.0 + 5.0 * (i % 7);
  }
  const double* columns[2] = {x1.data(), x2.data()};
  const lmbatch::models::Predictors xs{columns, 2, m};
  const std::vector<double> p = {2.5, 5e-9, -0.05};
  const Model model = Model::parse("expr: b1 - b2*x1*exp(-b3*x2)");
  model.value(p, xs, f);  // the first evaluation on a thread sizes its scratch
  model.jacobian(p, xs, jac);
  const long before = allocations_so_far();
  model.value(p, xs, f);
  model.jacobian(p, xs, jac);
  CHECK(allocations_so_far() - before == 0);
}
