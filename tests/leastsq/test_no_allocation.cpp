// A solve allocates nothing: global operator new is replaced by a counting one
// (this executable only) and a whole lmdif and lmder solve runs between two reads.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <new>
#include <vector>

#include "lmbatch/leastsq/leastsq.hpp"

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
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace lsq = lmbatch::leastsq;

TEST_CASE("the counting allocator sees allocations", "[allocation]") {
  const long before = g_allocations.load();
  std::vector<double>* v = new std::vector<double>(100);
  delete v;
  CHECK(g_allocations.load() - before == 2);
}

TEST_CASE("lmdif and lmder allocate nothing once the workspace is sized", "[allocation]") {
  constexpr int m = 64, n = 4;
  std::vector<double> t(m), y(m);
  for (int i = 0; i < m; ++i) {
    t[i] = 0.1 * i;
    y[i] = 2.0 * std::exp(-std::pow(t[i] - 3.0, 2) / 0.5) + 0.1 + 0.01 * std::cos(i);
  }
  auto f = [&](std::span<const double> p, std::span<double> r) {
    for (int i = 0; i < m; ++i) {
      const double d = t[i] - p[1];
      r[i] = y[i] - (p[0] * std::exp(-d * d / p[2]) + p[3]);
    }
  };
  auto jac = [&](std::span<const double> p, std::span<double> J) {
    for (int i = 0; i < m; ++i) {
      const double d = t[i] - p[1];
      const double e = std::exp(-d * d / p[2]);
      J[i * n + 0] = -e;
      J[i * n + 1] = -p[0] * e * 2.0 * d / p[2];
      J[i * n + 2] = -p[0] * e * d * d / (p[2] * p[2]);
      J[i * n + 3] = -1.0;
    }
  };
  lsq::Workspace ws(m, n);
  std::vector<double> x1{1.5, 2.7, 0.6, 0.0}, x2 = x1;
  const double diag[] = {1.0, 1.0, 1.0, 1.0};
  lsq::Options with_diag;
  with_diag.diag = diag;

  const long before = g_allocations.load();
  const auto s1 = lsq::lmdif(f, std::span<double>(x1), ws);
  const auto s2 = lsq::lmder(f, jac, std::span<double>(x2), ws);
  std::vector<double>* none = nullptr;  // keeps the reads apart from the solves
  const auto s3 = lsq::lmder(f, jac, std::span<double>(x2), ws, with_diag);
  const long during = g_allocations.load() - before;
  (void)none;

  CHECK(during == 0);
  CHECK(lsq::converged(s1.status));
  CHECK(lsq::converged(s2.status));
  CHECK(lsq::converged(s3.status));
  CHECK(s1.nfev > 10);
}
