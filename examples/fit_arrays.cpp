// Fitting many problems held in memory with lmbatch's library call: the same
// batch engine as `lmbatch fit`, on spans over your own arrays.
//
// Build (from the repository's build tree it is built and run as a test):
//   cmake -S . -B build && cmake --build build && build/examples/fit_arrays
#include <cmath>
#include <cstdio>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/models/model.hpp"

int main() {
  // 1000 decay curves of 100 samples: amplitude * exp(-t / tau) + constant.
  const int m = 100;
  const std::size_t count = 1000;
  std::vector<double> t(m), y(count * m);
  for (int i = 0; i < m; ++i) t[i] = 0.05 * i;
  for (std::size_t k = 0; k < count; ++k) {
    const double tau = 0.5 + 1.5 * static_cast<double>(k) / count;
    for (int i = 0; i < m; ++i)
      y[k * m + i] = 2.0 * std::exp(-t[i] / tau) + 0.1 + 0.002 * std::sin(7.0 * i + k);
  }

  const auto model = lmbatch::models::Model::parse("exponential+constant");
  lmbatch::batch::ArrayInput input;
  input.y = y;  // count x m, row-major
  input.count = count;
  input.m = m;
  input.x = t;  // shared by every problem (or count x m)
  // input.sigma, input.x0: optional; without x0 the model estimates starting values.

  lmbatch::batch::BatchOptions options;  // scipy's leastsq defaults
  options.threads = 2;
  options.progress = [](const lmbatch::batch::Progress& p) {
    if (p.done == p.total)
      std::printf("fitted %zu problems in %.3f s\n", p.done, p.elapsed_seconds);
  };
  const lmbatch::batch::ArrayResult r = lmbatch::batch::fit(model, input, options);

  const int n = r.n;  // amplitude, tau, c
  std::printf("problem 0:   tau = %.6f (ier %d, nfev %d)\n", r.x[1], r.ier[0], r.nfev[0]);
  std::printf("problem 999: tau = %.6f (ier %d, nfev %d)\n", r.x[999 * n + 1], r.ier[999],
              r.nfev[999]);
  std::size_t converged = 0;
  for (auto ier : r.ier) converged += lmbatch::batch::converged(ier);
  std::printf("converged: %zu of %zu\n", converged, count);
  return converged == count ? 0 : 1;
}
