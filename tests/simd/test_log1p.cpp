// lmbatch::simd::log1p: the vector code gives the scalar code's bits over
// 10^8 arguments spread over the whole range and the regions where the code's
// paths change (issue #19: a loss evaluated in lanes and one evaluated sample
// by sample must never differ); and the scalar code is within 0.9 ulp of
// the exact value, measured against long double's log1pl (11 more bits, an
// independent implementation): 0.855 ulp at worst over 4 10^7 arguments.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/log1p.hpp"
#include "lmbatch/simd/targets.hpp"

namespace {

// A seeded mix of log1p's arguments, in fixed shares per block of 8: any bit
// pattern (NaN, inf, x < -1 too), (-1, 1) uniformly, x > -1 uniform in
// exponent and significand on either side of 0, just above -1, and a few
// thousand ulps around the switches (the ends of f = x's range, 2^-54, 0).
class Log1pArguments {
 public:
  explicit Log1pArguments(std::uint64_t seed) : state_(seed) {}

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
  double around(double v) {
    const std::int64_t offset = static_cast<std::int64_t>(bits() % 8192) - 4096;
    return std::bit_cast<double>(std::bit_cast<std::int64_t>(v) + offset);
  }
  double next(std::size_t i) {
    switch (i % 8) {
      case 0:
        return std::bit_cast<double>(bits());
      case 1:
        return -1.0 + 2.0 * uniform();
      case 2:
      case 3: {  // positive, exponent 2^-1074 (subnormals) to 2^1023
        const std::uint64_t exponent = bits() % 0x7ff;
        return std::bit_cast<double>((bits() & 0x000fffffffffffffull) | (exponent << 52));
      }
      case 4: {  // negative, |x| from 2^-70 to 1
        const std::uint64_t exponent = 0x3b9 + bits() % (0x3ff - 0x3b9);
        return -std::bit_cast<double>((bits() & 0x000fffffffffffffull) | (exponent << 52));
      }
      case 5:  // just above -1: 1 + x from 2^-53 up
        return -1.0 + std::ldexp(1.0 + uniform(), -static_cast<int>(bits() % 53));
      default: {
        static constexpr double kEdges[] = {-0.2928932188134524,
                                            0.41421356237309503,
                                            0x1p-54,
                                            -0x1p-54,
                                            0x1p-29,
                                            1.0,
                                            -0.5,
                                            0x1p53};
        return around(kEdges[bits() % std::size(kEdges)]);
      }
    }
  }
  std::uint64_t state_;
};

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

}  // namespace

TEST_CASE("simd log1p: special values", "[simd][log1p]") {
  using lmbatch::simd::log1p;
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(same_bits(log1p(0.0), 0.0));
  CHECK(same_bits(log1p(-0.0), -0.0));
  CHECK(same_bits(log1p(1e-300), 1e-300));
  CHECK(same_bits(log1p(-0x1p-55), -0x1p-55));
  CHECK(log1p(-1.0) == -inf);
  CHECK(std::isnan(log1p(-1.5)));
  CHECK(std::isnan(log1p(-inf)));
  CHECK(std::isnan(log1p(std::numeric_limits<double>::quiet_NaN())));
  CHECK(log1p(inf) == inf);
  CHECK(log1p(std::numeric_limits<double>::max()) == Approx(709.782712893384).epsilon(1e-15));
  CHECK(log1p(1.0) == 0.6931471805599453);  // ln 2, correctly rounded
  CHECK(log1p(std::nextafter(-1.0, 0.0)) == Approx(-36.7368005696771).epsilon(1e-14));
}

TEST_CASE("simd log1p: within 0.9 ulp of long double's log1pl on 4 10^6 arguments",
          "[simd][log1p]") {
  Log1pArguments args(0x5eed1001u);
  std::vector<double> x(4096);
  double worst = 0.0, worst_at = 0.0;
  std::size_t compared = 0;
  for (int block = 0; block < 1000; ++block) {
    args.fill(x);
    for (const double v : x) {
      const double own = lmbatch::simd::log1p(v);
      const long double exact = std::log1p(static_cast<long double>(v));
      if (!std::isfinite(static_cast<double>(exact))) {
        INFO("x = " << v);
        CHECK((same_bits(own, static_cast<double>(exact)) ||
               (std::isnan(own) && std::isnan(static_cast<double>(exact)))));
        continue;
      }
      const double nearest = std::fabs(static_cast<double>(exact));
      const double ulp = nearest == 0.0 ? std::numeric_limits<double>::denorm_min()
                                        : std::nextafter(nearest, 2.0 * nearest + 1.0) - nearest;
      const double error = static_cast<double>(std::fabs(own - exact) / ulp);
      if (error > worst) worst = error, worst_at = v;
      ++compared;
    }
  }
  INFO("worst " << worst << " ulp at x = " << worst_at << " over " << compared << " arguments");
  CHECK(compared > 3'500'000u);
  CHECK(worst <= 0.9);
}

// 10^8 arguments on the target the CPU gets, 1.6 10^7 on each other target it
// can run (AVX2, SSE4, EMU128 on an AVX-512 machine), as exp's test.
TEST_CASE("simd log1p: vector and scalar give the same bits on 10^8 arguments", "[simd][log1p]") {
  const std::vector<std::int64_t> targets = lmbatch::simd::available_targets();
  REQUIRE(!targets.empty());
  constexpr std::size_t kBlock = 1 << 14;
  std::vector<double> x(kBlock), lanes(kBlock);
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const std::size_t blocks = t == 0 ? 6104 : 977;  // 6104 * 2^14 > 10^8
    lmbatch::simd::use_target(targets[t]);
    Log1pArguments args(0x5eed1002u + t);
    std::size_t differing = 0;
    double first_bad = 0.0;
    for (std::size_t block = 0; block < blocks; ++block) {
      args.fill(x);
      lmbatch::simd::log1p_lanes(x.data(), lanes.data(), kBlock);
      for (std::size_t i = 0; i < kBlock; ++i)
        if (!same_bits(lmbatch::simd::log1p(x[i]), lanes[i]) && differing++ == 0) first_bad = x[i];
    }
    INFO("target " << lmbatch::simd::target_name(targets[t]) << " (" << lmbatch::simd::lane_width()
                   << " lanes): first differing argument " << first_bad << " (bits 0x" << std::hex
                   << std::bit_cast<std::uint64_t>(first_bad) << ")");
    CHECK(differing == 0u);
  }
  lmbatch::simd::use_target(0);
}

TEST_CASE("simd log1p: vector and scalar agree on odd lengths and in place", "[simd][log1p]") {
  const std::vector<double> x = {0.5, -0.75, 1e-300, 3e10, -1.0, -0.0, 0.3};
  for (std::size_t n = 0; n <= x.size(); ++n) {
    std::vector<double> y(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    lmbatch::simd::log1p_lanes(y.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) CHECK(same_bits(y[i], lmbatch::simd::log1p(x[i])));
  }
}
