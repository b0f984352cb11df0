// Arguments for exp tests and measurements (tests/simd/test_exp.cpp,
// bench/exp_accuracy.cpp): a seeded mix over the whole double range and the
// regions where exp's code paths change, in fixed shares per block.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>

namespace lmbatch::test {

class ExpArguments {
 public:
  explicit ExpArguments(std::uint64_t seed) : state_(seed) {}

  // Fills x; every class appears in every block of 64 or more.
  void fill(std::span<double> x) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = next(i);
  }

 private:
  std::uint64_t bits() {  // splitmix64
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1p-53; }  // [0, 1)
  double between(double a, double b) { return a + (b - a) * uniform(); }
  // A double a few thousand ulps around v.
  double around(double v) {
    const std::int64_t offset = static_cast<std::int64_t>(bits() % 8192) - 4096;
    return std::bit_cast<double>(std::bit_cast<std::int64_t>(v) + offset);
  }

  double next(std::size_t i) {
    switch (i % 16) {
      case 0:
      case 1:
        return std::bit_cast<double>(bits());  // uniform in sign, exponent, mantissa (NaN, inf too)
      case 2:
      case 3:
        return between(-745.2, 709.8);  // the finite-result range
      case 4: {                         // |x| uniform in exponent from 2^-60 to 2^11, and mantissa
        const std::uint64_t exponent = 0x3c3 + bits() % (0x40a - 0x3c3);
        return std::bit_cast<double>((bits() & 0x800fffffffffffffull) | (exponent << 52));
      }
      case 5: {  // the thresholds: overflow, subnormal, zero; |x| = 2^-54, 512, 1024
        static constexpr double kEdges[] = {709.782712893384,
                                            -708.3964185322641,
                                            -745.1332191019411,
                                            0x1p-54,
                                            -0x1p-54,
                                            512.0,
                                            -512.0,
                                            1024.0,
                                            -1024.0,
                                            -744.4400719213812};
        return around(kEdges[bits() % (sizeof(kEdges) / sizeof(kEdges[0]))]);
      }
      case 6:
        return between(-745.2, -708.3);  // subnormal results
      case 7: {                          // gaussian: -0.5 u^2, u = (x - center) / sigma
        const double u = (between(0.0, 10.0) - between(0.0, 10.0)) / std::exp(between(-8.0, 4.0));
        return -0.5 * (u * u);
      }
      case 8: {  // exponential: -(x / tau), tau of either sign and any scale
        const double tau = std::exp(between(-20.0, 20.0)) * (bits() & 1 ? 1.0 : -1.0);
        return -(between(0.0, 100.0) / tau);
      }
      case 9:
        return between(-1.0, 1.0);
      case 10:
        return between(-40.0, 40.0);
      case 11: {  // tiny: subnormal and small normal arguments
        return std::bit_cast<double>(bits() & 0x83ffffffffffffffull);
      }
      case 12: {  // specials
        static constexpr double kSpecial[] = {0.0,
                                              -0.0,
                                              std::numeric_limits<double>::infinity(),
                                              -std::numeric_limits<double>::infinity(),
                                              std::numeric_limits<double>::quiet_NaN(),
                                              -std::numeric_limits<double>::quiet_NaN(),
                                              std::numeric_limits<double>::max(),
                                              -std::numeric_limits<double>::max(),
                                              std::numeric_limits<double>::denorm_min(),
                                              -std::numeric_limits<double>::denorm_min()};
        return kSpecial[bits() % (sizeof(kSpecial) / sizeof(kSpecial[0]))];
      }
      case 13:
        return between(-745.2, -512.0);  // special_case, k < 0
      case 14:
        return between(512.0, 709.8);  // special_case, k > 0
      default:
        return between(-20.0, 0.0);
    }
  }

  std::uint64_t state_;
};

}  // namespace lmbatch::test
