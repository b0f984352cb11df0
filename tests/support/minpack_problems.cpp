// Transcription of MINPACK-1's ssqfcn / ssqjac / initpt (see minpack_problems.hpp).
// Fortran indices are 1-based; here x(j) is x[j-1], fvec(i) is fvec[i-1] and
// fjac(i,j) is fjac[(i-1) + (j-1)*m]. A Fortran unary minus applies to the whole
// product that follows it (-a*b is -(a*b)); this is written out explicitly.
#include "minpack_problems.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace lmbatch::test {

namespace {

constexpr double zero = 0.0;
constexpr double zp25 = 0.25;
constexpr double zp5 = 0.5;
constexpr double one = 1.0;
constexpr double two = 2.0;
constexpr double three = 3.0;
constexpr double four = 4.0;
constexpr double five = 5.0;
constexpr double eight = 8.0;
constexpr double ten = 10.0;
constexpr double c13 = 13.0;
constexpr double c14 = 14.0;
constexpr double c20 = 20.0;
constexpr double c29 = 29.0;
constexpr double c45 = 45.0;
constexpr double c100 = 100.0;

// Kowalik and Osborne abscissae u_i.
constexpr double v[11] = {4.0e0,   2.0e0,  1.0e0,   5.0e-1,  2.5e-1, 1.67e-1,
                          1.25e-1, 1.0e-1, 8.33e-2, 7.14e-2, 6.25e-2};
// Bard.
constexpr double y1[15] = {1.4e-1, 1.8e-1, 2.2e-1, 2.5e-1, 2.9e-1, 3.2e-1, 3.5e-1, 3.9e-1,
                           3.7e-1, 5.8e-1, 7.3e-1, 9.6e-1, 1.34e0, 2.1e0,  4.39e0};
// Kowalik and Osborne.
constexpr double y2[11] = {1.957e-1, 1.947e-1, 1.735e-1, 1.6e-1,  8.44e-2, 6.27e-2,
                           4.56e-2,  3.42e-2,  3.23e-2,  2.35e-2, 2.46e-2};
// Meyer.
constexpr double y3[16] = {3.478e4, 2.861e4, 2.365e4, 1.963e4, 1.637e4, 1.372e4, 1.154e4, 9.744e3,
                           8.261e3, 7.03e3,  6.005e3, 5.147e3, 4.427e3, 3.82e3,  3.307e3, 2.872e3};
// Osborne 1.
constexpr double y4[33] = {8.44e-1, 9.08e-1, 9.32e-1, 9.36e-1, 9.25e-1, 9.08e-1, 8.81e-1,
                           8.5e-1,  8.18e-1, 7.84e-1, 7.51e-1, 7.18e-1, 6.85e-1, 6.58e-1,
                           6.28e-1, 6.03e-1, 5.8e-1,  5.58e-1, 5.38e-1, 5.22e-1, 5.06e-1,
                           4.9e-1,  4.78e-1, 4.67e-1, 4.57e-1, 4.48e-1, 4.38e-1, 4.31e-1,
                           4.24e-1, 4.2e-1,  4.14e-1, 4.11e-1, 4.06e-1};
// Osborne 2.
constexpr double y5[65] = {
    1.366e0, 1.191e0, 1.112e0, 1.013e0, 9.91e-1, 8.85e-1, 8.31e-1, 8.47e-1, 7.86e-1, 7.25e-1,
    7.46e-1, 6.79e-1, 6.08e-1, 6.55e-1, 6.16e-1, 6.06e-1, 6.02e-1, 6.26e-1, 6.51e-1, 7.24e-1,
    6.49e-1, 6.49e-1, 6.94e-1, 6.44e-1, 6.24e-1, 6.61e-1, 6.12e-1, 5.58e-1, 5.33e-1, 4.95e-1,
    5.0e-1,  4.23e-1, 3.95e-1, 3.75e-1, 3.72e-1, 3.91e-1, 3.96e-1, 4.05e-1, 4.28e-1, 4.29e-1,
    5.23e-1, 5.62e-1, 6.07e-1, 6.53e-1, 6.72e-1, 7.08e-1, 6.33e-1, 6.68e-1, 6.45e-1, 6.32e-1,
    5.91e-1, 5.59e-1, 5.97e-1, 6.25e-1, 7.39e-1, 7.1e-1,  7.29e-1, 7.2e-1,  6.36e-1, 5.81e-1,
    4.28e-1, 2.92e-1, 1.62e-1, 9.8e-2,  5.4e-2};

[[noreturn]] void bad_problem(int nprob) {
  throw std::invalid_argument("minpack problem number out of range 1..18: " +
                              std::to_string(nprob));
}

}  // namespace

void ssqfcn(int m, int n, const double* x, double* fvec, int nprob) {
  // 1-based accessors, as in the Fortran.
  auto X = [x](int j) { return x[j - 1]; };
  auto F = [fvec](int i) -> double& { return fvec[i - 1]; };

  switch (nprob) {
    case 1: {  // Linear function - full rank.
      double sum = zero;
      for (int j = 1; j <= n; ++j) sum = sum + X(j);
      const double temp = two * sum / static_cast<double>(m) + one;
      for (int i = 1; i <= m; ++i) {
        F(i) = -temp;
        if (i <= n) F(i) = F(i) + X(i);
      }
      return;
    }
    case 2: {  // Linear function - rank 1.
      double sum = zero;
      for (int j = 1; j <= n; ++j) sum = sum + static_cast<double>(j) * X(j);
      for (int i = 1; i <= m; ++i) F(i) = static_cast<double>(i) * sum - one;
      return;
    }
    case 3: {  // Linear function - rank 1 with zero columns and rows.
      double sum = zero;
      for (int j = 2; j <= n - 1; ++j) sum = sum + static_cast<double>(j) * X(j);
      for (int i = 1; i <= m - 1; ++i) F(i) = static_cast<double>(i - 1) * sum - one;
      F(m) = -one;
      return;
    }
    case 4:  // Rosenbrock.
      F(1) = ten * (X(2) - X(1) * X(1));
      F(2) = one - X(1);
      return;
    case 5: {  // Helical valley.
      const double tpi = eight * std::atan(one);
      double tmp1 = std::copysign(zp25, X(2));
      if (X(1) > zero) tmp1 = std::atan(X(2) / X(1)) / tpi;
      if (X(1) < zero) tmp1 = std::atan(X(2) / X(1)) / tpi + zp5;
      const double tmp2 = std::sqrt(X(1) * X(1) + X(2) * X(2));
      F(1) = ten * (X(3) - ten * tmp1);
      F(2) = ten * (tmp2 - one);
      F(3) = X(3);
      return;
    }
    case 6: {  // Powell singular.
      F(1) = X(1) + ten * X(2);
      F(2) = std::sqrt(five) * (X(3) - X(4));
      const double d3 = X(2) - two * X(3);
      F(3) = d3 * d3;
      const double d4 = X(1) - X(4);
      F(4) = std::sqrt(ten) * (d4 * d4);
      return;
    }
    case 7:  // Freudenstein and Roth.
      F(1) = -c13 + X(1) + ((five - X(2)) * X(2) - two) * X(2);
      F(2) = -c29 + X(1) + ((one + X(2)) * X(2) - c14) * X(2);
      return;
    case 8:  // Bard.
      for (int i = 1; i <= 15; ++i) {
        const double tmp1 = static_cast<double>(i);
        const double tmp2 = static_cast<double>(16 - i);
        double tmp3 = tmp1;
        if (i > 8) tmp3 = tmp2;
        F(i) = y1[i - 1] - (X(1) + tmp1 / (X(2) * tmp2 + X(3) * tmp3));
      }
      return;
    case 9:  // Kowalik and Osborne.
      for (int i = 1; i <= 11; ++i) {
        const double tmp1 = v[i - 1] * (v[i - 1] + X(2));
        const double tmp2 = v[i - 1] * (v[i - 1] + X(3)) + X(4);
        F(i) = y2[i - 1] - X(1) * tmp1 / tmp2;
      }
      return;
    case 10:  // Meyer.
      for (int i = 1; i <= 16; ++i) {
        const double temp = five * static_cast<double>(i) + c45 + X(3);
        const double tmp1 = X(2) / temp;
        const double tmp2 = std::exp(tmp1);
        F(i) = X(1) * tmp2 - y3[i - 1];
      }
      return;
    case 11: {  // Watson.
      for (int i = 1; i <= 29; ++i) {
        const double div = static_cast<double>(i) / c29;
        double s1 = zero;
        double dx = one;
        for (int j = 2; j <= n; ++j) {
          s1 = s1 + static_cast<double>(j - 1) * dx * X(j);
          dx = div * dx;
        }
        double s2 = zero;
        dx = one;
        for (int j = 1; j <= n; ++j) {
          s2 = s2 + dx * X(j);
          dx = div * dx;
        }
        F(i) = s1 - s2 * s2 - one;
      }
      F(30) = X(1);
      F(31) = X(2) - X(1) * X(1) - one;
      return;
    }
    case 12:  // Box 3-dimensional.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i);
        const double tmp1 = temp / ten;
        F(i) = std::exp(-(tmp1 * X(1))) - std::exp(-(tmp1 * X(2))) +
               (std::exp(-temp) - std::exp(-tmp1)) * X(3);
      }
      return;
    case 13:  // Jennrich and Sampson.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i);
        F(i) = two + two * temp - std::exp(temp * X(1)) - std::exp(temp * X(2));
      }
      return;
    case 14:  // Brown and Dennis.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i) / five;
        const double tmp1 = X(1) + temp * X(2) - std::exp(temp);
        const double tmp2 = X(3) + std::sin(temp) * X(4) - std::cos(temp);
        F(i) = tmp1 * tmp1 + tmp2 * tmp2;
      }
      return;
    case 15: {  // Chebyquad.
      for (int i = 1; i <= m; ++i) F(i) = zero;
      for (int j = 1; j <= n; ++j) {
        double tmp1 = one;
        double tmp2 = two * X(j) - one;
        const double temp = two * tmp2;
        for (int i = 1; i <= m; ++i) {
          F(i) = F(i) + tmp2;
          const double ti = temp * tmp2 - tmp1;
          tmp1 = tmp2;
          tmp2 = ti;
        }
      }
      const double dx = one / static_cast<double>(n);
      int iev = -1;
      for (int i = 1; i <= m; ++i) {
        F(i) = dx * F(i);
        if (iev > 0) {
          const double di = static_cast<double>(i);
          F(i) = F(i) + one / (di * di - one);
        }
        iev = -iev;
      }
      return;
    }
    case 16: {  // Brown almost-linear.
      double sum = -static_cast<double>(n + 1);
      double prod = one;
      for (int j = 1; j <= n; ++j) {
        sum = sum + X(j);
        prod = X(j) * prod;
      }
      for (int i = 1; i <= n - 1; ++i) F(i) = X(i) + sum;
      F(n) = prod - one;
      return;
    }
    case 17:  // Osborne 1.
      for (int i = 1; i <= 33; ++i) {
        const double temp = ten * static_cast<double>(i - 1);
        const double tmp1 = std::exp(-(X(4) * temp));
        const double tmp2 = std::exp(-(X(5) * temp));
        F(i) = y4[i - 1] - (X(1) + X(2) * tmp1 + X(3) * tmp2);
      }
      return;
    case 18:  // Osborne 2.
      for (int i = 1; i <= 65; ++i) {
        const double temp = static_cast<double>(i - 1) / ten;
        const double d9 = temp - X(9);
        const double d10 = temp - X(10);
        const double d11 = temp - X(11);
        const double tmp1 = std::exp(-(X(5) * temp));
        const double tmp2 = std::exp(-(X(6) * (d9 * d9)));
        const double tmp3 = std::exp(-(X(7) * (d10 * d10)));
        const double tmp4 = std::exp(-(X(8) * (d11 * d11)));
        F(i) = y5[i - 1] - (X(1) * tmp1 + X(2) * tmp2 + X(3) * tmp3 + X(4) * tmp4);
      }
      return;
    default:
      bad_problem(nprob);
  }
}

void ssqjac(int m, int n, const double* x, double* fjac, int nprob) {
  auto X = [x](int j) { return x[j - 1]; };
  auto J = [fjac, m](int i, int j) -> double& { return fjac[(i - 1) + (j - 1) * m]; };

  switch (nprob) {
    case 1: {  // Linear function - full rank.
      const double temp = two / static_cast<double>(m);
      for (int j = 1; j <= n; ++j) {
        for (int i = 1; i <= m; ++i) J(i, j) = -temp;
        J(j, j) = J(j, j) + one;
      }
      return;
    }
    case 2:  // Linear function - rank 1.
      for (int j = 1; j <= n; ++j)
        for (int i = 1; i <= m; ++i) J(i, j) = static_cast<double>(i) * static_cast<double>(j);
      return;
    case 3:  // Linear function - rank 1 with zero columns and rows.
      for (int j = 1; j <= n; ++j)
        for (int i = 1; i <= m; ++i) J(i, j) = zero;
      for (int j = 2; j <= n - 1; ++j)
        for (int i = 2; i <= m - 1; ++i)
          J(i, j) = static_cast<double>(i - 1) * static_cast<double>(j);
      return;
    case 4:  // Rosenbrock.
      J(1, 1) = -(c20 * X(1));
      J(1, 2) = ten;
      J(2, 1) = -one;
      J(2, 2) = zero;
      return;
    case 5: {  // Helical valley.
      const double tpi = eight * std::atan(one);
      const double temp = X(1) * X(1) + X(2) * X(2);
      const double tmp1 = tpi * temp;
      const double tmp2 = std::sqrt(temp);
      J(1, 1) = c100 * X(2) / tmp1;
      J(1, 2) = -(c100 * X(1) / tmp1);
      J(1, 3) = ten;
      J(2, 1) = ten * X(1) / tmp2;
      J(2, 2) = ten * X(2) / tmp2;
      J(2, 3) = zero;
      J(3, 1) = zero;
      J(3, 2) = zero;
      J(3, 3) = one;
      return;
    }
    case 6:  // Powell singular.
      for (int j = 1; j <= 4; ++j)
        for (int i = 1; i <= 4; ++i) J(i, j) = zero;
      J(1, 1) = one;
      J(1, 2) = ten;
      J(2, 3) = std::sqrt(five);
      J(2, 4) = -J(2, 3);
      J(3, 2) = two * (X(2) - two * X(3));
      J(3, 3) = -(two * J(3, 2));
      J(4, 1) = two * std::sqrt(ten) * (X(1) - X(4));
      J(4, 4) = -J(4, 1);
      return;
    case 7:  // Freudenstein and Roth.
      J(1, 1) = one;
      J(1, 2) = X(2) * (ten - three * X(2)) - two;
      J(2, 1) = one;
      J(2, 2) = X(2) * (two + three * X(2)) - c14;
      return;
    case 8:  // Bard.
      for (int i = 1; i <= 15; ++i) {
        const double tmp1 = static_cast<double>(i);
        const double tmp2 = static_cast<double>(16 - i);
        double tmp3 = tmp1;
        if (i > 8) tmp3 = tmp2;
        const double d = X(2) * tmp2 + X(3) * tmp3;
        const double tmp4 = d * d;
        J(i, 1) = -one;
        J(i, 2) = tmp1 * tmp2 / tmp4;
        J(i, 3) = tmp1 * tmp3 / tmp4;
      }
      return;
    case 9:  // Kowalik and Osborne.
      for (int i = 1; i <= 11; ++i) {
        const double tmp1 = v[i - 1] * (v[i - 1] + X(2));
        const double tmp2 = v[i - 1] * (v[i - 1] + X(3)) + X(4);
        J(i, 1) = -(tmp1 / tmp2);
        J(i, 2) = -(v[i - 1] * X(1) / tmp2);
        J(i, 3) = J(i, 1) * J(i, 2);
        J(i, 4) = J(i, 3) / v[i - 1];
      }
      return;
    case 10:  // Meyer.
      for (int i = 1; i <= 16; ++i) {
        const double temp = five * static_cast<double>(i) + c45 + X(3);
        const double tmp1 = X(2) / temp;
        const double tmp2 = std::exp(tmp1);
        J(i, 1) = tmp2;
        J(i, 2) = X(1) * tmp2 / temp;
        J(i, 3) = -(tmp1 * J(i, 2));
      }
      return;
    case 11: {  // Watson.
      for (int i = 1; i <= 29; ++i) {
        const double div = static_cast<double>(i) / c29;
        double s2 = zero;
        double dx = one;
        for (int j = 1; j <= n; ++j) {
          s2 = s2 + dx * X(j);
          dx = div * dx;
        }
        const double temp = two * div * s2;
        dx = one / div;
        for (int j = 1; j <= n; ++j) {
          J(i, j) = dx * (static_cast<double>(j - 1) - temp);
          dx = div * dx;
        }
      }
      for (int j = 1; j <= n; ++j)
        for (int i = 30; i <= 31; ++i) J(i, j) = zero;
      J(30, 1) = one;
      J(31, 1) = -(two * X(1));
      J(31, 2) = one;
      return;
    }
    case 12:  // Box 3-dimensional.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i);
        const double tmp1 = temp / ten;
        J(i, 1) = -(tmp1 * std::exp(-(tmp1 * X(1))));
        J(i, 2) = tmp1 * std::exp(-(tmp1 * X(2)));
        J(i, 3) = std::exp(-temp) - std::exp(-tmp1);
      }
      return;
    case 13:  // Jennrich and Sampson.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i);
        J(i, 1) = -(temp * std::exp(temp * X(1)));
        J(i, 2) = -(temp * std::exp(temp * X(2)));
      }
      return;
    case 14:  // Brown and Dennis.
      for (int i = 1; i <= m; ++i) {
        const double temp = static_cast<double>(i) / five;
        const double ti = std::sin(temp);
        const double tmp1 = X(1) + temp * X(2) - std::exp(temp);
        const double tmp2 = X(3) + ti * X(4) - std::cos(temp);
        J(i, 1) = two * tmp1;
        J(i, 2) = temp * J(i, 1);
        J(i, 3) = two * tmp2;
        J(i, 4) = ti * J(i, 3);
      }
      return;
    case 15: {  // Chebyquad.
      const double dx = one / static_cast<double>(n);
      for (int j = 1; j <= n; ++j) {
        double tmp1 = one;
        double tmp2 = two * X(j) - one;
        const double temp = two * tmp2;
        double tmp3 = zero;
        double tmp4 = two;
        for (int i = 1; i <= m; ++i) {
          J(i, j) = dx * tmp4;
          double ti = four * tmp2 + temp * tmp4 - tmp3;
          tmp3 = tmp4;
          tmp4 = ti;
          ti = temp * tmp2 - tmp1;
          tmp1 = tmp2;
          tmp2 = ti;
        }
      }
      return;
    }
    case 16: {  // Brown almost-linear.
      double prod = one;
      for (int j = 1; j <= n; ++j) {
        prod = X(j) * prod;
        for (int i = 1; i <= n; ++i) J(i, j) = one;
        J(j, j) = two;
      }
      for (int j = 1; j <= n; ++j) {
        double temp = X(j);
        if (temp == zero) {
          // As in MINPACK: prod is replaced by the product of the other x_k and
          // stays replaced for the following columns.
          temp = one;
          prod = one;
          for (int k = 1; k <= n; ++k)
            if (k != j) prod = X(k) * prod;
        }
        J(n, j) = prod / temp;
      }
      return;
    }
    case 17:  // Osborne 1.
      for (int i = 1; i <= 33; ++i) {
        const double temp = ten * static_cast<double>(i - 1);
        const double tmp1 = std::exp(-(X(4) * temp));
        const double tmp2 = std::exp(-(X(5) * temp));
        J(i, 1) = -one;
        J(i, 2) = -tmp1;
        J(i, 3) = -tmp2;
        J(i, 4) = temp * X(2) * tmp1;
        J(i, 5) = temp * X(3) * tmp2;
      }
      return;
    case 18:  // Osborne 2.
      for (int i = 1; i <= 65; ++i) {
        const double temp = static_cast<double>(i - 1) / ten;
        const double d9 = temp - X(9);
        const double d10 = temp - X(10);
        const double d11 = temp - X(11);
        const double tmp1 = std::exp(-(X(5) * temp));
        const double tmp2 = std::exp(-(X(6) * (d9 * d9)));
        const double tmp3 = std::exp(-(X(7) * (d10 * d10)));
        const double tmp4 = std::exp(-(X(8) * (d11 * d11)));
        J(i, 1) = -tmp1;
        J(i, 2) = -tmp2;
        J(i, 3) = -tmp3;
        J(i, 4) = -tmp4;
        J(i, 5) = temp * X(1) * tmp1;
        J(i, 6) = X(2) * (d9 * d9) * tmp2;
        J(i, 7) = X(3) * (d10 * d10) * tmp3;
        J(i, 8) = X(4) * (d11 * d11) * tmp4;
        J(i, 9) = -(two * X(2) * X(6) * d9 * tmp2);
        J(i, 10) = -(two * X(3) * X(7) * d10 * tmp3);
        J(i, 11) = -(two * X(4) * X(8) * d11 * tmp4);
      }
      return;
    default:
      bad_problem(nprob);
  }
}

void initpt(int n, double* x, int nprob, double factor) {
  auto X = [x](int j) -> double& { return x[j - 1]; };
  switch (nprob) {
    case 1:
    case 2:
    case 3:  // Linear functions.
      for (int j = 1; j <= n; ++j) X(j) = one;
      break;
    case 4:  // Rosenbrock.
      X(1) = -1.2;
      X(2) = one;
      break;
    case 5:  // Helical valley.
      X(1) = -one;
      X(2) = zero;
      X(3) = zero;
      break;
    case 6:  // Powell singular.
      X(1) = three;
      X(2) = -one;
      X(3) = zero;
      X(4) = one;
      break;
    case 7:  // Freudenstein and Roth.
      X(1) = zp5;
      X(2) = -two;
      break;
    case 8:  // Bard.
      X(1) = one;
      X(2) = one;
      X(3) = one;
      break;
    case 9:  // Kowalik and Osborne.
      X(1) = 0.25;
      X(2) = 0.39;
      X(3) = 0.415;
      X(4) = 0.39;
      break;
    case 10:  // Meyer.
      X(1) = 0.02;
      X(2) = 4000.0;
      X(3) = 250.0;
      break;
    case 11:  // Watson.
      for (int j = 1; j <= n; ++j) X(j) = zero;
      break;
    case 12:  // Box 3-dimensional.
      X(1) = zero;
      X(2) = ten;
      X(3) = 20.0;
      break;
    case 13:  // Jennrich and Sampson.
      X(1) = 0.3;
      X(2) = 0.4;
      break;
    case 14:  // Brown and Dennis.
      X(1) = 25.0;
      X(2) = five;
      X(3) = -five;
      X(4) = -one;
      break;
    case 15: {  // Chebyquad.
      const double h = one / static_cast<double>(n + 1);
      for (int j = 1; j <= n; ++j) X(j) = static_cast<double>(j) * h;
      break;
    }
    case 16:  // Brown almost-linear.
      for (int j = 1; j <= n; ++j) X(j) = zp5;
      break;
    case 17:  // Osborne 1.
      X(1) = zp5;
      X(2) = 1.5;
      X(3) = -one;
      X(4) = 0.01;
      X(5) = 0.02;
      break;
    case 18:  // Osborne 2.
      X(1) = 1.3;
      X(2) = 0.65;
      X(3) = 0.65;
      X(4) = 0.7;
      X(5) = 0.6;
      X(6) = three;
      X(7) = five;
      X(8) = 7.0;
      X(9) = two;
      X(10) = 4.5;
      X(11) = 5.5;
      break;
    default:
      bad_problem(nprob);
  }

  // Compute multiple of initial point.
  if (factor == one) return;
  if (nprob == 11) {
    for (int j = 1; j <= n; ++j) X(j) = factor;
  } else {
    for (int j = 1; j <= n; ++j) X(j) = factor * X(j);
  }
}

}  // namespace lmbatch::test
