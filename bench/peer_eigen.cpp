// Eigen's unsupported LevenbergMarquardt module (libeigen3-dev, 3.4:
// <unsupported/Eigen/LevenbergMarquardt>, a MINPACK lmder derivative built on
// ColPivHouseholderQR) in a plain loop, analytic Jacobian.
//
// Settings, scipy's by name: setFtol(1.49012e-8), setXtol(1.49012e-8),
// setGtol(0), setFactor(100), setMaxfev(100(n+1)), automatic scaling (mode 1).
// Its status codes 1..8 mean MINPACK's info codes, so ier compares directly.
// One solver object is reused across problems (its buffers keep their size);
// the QR object is still rebuilt, with allocations, at every iteration.
#include <Eigen/Core>
#include <unsupported/Eigen/LevenbergMarquardt>

#include "bench.hpp"

namespace lmbatch::bench {
namespace {

struct Functor : Eigen::DenseFunctor<double> {
  Functor(int n, int m, Evaluator& e) : Eigen::DenseFunctor<double>(n, m), ev(&e) {}
  int operator()(const Eigen::VectorXd& x, Eigen::VectorXd& fvec) const {
    ev->residuals(x.data(), fvec.data());
    return 0;
  }
  int df(const Eigen::VectorXd& x, Eigen::MatrixXd& fjac) const {
    ev->jacobian(x.data(), fjac.data());  // column-major, leading dimension m
    return 0;
  }
  Evaluator* ev;
};

Times run(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  const auto nn = static_cast<std::size_t>(w.n);
  Evaluator ev(w);
  Functor functor(w.n, w.m, ev);
  Eigen::LevenbergMarquardt<Functor> lm(functor);
  lm.setFtol(kFtol);
  lm.setXtol(kXtol);
  lm.setGtol(kGtol);
  lm.setFactor(kFactor);
  lm.setMaxfev(default_maxfev(w.n, true));
  Eigen::VectorXd x(w.n);
  const Stopwatch clock;
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    for (int j = 0; j < w.n; ++j) x[j] = w.x0_row(k)[j];
    const int status = static_cast<int>(lm.minimize(x));
    for (int j = 0; j < w.n; ++j) r.x[k * nn + static_cast<std::size_t>(j)] = x[j];
    r.ier[k] = status;
    r.nfev[k] = static_cast<int>(lm.nfev());
    r.njev[k] = static_cast<int>(lm.njev());
    r.success[k] = status >= 1 && status <= 4;
  }
  return clock.elapsed();
}

}  // namespace

std::vector<PeerInfo> eigen_peers() {
  return {{"eigen_lm", "Eigen LevenbergMarquardt", true, true, 1, run,
           "unsupported/Eigen/LevenbergMarquardt, analytic df, loop"}};
}

}  // namespace lmbatch::bench
