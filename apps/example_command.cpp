#include <charconv>
#include <cstdio>

#include "commands.hpp"
#include "lmbatch/leastsq/leastsq.hpp"

namespace lmbatch::app {

Run add_example_command(CLI::App& app) {
  app.add_subcommand("example", "solve scipy.optimize.leastsq's docstring example");
  return [] {
    namespace lsq = lmbatch::leastsq;
    // func(x) = 2*(x-3)**2 + 1, x0 = 0: leastsq finds x ~ 3 (residual 1 remains).
    auto func = [](std::span<const double> x, std::span<double> f) {
      f[0] = 2.0 * (x[0] - 3.0) * (x[0] - 3.0) + 1.0;
    };
    const double x0[] = {0.0};
    const lsq::LeastsqResult r = lsq::leastsq(func, x0, 1);
    // Shortest round-trip digits, as Python prints a float.
    char x_text[32];
    *std::to_chars(x_text, x_text + sizeof x_text - 1, r.x[0]).ptr = '\0';
    std::printf("x = %s\nier = %d\nnfev = %d\nmesg = %s\n", x_text, r.ier, r.nfev, r.mesg.c_str());
    return lsq::converged(r.status) ? kExitOk : kExitInputOutputError;
  };
}

}  // namespace lmbatch::app
