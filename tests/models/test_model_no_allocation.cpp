// Model evaluation and estimation allocate nothing: global operator new is
// replaced by a counting one (this executable only) and value, jacobian and
// estimate run on every catalogue term and a few composites between two reads.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;  // NOLINT
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
// The nothrow forms too: the standard's defaults call operator new(size_t), but a
// sanitizer runtime (ASan) supplies its own, whose blocks operator delete below would
// then free() (an alloc-dealloc mismatch) and which this count would not see.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(size ? size : 1);  // NOLINT
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);  // NOLINT
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);  // NOLINT
}
void operator delete(void* p) noexcept {
  std::free(p);  // NOLINT
}
void operator delete[](void* p) noexcept {
  std::free(p);  // NOLINT
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);  // NOLINT
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);  // NOLINT
}

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
    const long before = g_allocations.load();
    model.estimate(x, y, p, scratch);
    model.value(p, x, f);
    model.jacobian(p, x, jac);
    const long during = g_allocations.load() - before;
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
  const long before = g_allocations.load();
  model.value(p, xs, f);
  model.jacobian(p, xs, jac);
  CHECK(g_allocations.load() - before == 0);
}
