// LaneLmder (SIMD lanes across problems) against the scalar lmder and lmdif,
// problem by problem: identical status, nfev, njev and ipvt, and the same bits of x,
// the final norm and cov_x, and of the full output (fvec, fjac, qtf), for every
// instruction set this CPU runs (each
// lane width), with lanes refilled as problems finish, so that every lane
// meets every other problem's branches.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/models/model.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"
#include "support/check.hpp"
#include "support/minpack_problems.hpp"
#include "support/nist_models.hpp"
#include "support/reference_data.hpp"

namespace lsq = lmbatch::leastsq;
using lmbatch::test::same_bits;

namespace {

// One solve's outputs, from either path.
struct Outcome {
  lsq::Summary summary;
  std::vector<double> x, cov;
  std::vector<int> ipvt;
  bool cov_ok = false;
  // The full output: fvec; fjac and qtf where the solve factorised.
  bool factored = false;
  std::vector<double> fvec, fjac, qtf;
};

Outcome outcome(const lsq::Summary& summary, std::span<const double> x, const lsq::Workspace& ws) {
  Outcome o;
  o.summary = summary;
  o.x.assign(x.begin(), x.end());
  const auto n = x.size();
  o.ipvt.assign(ws.ipvt().begin(), ws.ipvt().end());
  o.cov.assign(n * n, 0.0);
  std::vector<double> tmp(n * n);
  if (lsq::converged(summary.status)) o.cov_ok = lsq::covariance(ws, o.cov, tmp);
  if (summary.status != lsq::Status::improper_input)
    o.fvec.assign(ws.fvec().begin(), ws.fvec().end());
  o.factored = ws.factored();
  if (o.factored) {
    o.fjac.assign(ws.fjac().begin(), ws.fjac().end());
    o.qtf.assign(ws.qtf().begin(), ws.qtf().end());
  }
  return o;
}

void check_same(const Outcome& lane, const Outcome& scalar) {
  CHECK(lane.summary.status == scalar.summary.status);
  CHECK(lane.summary.nfev == scalar.summary.nfev);
  CHECK(lane.summary.njev == scalar.summary.njev);
  CHECK(same_bits(lane.summary.fnorm, scalar.summary.fnorm));
  REQUIRE(lane.x.size() == scalar.x.size());
  for (size_t j = 0; j < lane.x.size(); ++j) CHECK(same_bits(lane.x[j], scalar.x[j]));
  CHECK(same_bits(lane.fvec, scalar.fvec));
  CHECK(lane.factored == scalar.factored);
  CHECK(same_bits(lane.fjac, scalar.fjac));
  CHECK(same_bits(lane.qtf, scalar.qtf));
  if (lane.factored && scalar.factored) CHECK(lane.ipvt == scalar.ipvt);
  if (lsq::converged(scalar.summary.status) && scalar.summary.status == lane.summary.status) {
    CHECK(lane.ipvt == scalar.ipvt);
    CHECK(lane.cov_ok == scalar.cov_ok);
    if (lane.cov_ok && scalar.cov_ok)
      for (size_t k = 0; k < lane.cov.size(); ++k) CHECK(same_bits(lane.cov[k], scalar.cov[k]));
  }
}

// Problems of one shape given by their residual and Jacobian functions
// (column-major Jacobian) and starting points; the lanes take them in order.
struct Batch : lsq::LaneProblems {
  using Fn = std::function<void(int problem, const double* x, double* out)>;
  int m, n;
  Fn residual_fn, jacobian_fn;
  std::vector<std::vector<double>> starts;
  std::vector<int> in_lane;  // the problem each lane holds
  std::map<int, Outcome> done;
  int given = 0;
  bool analytic = true;  // lmder; false: lmdif (forward differences)
  int jacobian_calls = 0;
  std::vector<double> x, out;

  Batch(int m_, int n_, Fn r, Fn j, std::vector<std::vector<double>> s)
      : m(m_), n(n_), residual_fn(std::move(r)), jacobian_fn(std::move(j)), starts(std::move(s)) {
    x.resize(static_cast<size_t>(n));
    out.resize(static_cast<size_t>(m) * n);
  }
  bool next(int lane, std::span<double> x0) override {
    if (given == static_cast<int>(starts.size())) return false;
    if (in_lane.size() <= static_cast<size_t>(lane)) in_lane.resize(static_cast<size_t>(lane) + 1);
    in_lane[static_cast<size_t>(lane)] = given;
    std::copy(starts[static_cast<size_t>(given)].begin(), starts[static_cast<size_t>(given)].end(),
              x0.begin());
    ++given;
    return true;
  }
  void residuals(const double* p, double* r, const std::uint8_t* active) override {
    const int w = lmbatch::simd::lane_width();
    for (int l = 0; l < w; ++l) {
      if (!active[l]) continue;
      for (int j = 0; j < n; ++j) x[static_cast<size_t>(j)] = p[j * w + l];
      residual_fn(in_lane[static_cast<size_t>(l)], x.data(), out.data());
      for (int i = 0; i < m; ++i) r[i * w + l] = out[static_cast<size_t>(i)];
    }
  }
  void jacobian(const double* p, double* jac, const std::uint8_t* active) override {
    ++jacobian_calls;
    const int w = lmbatch::simd::lane_width();
    for (int l = 0; l < w; ++l) {
      if (!active[l]) continue;
      for (int j = 0; j < n; ++j) x[static_cast<size_t>(j)] = p[j * w + l];
      jacobian_fn(in_lane[static_cast<size_t>(l)], x.data(), out.data());
      for (size_t k = 0; k < static_cast<size_t>(m) * n; ++k) jac[k * w + l] = out[k];
    }
  }
  void finished(int lane, const lsq::Summary& summary, std::span<const double> xs,
                const lsq::Workspace& ws) override {
    done[in_lane[static_cast<size_t>(lane)]] = outcome(summary, xs, ws);
  }
  bool full_output() const override { return true; }

  // Every problem through the lanes and through the scalar lmder (lmdif).
  void check(const lsq::Options& options) {
    lsq::LaneLmder lanes(m, n, analytic);
    jacobian_calls = 0;
    lanes.run(*this, options);
    REQUIRE(done.size() == starts.size());
    if (!analytic) CHECK(jacobian_calls == 0);
    lsq::Workspace ws(m, n);
    lsq::Options scalar_options = options;
    scalar_options.col_deriv = true;
    for (size_t k = 0; k < starts.size(); ++k) {
      INFO("problem " << k);
      std::vector<double> xk = starts[k];
      const int problem = static_cast<int>(k);
      auto residual = [&](std::span<const double> p, std::span<double> r) {
        residual_fn(problem, p.data(), r.data());
      };
      const lsq::Summary s = !analytic ? lsq::lmdif(residual, xk, ws, scalar_options)
                                       : lsq::lmder(
                                             [&](std::span<const double> p, std::span<double> r) {
                                               residual_fn(problem, p.data(), r.data());
                                             },
                                             [&](std::span<const double> p, std::span<double> jac) {
                                               jacobian_fn(problem, p.data(), jac.data());
                                             },
                                             xk, ws, scalar_options);
      check_same(done.at(problem), outcome(s, xk, ws));
    }
  }
};

// Runs body once per instruction set this CPU runs, dispatch limited to it.
void for_each_lane_target(const std::function<void()>& body) {
  for (const std::int64_t target : lmbatch::simd::available_targets()) {
    lmbatch::simd::use_target(target);
    INFO("lanes: " << lmbatch::simd::target_name(lmbatch::simd::chosen_target()) << ", width "
                   << lmbatch::simd::lane_width());
    body();
  }
  lmbatch::simd::use_target(0);
}

}  // namespace

TEST_CASE("lanes: the CPU's targets are known and the width is a vector's doubles", "[lanes]") {
  REQUIRE(!lmbatch::simd::available_targets().empty());
  for_each_lane_target([] {
    const int w = lmbatch::simd::lane_width();
    CHECK((w == 1 || w == 2 || w == 4 || w == 8));
  });
}

namespace {
// Every MINPACK-1 run of lmder (analytic) or lmdif through the lanes.
void minpack_runs_through_lanes(bool analytic) {
  using lmbatch::test::minpack_cases;
  // The runs of one problem (one shape) share the lanes: each start several
  // times over, so that lanes refill and hold different starts side by side.
  std::map<std::string, std::vector<const lmbatch::test::MinpackCase*>> by_shape;
  for (const auto& c : minpack_cases())
    if (c.scipy.analytic == analytic)
      by_shape[std::to_string(c.nprob) + "/" + std::to_string(c.m) + "/" + std::to_string(c.n)]
          .push_back(&c);
  REQUIRE(!by_shape.empty());
  int runs = 0;
  for_each_lane_target([&] {
    for (const auto& [shape, cases] : by_shape) {
      INFO("problem/m/n " << shape);
      const auto* first = cases.front();
      const int m = first->m, n = first->n, nprob = first->nprob;
      std::vector<std::vector<double>> starts;
      for (int repeat = 0; repeat < 3; ++repeat)
        for (const auto* c : cases) starts.push_back(c->scipy.x0);
      lsq::Options opt;
      opt.ftol = first->scipy.ftol;
      opt.xtol = first->scipy.xtol;
      opt.gtol = first->scipy.gtol;
      opt.maxfev = first->scipy.maxfev;
      for (const auto* c : cases)
        REQUIRE((c->scipy.ftol == opt.ftol && c->scipy.xtol == opt.xtol &&
                 c->scipy.gtol == opt.gtol && c->scipy.maxfev == opt.maxfev));
      Batch batch(
          m, n, [=](int, const double* x, double* r) { lmbatch::test::ssqfcn(m, n, x, r, nprob); },
          [=](int, const double* x, double* jac) { lmbatch::test::ssqjac(m, n, x, jac, nprob); },
          starts);
      batch.analytic = analytic;
      batch.check(opt);
      // And the counts MINPACK-1's reference (scipy's run) gives.
      for (size_t k = 0; k < cases.size(); ++k) {
        const Outcome& o = batch.done.at(static_cast<int>(k));
        CHECK(lsq::ier(o.summary.status) == cases[k]->scipy.ier);
        CHECK(o.summary.nfev == cases[k]->scipy.nfev);
        CHECK(o.summary.njev == cases[k]->scipy.njev);
        ++runs;
      }
    }
  });
  CHECK(runs == 53 * static_cast<int>(lmbatch::simd::available_targets().size()));
}
}  // namespace

TEST_CASE("lanes: every MINPACK-1 lmder run gives the scalar run's bits", "[lanes][minpack]") {
  minpack_runs_through_lanes(true);
}

TEST_CASE("lanes: every MINPACK-1 lmdif run gives the scalar run's bits", "[lanes][minpack]") {
  minpack_runs_through_lanes(false);
}

TEST_CASE("lanes: catalogue problems from near and far starts give the scalar run's bits",
          "[lanes]") {
  // gaussian+constant on 64 samples: starts near the truth, far from it, with a
  // zero amplitude (zero Jacobian columns: pivoting ties, zero Householder
  // columns), a zero width (NaN residuals at the start), scaled by 1e-160 and
  // 1e150 (enorm's small and large components, its scalar loop), and a maxfev
  // that ends some solves early.
  const auto model = lmbatch::models::Model::parse("gaussian+constant");
  const int m = 64, n = model.n_params();
  std::vector<double> xs(m);
  for (int i = 0; i < m; ++i) xs[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(19);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> noise(0.0, 0.02);
  const int problems = 97;
  std::vector<std::vector<double>> ys, starts;
  std::vector<double> scale;
  for (int k = 0; k < problems; ++k) {
    const std::vector<double> truth = {1.0 + u(rng), 20.0 + 24.0 * u(rng), 2.0 + 6.0 * u(rng),
                                       0.1 * u(rng)};
    std::vector<double> f(m), y(m);
    model.value(truth, xs, f);
    for (int i = 0; i < m; ++i) y[static_cast<size_t>(i)] = f[static_cast<size_t>(i)] + noise(rng);
    std::vector<double> x0 = truth;
    const double spread = k % 3 == 0 ? 0.1 : k % 3 == 1 ? 0.5 : 2.0;
    for (double& v : x0) v *= 1.0 + spread * (u(rng) - 0.5);
    if (k % 11 == 4) x0[0] = 0.0;
    if (k % 13 == 5) x0[2] = 0.0;
    if (k % 17 == 3) x0[1] = 1e6;
    ys.push_back(y);
    starts.push_back(x0);
    scale.push_back(k % 7 == 2 ? 1e-160 : k % 7 == 5 ? 1e150 : 1.0);
  }
  std::vector<double> f(m);
  Batch batch(
      m, n,
      [&](int k, const double* x, double* r) {
        model.value({x, static_cast<size_t>(n)}, xs, f);
        const double s = scale[static_cast<size_t>(k)];
        for (int i = 0; i < m; ++i)
          r[i] =
              (ys[static_cast<size_t>(k)][static_cast<size_t>(i)] - f[static_cast<size_t>(i)]) * s;
      },
      [&](int k, const double* x, double* jac) {
        model.jacobian({x, static_cast<size_t>(n)}, xs, {jac, static_cast<size_t>(m) * n});
        const double s = scale[static_cast<size_t>(k)];
        for (int i = 0; i < m * n; ++i) jac[i] = -jac[i] * s;
      },
      starts);
  for_each_lane_target([&] {
    for (const int maxfev : {0, 7}) {
      for (const bool analytic : {true, false}) {
        INFO("maxfev " << maxfev << (analytic ? ", lmder" : ", lmdif"));
        batch.done.clear();
        batch.given = 0;
        batch.analytic = analytic;
        lsq::Options opt;
        opt.maxfev = maxfev;
        batch.check(opt);
        // The mix holds converged, maxfev and non-finite ends.
        std::map<lsq::Status, int> seen;
        for (const auto& [k, o] : batch.done) ++seen[o.summary.status];
        CHECK(seen.size() >= 2);
      }
    }
  });
}

namespace {
// Every NIST StRD run of lmder (analytic) or lmdif through the lanes.
void nist_runs_through_lanes(bool analytic) {
  using namespace lmbatch::test;
  // A dataset's analytic runs (start1, start2) share the lanes, three times over.
  std::map<std::string, std::vector<const NistRun*>> by_dataset;
  for (const auto& run : nist_runs())
    if (run.scipy.analytic == analytic) by_dataset[run.dataset].push_back(&run);
  REQUIRE(by_dataset.size() == 27);
  int runs = 0;
  for_each_lane_target([&] {
    for (const auto& [name, dataset_runs] : by_dataset) {
      INFO(name);
      const NistDataset& d = nist_dataset(name);
      const NistModel* model = find_nist_model(name.c_str());
      REQUIRE(model != nullptr);
      const int m = static_cast<int>(d.y.size()), n = model->n_params;
      const double* x2 = d.x2.empty() ? nullptr : d.x2.data();
      std::vector<std::vector<double>> starts;
      for (int repeat = 0; repeat < 3; ++repeat)
        for (const auto* run : dataset_runs) starts.push_back(run->scipy.x0);
      std::vector<double> row_major(static_cast<size_t>(m) * n);
      Batch batch(
          m, n,
          [&](int, const double* b, double* r) {
            model->residuals(b, m, d.x1.data(), x2, d.y.data(), r);
          },
          [&](int, const double* b, double* jac) {  // the model's row-major -> column-major
            model->jacobian(b, m, d.x1.data(), x2, d.y.data(), row_major.data());
            for (int i = 0; i < m; ++i)
              for (int j = 0; j < n; ++j)
                jac[i + static_cast<size_t>(j) * m] = row_major[static_cast<size_t>(i) * n + j];
          },
          starts);
      batch.analytic = analytic;
      batch.check(lsq::Options{});
      for (size_t k = 0; k < dataset_runs.size(); ++k) {
        const Outcome& o = batch.done.at(static_cast<int>(k));
        ++runs;
        // A rounding-sensitive lmdif run (test_nist_strd.cpp) need not take
        // scipy's path; the scalar run's bits (above) still hold.
        if (!analytic && dataset_runs[k]->rounding_sensitive) continue;
        CHECK(lsq::ier(o.summary.status) == dataset_runs[k]->scipy.ier);
        CHECK(o.summary.nfev == dataset_runs[k]->scipy.nfev);
      }
    }
  });
  CHECK(runs == 54 * static_cast<int>(lmbatch::simd::available_targets().size()));
}
}  // namespace

TEST_CASE("lanes: every NIST StRD lmder run gives the scalar run's bits", "[lanes][nist]") {
  nist_runs_through_lanes(true);
}

TEST_CASE("lanes: every NIST StRD lmdif run gives the scalar run's bits", "[lanes][nist]") {
  nist_runs_through_lanes(false);
}

TEST_CASE("lanes: a Jacobian that turns NaN ends as the scalar run does, its factorisation too",
          "[lanes]") {
  // a exp(-b t) + c whose Jacobian's a column is NaN once b has left its start
  // (the second Jacobian): lmder stops with non_finite after factorising it,
  // and the full output holds what qrfac made of the NaN column. The scalar
  // qrfac takes a NaN norm as not zero (NaN != 0), so must the lanes'.
  constexpr int m = 12, n = 3;
  std::vector<std::vector<double>> starts;
  for (int k = 0; k < 19; ++k) starts.push_back({2.0 + 0.1 * k, 0.1 + 0.02 * k, 0.5});
  const auto model = [](int, const double* p, double t) {
    return p[0] * std::exp(-p[1] * t) + p[2];
  };
  Batch batch(
      m, n,
      [&](int k, const double* p, double* r) {
        for (int i = 0; i < m; ++i) r[i] = model(k, p, i) - (1.5 * std::exp(-0.4 * i) + 0.2);
      },
      [&](int k, const double* p, double* jac) {
        const bool moved = p[1] != starts[static_cast<size_t>(k)][1];
        for (int i = 0; i < m; ++i) {
          const double e = std::exp(-p[1] * i);
          jac[i] = moved ? std::nan("") : e;
          jac[m + i] = -p[0] * i * e;
          jac[2 * m + i] = 1.0;
        }
      },
      starts);
  for_each_lane_target([&] {
    batch.done.clear();
    batch.given = 0;
    batch.check(lsq::Options{});
    for (const auto& [k, o] : batch.done) {
      CHECK(o.summary.status == lsq::Status::non_finite);
      CHECK(o.summary.njev == 2);
      CHECK(o.factored);
    }
  });
}
