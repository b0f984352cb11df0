// lmbatch::simd::exp and glibc's exp against a correctly rounded exp (MPFR,
// mpfr_exp with MPFR_RNDN), and how often the two differ (issue #19). A
// measurement, not a test: glibc picks its exp at run time (an FMA build on
// AVX2/FMA machines, the SSE2 build elsewhere), so the differences depend on
// the machine. Arguments: tests/support/exp_arguments.hpp, the mix the
// bit-identity test (tests/simd/test_exp.cpp) uses.
//
//   lmbatch_exp_accuracy [N [N_MPFR]]   (defaults 10^8 and 10^7)
//
// N arguments are compared with glibc's exp; every (N / N_MPFR)-th of them
// also with MPFR. Error in ulps: |y - exp(x)| / ulp(correctly rounded exp(x)),
// exp(x) to 160 bits, over the arguments whose result is finite and non-zero
// (subnormal results: the subnormal ulp, 2^-1074).
#include <mpfr.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "lmbatch/simd/exp.hpp"
#include "support/exp_arguments.hpp"

namespace {

struct Accuracy {
  std::size_t measured = 0, correctly_rounded = 0;
  double max_ulp = 0.0, max_ulp_at = 0.0;
};

// The correctly rounded exp(x) (53 bits, subnormals rounded once): binary64's
// exponent range only here (the error computation below needs the default
// range: an error of half a subnormal ulp lies below binary64's).
double correctly_rounded_exp(mpfr_t t, double x) {
  const mpfr_exp_t emin = mpfr_get_emin(), emax = mpfr_get_emax();
  mpfr_set_emin(-1073);  // binary64: subnormals down to 2^-1074
  mpfr_set_emax(1024);
  mpfr_set_d(t, x, MPFR_RNDN);
  const int inexact = mpfr_exp(t, t, MPFR_RNDN);
  mpfr_subnormalize(t, inexact, MPFR_RNDN);
  const double y = mpfr_get_d(t, MPFR_RNDN);
  mpfr_set_emin(emin);
  mpfr_set_emax(emax);
  return y;
}

void measure(Accuracy& a, double x, double y, double cr, mpfr_t exact, mpfr_t diff) {
  if (!(std::isfinite(cr) && cr > 0.0)) return;
  ++a.measured;
  if (std::bit_cast<std::uint64_t>(y) == std::bit_cast<std::uint64_t>(cr)) ++a.correctly_rounded;
  // ulp of the correctly rounded result: 2^(e - 52) for normals, 2^-1074 below.
  int e = 0;
  std::frexp(cr, &e);  // cr = f 2^e, f in [0.5, 1)
  const int ulp_exponent = std::max(e - 53, -1074);
  mpfr_set_d(exact, x, MPFR_RNDN);
  mpfr_exp(exact, exact, MPFR_RNDN);
  mpfr_sub_d(diff, exact, y, MPFR_RNDN);
  mpfr_mul_2si(diff, diff, -ulp_exponent, MPFR_RNDN);
  const double ulps = std::fabs(mpfr_get_d(diff, MPFR_RNDN));
  if (ulps > a.max_ulp) a.max_ulp = ulps, a.max_ulp_at = x;
}

void print(const char* name, const Accuracy& a) {
  std::printf("%-22s max error %.4f ulp (at x = %.17g), correctly rounded %.4f %% (%zu of %zu)\n",
              name, a.max_ulp, a.max_ulp_at,
              100.0 * double(a.correctly_rounded) / double(a.measured), a.correctly_rounded,
              a.measured);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000000u;
  const std::size_t n_mpfr = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000000u;
  const std::size_t stride = std::max<std::size_t>(1, n / std::max<std::size_t>(1, n_mpfr));
  mpfr_t t, exact, diff;
  mpfr_init2(t, 53);
  mpfr_init2(exact, 160);
  mpfr_init2(diff, 160);

  lmbatch::test::ExpArguments args(0x5eed0002u);  // the test's first seed
  std::vector<double> x(1 << 14);
  std::size_t count = 0, differ = 0, differ_finite = 0;
  double first_differ = 0.0;
  Accuracy own, libm;
  const auto start = std::chrono::steady_clock::now();
  while (count < n) {
    args.fill(x);
    for (std::size_t i = 0; i < x.size() && count < n; ++i, ++count) {
      const double y_own = lmbatch::simd::exp(x[i]);
      const double y_libm = std::exp(x[i]);
      if (std::bit_cast<std::uint64_t>(y_own) != std::bit_cast<std::uint64_t>(y_libm) &&
          !(std::isnan(y_own) && std::isnan(y_libm))) {
        if (differ == 0) first_differ = x[i];
        ++differ;
        if (std::isfinite(y_own) && y_own != 0.0) ++differ_finite;
      }
      if (count % stride == 0) {
        const double cr = correctly_rounded_exp(t, x[i]);
        measure(own, x[i], y_own, cr, exact, diff);
        measure(libm, x[i], y_libm, cr, exact, diff);
      }
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("arguments: %zu (tests/support/exp_arguments.hpp, seed 0x5eed0002), %.1f s\n", n,
              seconds);
  std::printf(
      "lmbatch::simd::exp != glibc exp: %zu (%.3g of all; %zu with a finite non-zero result)"
      ", first at x = %.17g\n",
      differ, double(differ) / double(n), differ_finite, first_differ);
  std::printf("against MPFR (every %zu-th argument, finite non-zero results):\n", stride);
  print("lmbatch::simd::exp", own);
  print("glibc exp (this CPU)", libm);
  mpfr_clears(t, exact, diff, static_cast<mpfr_ptr>(nullptr));
  return 0;
}
