// The MINPACK building blocks on their own.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "lmbatch/leastsq/minpack.hpp"

namespace mp = lmbatch::leastsq::minpack;

TEST_CASE("enorm is the Euclidean norm without overflow or underflow", "[minpack]") {
  const std::vector<double> v{3.0, 4.0};
  CHECK(mp::enorm(v) == 5.0);
  const std::vector<double> big{3e300, 4e300};
  CHECK(mp::enorm(big) == Approx(5e300).epsilon(1e-15));
  const std::vector<double> tiny{3e-300, 4e-300};
  CHECK(mp::enorm(tiny) == Approx(5e-300).epsilon(1e-15));
  const std::vector<double> mixed{1e-30, 1.0, 1e25};
  CHECK(mp::enorm(mixed) == Approx(1e25).epsilon(1e-15));
  CHECK(mp::enorm(std::vector<double>{}) == 0.0);
  CHECK(std::isnan(mp::enorm(std::vector<double>{1.0, NAN})));
  CHECK(std::isinf(mp::enorm(std::vector<double>{1.0, INFINITY})));
}

TEST_CASE("qrfac with pivoting factors A P = Q R with |R| diagonal decreasing", "[minpack]") {
  const int m = 5, n = 3;
  // Column-major 5 x 3; column 2 has the largest norm, column 1 the smallest.
  std::vector<double> a{1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 2, 1, 0, 1, 2};
  const std::vector<double> a0 = a;
  std::vector<int> ipvt(n);
  std::vector<double> rdiag(n), acnorm(n), wa(n), tail(n);
  mp::qrfac(m, n, a.data(), m, true, ipvt.data(), rdiag.data(), acnorm.data(), wa.data(),
            tail.data());
  CHECK(ipvt[0] == 1);
  CHECK(std::fabs(rdiag[0]) >= std::fabs(rdiag[1]));
  CHECK(std::fabs(rdiag[1]) >= std::fabs(rdiag[2]));
  CHECK(acnorm[1] == Approx(std::sqrt(55.0)));
  // R^T R = P^T A^T A P: compare the (0,0) and (0,1) entries.
  const auto col = [&](int j) { return &a0[static_cast<size_t>(ipvt[j]) * m]; };
  double g00 = 0, g01 = 0;
  for (int i = 0; i < m; ++i) {
    g00 += col(0)[i] * col(0)[i];
    g01 += col(0)[i] * col(1)[i];
  }
  CHECK(rdiag[0] * rdiag[0] == Approx(g00));
  CHECK(rdiag[0] * a[0 + 1 * m] == Approx(g01));
}

TEST_CASE("lmpar returns the Gauss-Newton step (par = 0) when it lies inside delta", "[minpack]") {
  // R = diag(2, 1) (already factored, no pivoting), Q^T b = (2, 1): x = (1, 1).
  const int n = 2;
  std::vector<double> r{2, 0, 0, 1};
  const std::vector<int> ipvt{0, 1};
  const std::vector<double> diag{1, 1}, qtb{2, 1};
  std::vector<double> x(n), sdiag(n), wa1(n), wa2(n);
  double par = 0.5;
  mp::lmpar(n, r.data(), n, ipvt.data(), diag.data(), qtb.data(), 10.0, par, x.data(), sdiag.data(),
            wa1.data(), wa2.data());
  CHECK(par == 0.0);
  CHECK(x[0] == 1.0);
  CHECK(x[1] == 1.0);
  // A small trust region forces par > 0 and |D x| within 10% of delta.
  par = 0.0;
  const double delta = 0.5;
  mp::lmpar(n, r.data(), n, ipvt.data(), diag.data(), qtb.data(), delta, par, x.data(),
            sdiag.data(), wa1.data(), wa2.data());
  CHECK(par > 0.0);
  CHECK(std::hypot(x[0], x[1]) == Approx(delta).epsilon(0.1));
}
