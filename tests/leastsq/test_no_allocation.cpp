// A solve allocates nothing: global operator new is replaced by a counting one
// (this executable only) and a whole lmdif and lmder solve runs between two reads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "support/counting_allocator.hpp"

namespace lsq = lmbatch::leastsq;

TEST_CASE("the counting allocator sees allocations", "[allocation]") {
  // Calls the compiler may not elide: a direct call of the replaceable
  // function, and a vector whose buffer escapes through a volatile pointer.
  const long before = allocations_so_far();
  void* raw = ::operator new(64);
  ::operator delete(raw);
  std::vector<double> v(100);
  double* volatile escaped = v.data();
  CHECK(escaped != nullptr);
  CHECK(allocations_so_far() - before == 2);
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

  const long before = allocations_so_far();
  const auto s1 = lsq::lmdif(f, std::span<double>(x1), ws);
  const auto s2 = lsq::lmder(f, jac, std::span<double>(x2), ws);
  std::vector<double>* none = nullptr;  // keeps the reads apart from the solves
  const auto s3 = lsq::lmder(f, jac, std::span<double>(x2), ws, with_diag);
  const long during = allocations_so_far() - before;
  (void)none;

  CHECK(during == 0);
  CHECK(lsq::converged(s1.status));
  CHECK(lsq::converged(s2.status));
  CHECK(lsq::converged(s3.status));
  CHECK(s1.nfev > 10);
}

TEST_CASE("bounded lmdif and lmder allocate nothing once the workspace is sized",
          "[allocation][bounds]") {
  // A peak whose width's upper bound binds and whose amplitude starts on its
  // lower bound: pegged columns, cut steps and backward differences all run.
  constexpr int m = 64, n = 4;
  std::vector<double> t(m), y(m);
  for (int i = 0; i < m; ++i) {
    t[i] = 0.1 * i;
    y[i] = 2.0 * std::exp(-std::pow(t[i] - 3.0, 2) / 1.5) + 0.1 + 0.01 * std::cos(i);
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
  const double lower[] = {1.5, 0.0, 0.1, 0.0}, upper[] = {5.0, 6.0, 0.6, 0.1};
  lsq::Options opt;
  opt.lower = lower;
  opt.upper = upper;
  lsq::Workspace ws(m, n);
  std::vector<double> x1{1.5, 2.7, 0.6, 0.0}, x2 = x1, cov(n * n), tmp(n * n);

  const long before = allocations_so_far();
  const auto s1 = lsq::lmdif(f, std::span<double>(x1), ws, opt);
  const bool cov1 = lsq::covariance(ws, cov, tmp);
  const auto s2 = lsq::lmder(f, jac, std::span<double>(x2), ws, opt);
  const bool cov2 = lsq::covariance(ws, cov, tmp);
  const long during = allocations_so_far() - before;

  CHECK(during == 0);
  CHECK(lsq::converged(s1.status));
  CHECK(lsq::converged(s2.status));
  CHECK(cov1);
  CHECK(cov2);
  CHECK(x2[2] == 0.6);  // the width's upper bound binds
  CHECK(ws.pegged()[2] == 1);
  CHECK(std::isnan(cov[2 * n + 2]));
}

namespace {
// 3W gaussian+constant problems for the lanes, evaluated lane by lane into
// storage sized up front: the problems allocate nothing either.
struct LanePeaks final : lsq::LaneProblems {
  static constexpr int m = 64, n = 4;
  int w, count, given = 0, done = 0, converged = 0;
  std::vector<double> t, y;
  std::vector<int> in_lane;
  explicit LanePeaks(int width)
      : w(width), count(3 * width), t(m), y(static_cast<size_t>(m) * 3 * width), in_lane(width) {
    for (int i = 0; i < m; ++i) t[i] = 0.1 * i;
    for (int k = 0; k < count; ++k)
      for (int i = 0; i < m; ++i)
        y[static_cast<size_t>(k) * m + i] =
            (1.5 + 0.01 * k) * std::exp(-std::pow(t[i] - 3.0 - 0.01 * k, 2) / 0.5) + 0.1 +
            0.01 * std::cos(i + k);
  }
  bool next(int lane, std::span<double> x0) override {
    if (given == count) return false;
    in_lane[lane] = given++;
    const double start[n] = {1.2, 2.8, 0.6, 0.0};
    for (int j = 0; j < n; ++j) x0[j] = start[j];
    return true;
  }
  void residuals(const double* x, double* r, const std::uint8_t* active) override {
    for (int l = 0; l < w; ++l) {
      if (!active[l]) continue;
      const double* yk = y.data() + static_cast<size_t>(in_lane[l]) * m;
      for (int i = 0; i < m; ++i) {
        const double d = t[i] - x[1 * w + l];
        r[i * w + l] = yk[i] - (x[0 * w + l] * std::exp(-d * d / x[2 * w + l]) + x[3 * w + l]);
      }
    }
  }
  void jacobian(const double* x, double* jac, const std::uint8_t* active) override {
    for (int l = 0; l < w; ++l) {
      if (!active[l]) continue;
      for (int i = 0; i < m; ++i) {
        const double a = x[0 * w + l], c = x[1 * w + l], s = x[2 * w + l];
        const double d = t[i] - c, e = std::exp(-d * d / s);
        jac[(0 * m + i) * w + l] = -e;
        jac[(1 * m + i) * w + l] = -a * e * 2.0 * d / s;
        jac[(2 * m + i) * w + l] = -a * e * d * d / (s * s);
        jac[(3 * m + i) * w + l] = -1.0;
      }
    }
  }
  void finished(int, const lsq::Summary& summary, std::span<const double>,
                const lsq::Workspace&) override {
    ++done;
    converged += lsq::converged(summary.status) ? 1 : 0;
  }
};
}  // namespace

TEST_CASE("the SIMD lanes (lmder and lmdif) allocate nothing once sized", "[allocation][lanes]") {
  for (const bool analytic : {true, false}) {
    INFO((analytic ? "lmder" : "lmdif"));
    lsq::LaneLmder lanes(LanePeaks::m, LanePeaks::n, analytic);
    LanePeaks problems(lanes.width());
    const lsq::Options options;
    const long before = allocations_so_far();
    lanes.run(problems, options);
    const long during = allocations_so_far() - before;
    CHECK(during == 0);
    CHECK(problems.done == problems.count);
    CHECK(problems.converged == problems.count);
  }
}
