// --simd auto against --simd off through the batch engine: every result field
// the same bits, for problems that go into the lanes and problems beside them
// that do not (missing samples), weighted and not, estimated and given
// starts, analytic Jacobians (lmder) and forward differences (lmdif), with and
// without full output, 1 and 2 threads and any chunking; and the lanes are used.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "../support/check.hpp"
#include "../support/results.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

namespace batch = lmbatch::batch;
using lmbatch::models::Model;

using lmbatch::test::check_same_results;
using lmbatch::test::same_bits;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Problems of model on x = 0..m-1 from truths drawn by `truth`, with noise;
// every 9th problem misses two samples, and sigma varies per sample.
struct Problems {
  int m;
  std::size_t count;
  std::vector<double> y, sigma, x0;
  template <class Truth>
  Problems(const Model& model, int m_, std::size_t count_, Truth truth) : m(m_), count(count_) {
    std::mt19937_64 rng(19);
    std::normal_distribution<double> noise(0.0, 0.02);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const auto n = static_cast<std::size_t>(model.n_params());
    std::vector<double> xs(static_cast<std::size_t>(m)), f(xs.size()), p(n);
    for (int i = 0; i < m; ++i) xs[static_cast<std::size_t>(i)] = i;
    for (std::size_t k = 0; k < count; ++k) {
      truth(rng, p);
      model.value(p, xs, f);
      for (int i = 0; i < m; ++i) {
        const double s = 0.01 + 0.03 * u(rng);
        sigma.push_back(s);
        y.push_back(f[static_cast<std::size_t>(i)] + noise(rng));
      }
      if (k % 9 == 4) y[k * m + 3] = y[k * m + 40] = kNaN;
      // Given starts: 0.6..1.6 times the truth, some too far to converge.
      for (double v : p) x0.push_back(v * (0.6 + u(rng)));
    }
  }
};

batch::BatchOptions with(batch::Simd simd, int threads, int chunk_size,
                         batch::JacobianMode jacobian = batch::JacobianMode::analytic,
                         bool full_output = false, batch::Loss loss = batch::Loss::linear) {
  batch::BatchOptions o;
  o.loss = loss;
  o.f_scale = 0.05;  // the noise's scale: the robust losses bend
  o.full_output = full_output;
  o.jacobian = jacobian;
  o.simd = simd;
  o.threads = threads;
  o.chunk_size = chunk_size;
  return o;
}

// Forward differences (lmdif) call no Jacobian: njev stays 0 (proof that the
// run was lmdif's), and the counts differ from lmder's.
void check_mode(const batch::ArrayResult& r, batch::JacobianMode jacobian) {
  const bool any_njev = std::any_of(r.njev.begin(), r.njev.end(), [](auto v) { return v != 0; });
  CHECK(any_njev == (jacobian == batch::JacobianMode::analytic));
}

void check_simd_changes_nothing(const Model& model, const Problems& data,
                                batch::Loss loss = batch::Loss::linear) {
  // The problems the lanes take: every sample present (and, under poisson,
  // no negative count: those are not solved, as with simd off).
  std::size_t complete = 0;
  for (std::size_t k = 0; k < data.count; ++k) {
    const auto first = data.y.begin() + static_cast<std::ptrdiff_t>(k * data.m);
    complete += std::all_of(first, first + data.m, [&](double y) {
      return std::isfinite(y) && (loss != batch::Loss::poisson || y >= 0.0);
    });
  }
  // A shared x other than the sample index (the lanes' model kernels take it).
  std::vector<double> shared_x(static_cast<std::size_t>(data.m));
  for (std::size_t i = 0; i < shared_x.size(); ++i)
    shared_x[i] = 0.75 * static_cast<double>(i) + 2.0;
  for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    for (const bool weighted : {false, true}) {
      for (const bool given_x0 : {false, true}) {
        for (const bool full : {false, true}) {
          INFO("weighted " << weighted << ", given x0 " << given_x0 << ", "
                           << (jacobian == batch::JacobianMode::analytic ? "lmder" : "lmdif")
                           << ", full output " << full);
          batch::ArrayInput in;
          in.y = data.y;
          in.count = data.count;
          in.m = data.m;
          if (weighted) in.sigma = data.sigma;
          if (given_x0) in.x = shared_x;  // half the runs with a shared x
          if (given_x0) in.x0 = data.x0;
          const auto off =
              batch::fit(model, in, with(batch::Simd::off, 1, 1024, jacobian, full, loss));
          CHECK(off.fjac.size() == (full ? data.count * model.n_params() * data.m : 0));
          CHECK(off.summary.lane_problems == 0);
          check_mode(off, jacobian);
          for (const int threads : {1, 2}) {
            for (const int chunk : {5, 64}) {
              INFO(threads << " threads, chunks of " << chunk);
              const auto on = batch::fit(
                  model, in, with(batch::Simd::automatic, threads, chunk, jacobian, full, loss));
              check_same_results(on, off);
              // Every problem with all its samples went into the lanes (where
              // the CPU has vectors of two doubles).
              if (lmbatch::simd::lane_width() > 1) CHECK(on.summary.lane_problems == complete);
            }
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("simd auto gives simd off's bits: gaussian+constant", "[batch][simd]") {
  const Model model = Model::parse("gaussian+constant");
  const Problems data(model, 64, 203, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {1.0 + u(rng), 20.0 + 24.0 * u(rng), 2.0 + 6.0 * u(rng), 0.1 * u(rng)};
  });
  check_simd_changes_nothing(model, data);
}

TEST_CASE("simd auto gives simd off's bits: exponential*2+constant", "[batch][simd]") {
  const Model model = Model::parse("exponential*2+constant");
  const Problems data(model, 96, 131, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {1.0 + u(rng), 3.0 + 4.0 * u(rng), 0.5 + u(rng), 20.0 + 30.0 * u(rng), 0.1 * u(rng)};
  });
  check_simd_changes_nothing(model, data);
}

TEST_CASE("simd auto gives simd off's bits under every robust loss and poisson", "[batch][simd]") {
  // Counts of a peak on a background (the poisson loss's data), a few of
  // them negative (problems poisson does not solve, lanes or not).
  const Model model = Model::parse("gaussian+constant");
  Problems data(model, 64, 40, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {50.0 + 50.0 * u(rng), 20.0 + 24.0 * u(rng), 2.0 + 6.0 * u(rng), 2.0 + 3.0 * u(rng)};
  });
  for (std::size_t k = 6; k < data.count; k += 13) data.y[k * 64 + 10] = -1.0;
  for (const auto loss : {batch::Loss::soft_l1, batch::Loss::huber, batch::Loss::cauchy,
                          batch::Loss::arctan, batch::Loss::poisson}) {
    INFO("loss " << static_cast<int>(loss));
    check_simd_changes_nothing(model, data, loss);
  }
  // x per problem: the lanes evaluate the model lane by lane (no lane
  // kernels), each lane's transform from its gathered samples.
  std::vector<double> x_per_problem;
  for (std::size_t k = 0; k < data.count; ++k)
    for (int i = 0; i < data.m; ++i) x_per_problem.push_back(0.75 * i + 2.0);
  batch::ArrayInput in;
  in.y = data.y;
  in.count = data.count;
  in.m = data.m;
  in.x = x_per_problem;
  in.sigma = data.sigma;
  for (const auto loss : {batch::Loss::huber, batch::Loss::poisson}) {
    INFO("x per problem, loss " << static_cast<int>(loss));
    const auto off = batch::fit(
        model, in, with(batch::Simd::off, 1, 1024, batch::JacobianMode::analytic, true, loss));
    const auto on = batch::fit(
        model, in, with(batch::Simd::automatic, 2, 7, batch::JacobianMode::analytic, true, loss));
    check_same_results(on, off);
    if (lmbatch::simd::lane_width() > 1) CHECK(on.summary.lane_problems > data.count / 2);
  }
}

TEST_CASE("simd auto on every instruction set the CPU runs gives the same bits", "[batch][simd]") {
  const Model model = Model::parse("gaussian+constant");
  const Problems data(model, 48, 61, [](std::mt19937_64& rng, std::vector<double>& p) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    p = {1.0 + u(rng), 15.0 + 18.0 * u(rng), 2.0 + 5.0 * u(rng), 0.1 * u(rng)};
  });
  batch::ArrayInput in;
  in.y = data.y;
  in.count = data.count;
  in.m = data.m;
  for (const auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    INFO((jacobian == batch::JacobianMode::analytic ? "lmder" : "lmdif"));
    const auto off = batch::fit(model, in, with(batch::Simd::off, 1, 1024, jacobian));
    check_mode(off, jacobian);
    for (const std::int64_t target : lmbatch::simd::available_targets()) {
      lmbatch::simd::use_target(target);
      INFO(lmbatch::simd::target_name(lmbatch::simd::chosen_target()));
      check_same_results(batch::fit(model, in, with(batch::Simd::automatic, 2, 16, jacobian)), off);
    }
    lmbatch::simd::use_target(0);
  }
}
