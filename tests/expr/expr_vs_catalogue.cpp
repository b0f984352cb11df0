// Speed of expression models against the same model compiled from the
// catalogue: batch::fit on N problems (default 20000) of m samples (default
// 100) of a gaussian on a constant, analytic Jacobian, one thread.
//
//   expr_vs_catalogue [N] [m] [threads]
//
// Three models, the same data and starting values:
//   catalogue   gaussian+constant
//   expr-issue  expr: a*exp(-(x-mu)^2/(2*s^2)) + c            (as the issue writes it)
//   expr-same   expr: a*exp(-0.5*(((x-mu)/s)*((x-mu)/s))) + c (the catalogue's operation order)
// and for each: seconds (best of 3), the ratio to the catalogue, and how many
// problems end with the catalogue's ier and nfev and x within 1e-6.
// Exit status 1 if an expression model disagrees with the catalogue on a
// converged fit's x by more than 1e-6 (relative), else 0.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/models/model.hpp"

namespace batch = lmbatch::batch;
using lmbatch::models::Model;

int main(int argc, char** argv) {
  const std::size_t count = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  const int m = argc > 2 ? std::atoi(argv[2]) : 100;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 1;

  // Data: amplitude, center, width vary per problem; deterministic noise.
  std::vector<double> x(static_cast<std::size_t>(m)), y(count * static_cast<std::size_t>(m)),
      x0(count * 4);
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = -5.0 + 10.0 * i / (m - 1);
  std::uint64_t state = 12345;
  const auto uniform = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  for (std::size_t k = 0; k < count; ++k) {
    const double a = 1.0 + 4.0 * uniform(), mu = -2.0 + 4.0 * uniform(),
                 s = 0.4 + 1.2 * uniform(), c = -0.5 + uniform();
    for (int i = 0; i < m; ++i) {
      const double xi = x[static_cast<std::size_t>(i)];
      const double u = (xi - mu) / s;
      y[k * static_cast<std::size_t>(m) + static_cast<std::size_t>(i)] =
          a * std::exp(-0.5 * u * u) + c + 0.05 * (uniform() - 0.5);
    }
    x0[4 * k] = a * (0.8 + 0.4 * uniform());
    x0[4 * k + 1] = mu + 0.3 * (uniform() - 0.5);
    x0[4 * k + 2] = s * (0.8 + 0.4 * uniform());
    x0[4 * k + 3] = 0.0;
  }
  batch::ArrayInput in{.y = y, .count = count, .m = m, .x = x, .sigma = {}, .x0 = x0};
  batch::BatchOptions options;
  options.threads = threads;

  struct Entry {
    const char* name;
    Model model;
    double seconds = 1e300;
    batch::ArrayResult result;
  };
  std::vector<Entry> entries;
  const auto add = [&entries](const char* name, const char* spec) {
    entries.push_back(Entry{name, Model::parse(spec), 1e300, {}});
  };
  add("catalogue", "gaussian+constant");
  add("expr-issue", "expr: a*exp(-(x-mu)^2/(2*s^2)) + c");
  add("expr-same", "expr: a*exp(-0.5*(((x-mu)/s)*((x-mu)/s))) + c");
  for (int round = 0; round < 3; ++round) {
    for (Entry& e : entries) {
      const auto t0 = std::chrono::steady_clock::now();
      e.result = batch::fit(e.model, in, options);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      e.seconds = std::min(e.seconds, s);
    }
  }

  const batch::ArrayResult& ref = entries[0].result;
  bool ok = true;
  std::printf("%zu problems, m = %d, %d thread(s), analytic Jacobian; best of 3\n", count, m,
              threads);
  std::printf("%-11s %9s %8s %10s %14s %16s\n", "model", "seconds", "ratio", "fits/s",
              "same ier,nfev", "max rel. diff x");
  for (const Entry& e : entries) {
    std::size_t same = 0;
    double worst = 0.0;
    for (std::size_t k = 0; k < count; ++k) {
      same += e.result.ier[k] == ref.ier[k] && e.result.nfev[k] == ref.nfev[k];
      if (ref.ier[k] < 1 || ref.ier[k] > 4 || e.result.ier[k] < 1 || e.result.ier[k] > 4) continue;
      for (int j = 0; j < 4; ++j) {
        const double a = e.result.x[4 * k + static_cast<std::size_t>(j)],
                     b = ref.x[4 * k + static_cast<std::size_t>(j)];
        // the width's sign is free (s^2): compare magnitudes
        const double d = std::fabs(std::fabs(a) - std::fabs(b)) /
                         std::max({std::fabs(a), std::fabs(b), 1e-300});
        worst = std::max(worst, d);
      }
    }
    if (worst > 1e-6) ok = false;
    std::printf("%-11s %9.3f %8.2f %10.0f %8zu/%-5zu %16.1e\n", e.name, e.seconds,
                e.seconds / entries[0].seconds, static_cast<double>(count) / e.seconds, same,
                count, worst);
  }
  return ok ? 0 : 1;
}
