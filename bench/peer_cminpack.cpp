// cminpack (Debian libcminpack-dev, the C translation of MINPACK) lmder and
// lmdif in a plain loop, with scipy's settings: ftol = xtol = 1.49012e-8,
// gtol = 0, maxfev = 100(n+1) / 200(n+1), epsfcn = 0, mode 1, factor 100.
// Work arrays are allocated once and reused, as a careful C user would.
#include <cminpack.h>

#include <vector>

#include "bench.hpp"

namespace lmbatch::bench {
namespace {

struct Context {
  Evaluator* ev;
};

int fcn_der(void* p, int /*m*/, int /*n*/, const double* x, double* fvec, double* fjac,
            int /*ldfjac*/, int iflag) {
  auto* c = static_cast<Context*>(p);
  if (iflag == 1) c->ev->residuals(x, fvec);
  if (iflag == 2) c->ev->jacobian(x, fjac);  // ldfjac == m: column-major m x n
  return 0;
}

int fcn_dif(void* p, int /*m*/, int /*n*/, const double* x, double* fvec, int /*iflag*/) {
  static_cast<Context*>(p)->ev->residuals(x, fvec);
  return 0;
}

template <bool Analytic>
Times run(const Workload& w, std::size_t first, std::size_t last, PeerResult& r) {
  const int m = w.m, n = w.n;
  const auto mm = static_cast<std::size_t>(m), nn = static_cast<std::size_t>(n);
  Evaluator ev(w);
  Context ctx{&ev};
  std::vector<double> fvec(mm), fjac(mm * nn), diag(nn), qtf(nn), wa1(nn), wa2(nn), wa3(nn),
      wa4(mm);
  std::vector<int> ipvt(nn);
  const int maxfev = default_maxfev(n, Analytic);
  const Stopwatch clock;
  for (std::size_t k = first; k < last; ++k) {
    ev.set_problem(k);
    double* x = r.x.data() + k * nn;
    std::copy(w.x0_row(k), w.x0_row(k) + nn, x);
    int nfev = 0, njev = 0, info;
    if constexpr (Analytic) {
      info = lmder(fcn_der, &ctx, m, n, x, fvec.data(), fjac.data(), m, kFtol, kXtol, kGtol,
                   maxfev, diag.data(), 1, kFactor, 0, &nfev, &njev, ipvt.data(), qtf.data(),
                   wa1.data(), wa2.data(), wa3.data(), wa4.data());
    } else {
      info = lmdif(fcn_dif, &ctx, m, n, x, fvec.data(), kFtol, kXtol, kGtol, maxfev, 0.0,
                   diag.data(), 1, kFactor, 0, &nfev, fjac.data(), m, ipvt.data(), qtf.data(),
                   wa1.data(), wa2.data(), wa3.data(), wa4.data());
    }
    r.ier[k] = info;
    r.nfev[k] = nfev;
    r.njev[k] = njev;
    r.success[k] = info >= 1 && info <= 4;
  }
  return clock.elapsed();
}

}  // namespace

std::vector<PeerInfo> cminpack_peers() {
  return {
      {"cminpack_lmder", "cminpack lmder", true, true, 1, run<true>, "cminpack 1.3 lmder, loop"},
      {"cminpack_lmdif", "cminpack lmdif", false, true, 1, run<false>, "cminpack 1.3 lmdif, loop"},
  };
}

}  // namespace lmbatch::bench
