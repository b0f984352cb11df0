// lmbatch's solver as a user calls it: the lmder/lmdif templates in a plain
// loop (one Workspace reused), the same loop on 2 std::threads, and the batch
// engine (batch::fit, the library call `lmbatch fit` runs) on 1 and 2 threads.
// Also the floor: the same evaluations with no solver around them.
#include <atomic>
#include <chrono>
#include <ctime>
#include <stdexcept>
#include <thread>

#include "bench.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/leastsq/leastsq.hpp"

namespace lmbatch::bench {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

namespace {
double clock_seconds(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
}  // namespace

double thread_cpu_seconds() {
  return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

Times Stopwatch::sample() {
  return {now_seconds(), clock_seconds(CLOCK_THREAD_CPUTIME_ID),
          clock_seconds(CLOCK_PROCESS_CPUTIME_ID)};
}

namespace {

namespace lsq = leastsq;

// Solves problems [first, last) with one Workspace; the functors are lambdas
// over the shared Evaluator, so the solver templates call them directly.
void solve_range(const Workload& w, bool analytic, std::size_t first, std::size_t last,
                 PeerResult& r) {
  Evaluator ev(w);
  lsq::Workspace ws(w.m, w.n);
  lsq::Options opt;      // scipy's defaults: ftol = xtol = 1.49012e-8, gtol = 0, maxfev default
  opt.col_deriv = true;  // the Evaluator writes MINPACK's column-major Jacobian
  const auto nn = static_cast<std::size_t>(w.n);
  auto residuals = [&ev](std::span<const double> p, std::span<double> f) {
    ev.residuals(p.data(), f.data());
  };
  auto jacobian = [&ev](std::span<const double> p, std::span<double> jac) {
    ev.jacobian(p.data(), jac.data());
  };
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    double* p = r.x.data() + k * nn;
    std::copy(w.x0_row(k), w.x0_row(k) + nn, p);
    const std::span<double> x(p, nn);
    const lsq::Summary s =
        analytic ? lsq::lmder(residuals, jacobian, x, ws, opt) : lsq::lmdif(residuals, x, ws, opt);
    r.ier[k] = lsq::ier(s.status);
    r.nfev[k] = s.nfev;
    r.njev[k] = s.njev;
    r.success[k] = lsq::converged(s.status);
  }
}

template <bool Analytic>
Times loop_1(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  const Stopwatch clock;
  solve_range(w, Analytic, first, last, r);
  return clock.elapsed();
}

// Two std::threads taking blocks of 64 problems from a shared counter: the
// solver's own scaling, without the engine's pipeline.
template <bool Analytic>
Times loop_2(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  constexpr std::size_t kBlock = 64;
  std::atomic<std::size_t> next{first};
  auto worker = [&] {
    for (;;) {
      const std::size_t begin = next.fetch_add(kBlock);
      if (begin >= last) return;
      solve_range(w, Analytic, begin, std::min(last, begin + kBlock), r);
    }
  };
  const Stopwatch clock;
  std::thread other(worker);
  worker();
  other.join();
  return clock.elapsed();
}

template <bool Analytic, int Threads, batch::Simd Simd = batch::Simd::automatic>
Times engine(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  if (!w.model) throw std::logic_error("the engine takes catalogue models only");
  const std::size_t count = last - first;
  const auto mm = static_cast<std::size_t>(w.m), nn = static_cast<std::size_t>(w.n);
  batch::ArrayInput in;
  in.y = std::span<const double>(w.y_row(first), count * mm);
  in.count = count;
  in.m = w.m;
  in.x = w.xs;  // shared
  in.x0 = std::span<const double>(w.x0_row(first), count * nn);
  batch::BatchOptions o;  // solver: scipy's defaults; chunk_size 1024; tokens 2 x threads
  o.jacobian = Analytic ? batch::JacobianMode::analytic : batch::JacobianMode::forward;
  o.threads = Threads;
  o.simd = Simd;
  const Stopwatch clock;
  const batch::ArrayResult res = batch::fit(*w.model, in, o);
  const Times seconds = clock.elapsed();
  std::copy(res.x.begin(), res.x.end(), r.x.begin() + static_cast<std::ptrdiff_t>(first * nn));
  for (std::size_t k = 0; k < count; ++k) {
    r.ier[first + k] = res.ier[k];
    r.nfev[first + k] = res.nfev[k];
    r.njev[first + k] = res.njev[k];
    r.success[first + k] = batch::converged(res.ier[k]);
  }
  return seconds;
}

}  // namespace

std::vector<PeerInfo> lmbatch_peers() {
  return {
      {"lmbatch_lmder_loop", "lmbatch lmder, loop", true, true, 1, loop_1<true>,
       "leastsq::lmder template, one Workspace, 1 thread"},
      {"lmbatch_lmdif_loop", "lmbatch lmdif, loop", false, true, 1, loop_1<false>,
       "leastsq::lmdif template (forward differences), 1 thread"},
      {"lmbatch_lmder_loop_2t", "lmbatch lmder, loop x2 threads", true, true, 2, loop_2<true>,
       "the same loop on 2 std::threads (blocks of 64 problems)"},
      {"engine_lmder_1t", "lmbatch engine lmder, 1 thread", true, true, 1, engine<true, 1>,
       "batch::fit (TBB pipeline, cov_x computed), threads=1, simd auto (SIMD lanes)"},
      {"engine_lmder_1t_scalar", "lmbatch engine lmder, 1 thread, simd off", true, true, 1,
       engine<true, 1, batch::Simd::off>,
       "batch::fit, threads=1, simd off (one problem at a time)"},
      {"engine_lmder_2t", "lmbatch engine lmder, 2 threads", true, true, 2, engine<true, 2>,
       "batch::fit, threads=2"},
      {"engine_lmdif_1t", "lmbatch engine lmdif, 1 thread", false, true, 1, engine<false, 1>,
       "batch::fit, forward differences, threads=1, simd auto (SIMD lanes)"},
      {"engine_lmdif_1t_scalar", "lmbatch engine lmdif, 1 thread, simd off", false, true, 1,
       engine<false, 1, batch::Simd::off>,
       "batch::fit, forward differences, threads=1, simd off (one problem at a time)"},
      {"engine_lmdif_2t", "lmbatch engine lmdif, 2 threads", false, true, 2, engine<false, 2>,
       "batch::fit, forward differences, threads=2"},
  };
}

FloorTimes run_floor(const Workload& w, std::size_t first, std::size_t last,
                     const std::vector<int>& nfev, const std::vector<int>& njev) {
  Evaluator ev(w);
  const auto mm = static_cast<std::size_t>(w.m), nn = static_cast<std::size_t>(w.n);
  std::vector<double> r(mm), jac(mm * nn);
  volatile double sink = 0.0;
  FloorTimes t;
  double t0 = thread_cpu_seconds();
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    for (int c = 0; c < nfev[k]; ++c) {
      ev.residuals(w.x0_row(k), r.data());
      sink = sink + r[0];
    }
    t.residual_calls += nfev[k];
  }
  t.residual_seconds = thread_cpu_seconds() - t0;
  t0 = thread_cpu_seconds();
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    for (int c = 0; c < njev[k]; ++c) {
      ev.jacobian(w.x0_row(k), jac.data());
      sink = sink + jac[0];
    }
    t.jacobian_calls += njev[k];
  }
  t.jacobian_seconds = thread_cpu_seconds() - t0;
  return t;
}

}  // namespace lmbatch::bench
