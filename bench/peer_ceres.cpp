// Ceres' tiny_solver.h (libceres-dev; header-only, needs Eigen only): a small
// dense LM (normal equations, LDLT) in a plain loop, analytic Jacobian.
// NUM_PARAMETERS is fixed at compile time (4, 5 or 11), NUM_RESIDUALS dynamic.
//
// tiny_solver's tests are not MINPACK's; the closest settings to scipy's:
//  - parameter_tolerance = xtol (1.49012e-8): |dx| < xtol (|x| + xtol), MINPACK's
//    delta <= xtol |D x| without the scaling;
//  - function_tolerance = ftol x (m - n) noise^2: tiny_solver stops on an
//    absolute change of |f|^2, MINPACK on a relative one (ftol x |f|^2); the
//    expected |f|^2 at the solution, (m - n) noise^2, turns one into the other;
//  - gradient_tolerance = 0 (gtol = 0), cost_threshold = 0 (no MINPACK test);
//  - max_num_iterations = 100 (n + 1): one residual evaluation per iteration,
//    as lmder's maxfev counts them.
// Its statuses are its own (0 gradient, 1 relative step, 2 cost, 3 max
// iterations, 4 cost change): only success (anything but 3) compares with scipy.
#include <ceres/tiny_solver.h>

#include "bench.hpp"

namespace lmbatch::bench {
namespace {

template <int N>
struct Function {
  using Scalar = double;
  enum { NUM_RESIDUALS = Eigen::Dynamic, NUM_PARAMETERS = N };
  int NumResiduals() const { return m; }
  bool operator()(const double* p, double* residuals, double* jacobian) const {
    ev->residuals(p, residuals);
    ++*nfev;
    if (jacobian != nullptr) {
      ev->jacobian(p, jacobian);  // Eigen column-major m x N: J[i + j*m]
      ++*njev;
    }
    return true;
  }
  Evaluator* ev;
  int m;
  int* nfev;
  int* njev;
};

template <int N>
Times run(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  Evaluator ev(w);
  int nfev = 0, njev = 0;
  const Function<N> f{&ev, w.m, &nfev, &njev};
  ceres::TinySolver<Function<N>> solver;
  solver.options.parameter_tolerance = kXtol;
  solver.options.function_tolerance = kFtol * (w.m - w.n) * w.noise * w.noise;
  solver.options.gradient_tolerance = kGtol;
  solver.options.cost_threshold = 0.0;
  solver.options.max_num_iterations = default_maxfev(w.n, true);
  typename ceres::TinySolver<Function<N>>::Parameters x;
  const Stopwatch clock;
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    for (int j = 0; j < N; ++j) x[j] = w.x0_row(k)[j];
    nfev = njev = 0;
    const auto& summary = solver.Solve(f, &x);
    for (int j = 0; j < N; ++j) r.x[k * N + static_cast<std::size_t>(j)] = x[j];
    r.ier[k] = static_cast<int>(summary.status);
    r.nfev[k] = nfev;
    r.njev[k] = njev;
    r.success[k] = summary.status != ceres::TinySolver<Function<N>>::HIT_MAX_ITERATIONS;
  }
  return clock.elapsed();
}

Times run_any(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  switch (w.n) {
    case 4:
      return run<4>(w, first, last, r);
    case 5:
      return run<5>(w, first, last, r);
    case 11:
      return run<11>(w, first, last, r);
    default:
      throw std::invalid_argument("tiny_solver peer: no instantiation for n = " +
                                  std::to_string(w.n));
  }
}

}  // namespace

std::vector<PeerInfo> ceres_peers() {
  return {{"ceres_tiny", "Ceres tiny_solver", true, false, 1, run_any,
           "ceres/tiny_solver.h (LDLT on J^T J), analytic Jacobian, loop"}};
}

}  // namespace lmbatch::bench
