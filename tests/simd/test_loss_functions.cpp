// lmbatch::simd::log, log1p and atan, the losses' functions (Poisson's
// deviance, cauchy's and arctan's rho, batch/loss.hpp): the vector code gives
// the scalar code's bits over 10^8 arguments each, spread over the whole
// range and the regions where the code's paths change (issue #19: a loss
// evaluated in lanes and one evaluated sample by sample must never differ);
// and the scalar code is within a stated bound of the exact value, measured
// against long double's logl, log1pl and atanl (11 more bits, independent
// implementations). Worst seen over 4 10^7 arguments: log 0.796 ulp, log1p
// 0.855 ulp, atan 0.847 ulp.
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lmbatch/simd/atan.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/log.hpp"
#include "lmbatch/simd/targets.hpp"

namespace {

bool same_bits(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Seeded random doubles: splitmix64 bits and what the generators below make
// of them.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t bits() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1p-53; }  // [0, 1)
  // Positive, uniform in the exponent field [low, high) and the significand.
  double exponent_between(std::uint64_t low, std::uint64_t high) {
    const std::uint64_t exponent = low + bits() % (high - low);
    return std::bit_cast<double>((bits() & 0x000fffffffffffffull) | (exponent << 52));
  }
  // A double a few thousand ulps around v.
  double around(double v) {
    const std::int64_t offset = static_cast<std::int64_t>(bits() % 8192) - 4096;
    return std::bit_cast<double>(std::bit_cast<std::int64_t>(v) + offset);
  }
  template <std::size_t N>
  double around_one_of(const double (&edges)[N]) {
    return around(edges[bits() % N]);
  }

 private:
  std::uint64_t state_;
};

// log1p's arguments, in fixed shares per block of 8: any bit pattern (NaN,
// inf, x < -1 too), (-1, 1) uniformly, x > 0 over every exponent, x in (-1,
// 0) from 2^-70, just above -1, and around the switches (the ends of the
// range where f = x, 2^-54, 1 where c's formula turns).
double log1p_argument(Random& random, std::size_t i) {
  static constexpr double kEdges[] = {
      -0.2928932188134524, 0.41421356237309503, 0x1p-54, -0x1p-54, 1.0, -0.5, 0x1p53};
  switch (i % 8) {
    case 0:
      return std::bit_cast<double>(random.bits());
    case 1:
      return -1.0 + 2.0 * random.uniform();
    case 2:
    case 3:
      return random.exponent_between(0, 0x7ff);
    case 4:
      return -random.exponent_between(0x3b9, 0x3ff);
    case 5:  // 1 + x from 2^-53 up
      return -1.0 + std::ldexp(1.0 + random.uniform(), -static_cast<int>(random.bits() % 53));
    default:
      return random.around_one_of(kEdges);
  }
}

// log's arguments, in fixed shares per block of 8: any bit pattern (NaN,
// inf, x <= 0 too), every positive exponent (subnormals included), (0, 4)
// uniformly, and around 1, sqrt(2) and sqrt(2)/2 (where k turns) and the
// smallest normal.
double log_argument(Random& random, std::size_t i) {
  static constexpr double kEdges[] = {1.0, 1.4142135623730951, 0.7071067811865476, 0x1p-1022, 2.0,
                                      0.5};
  switch (i % 8) {
    case 0:
      return std::bit_cast<double>(random.bits());
    case 1:
    case 2:
    case 3:
      return random.exponent_between(0, 0x7ff);
    case 4:
    case 5:
      return 4.0 * random.uniform();
    default:
      return random.around_one_of(kEdges);
  }
}

// atan's arguments, either sign: any bit pattern, (-3, 3) uniformly (the
// reductions around 1/2, 1 and 3/2), every exponent, and around the switches
// (7/16, 11/16, 19/16, 39/16, 2^-27, 2^66).
double atan_argument(Random& random, std::size_t i) {
  static constexpr double kEdges[] = {0.4375, 0.6875, 1.1875, 2.4375, 0x1p-27, 0x1p66};
  const double sign = random.bits() & 1 ? -1.0 : 1.0;
  switch (i % 8) {
    case 0:
      return std::bit_cast<double>(random.bits());
    case 1:
    case 2:
      return -3.0 + 6.0 * random.uniform();
    case 3:
    case 4:
      return sign * random.exponent_between(0, 0x7ff);
    case 5:
      return sign * random.exponent_between(0x3e0, 0x450);  // 2^-31 to 2^81
    default:
      return sign * random.around_one_of(kEdges);
  }
}

// One function under test: its scalar and lane code, long double's version
// as the exact value, its arguments, the bound held on its error, and a few
// arguments for the odd lengths.
struct Function {
  const char* name;
  double (*scalar)(double) noexcept;
  void (*lanes)(const double*, double*, std::size_t) noexcept;
  long double (*exact)(long double);
  double (*argument)(Random&, std::size_t);
  std::uint64_t seed;
  double max_ulps;
  std::vector<double> few;
};

const Function kFunctions[] = {
    {"log",
     lmbatch::simd::log,
     lmbatch::simd::log_lanes,
     [](long double v) { return std::log(v); },
     log_argument,
     0x5eed3000u,
     0.9,
     {0.5, 0.75, 1e-310, 3e10, 1.0, 0.0, 2.0}},
    {"log1p",
     lmbatch::simd::log1p,
     lmbatch::simd::log1p_lanes,
     [](long double v) { return std::log1p(v); },
     log1p_argument,
     0x5eed1000u,
     0.9,
     {0.5, -0.75, 1e-300, 3e10, -1.0, -0.0, 0.3}},
    {"atan",
     lmbatch::simd::atan,
     lmbatch::simd::atan_lanes,
     [](long double v) { return std::atan(v); },
     atan_argument,
     0x5eed2000u,
     0.9,
     {0.5, -0.75, 1e-300, 3e10, -1.2, -0.0, 2.0}},
};

// The worst error of the scalar code against the exact value in ulps of the
// double nearest it, over `count` arguments; where the exact value is not
// finite, the same bits (or NaN for NaN) are required.
double worst_ulps(const Function& fn, std::size_t count, double& worst_at) {
  Random random(fn.seed + 1);
  double worst = 0.0;
  for (std::size_t i = 0; i < count; ++i) {
    const double v = fn.argument(random, i);
    const double own = fn.scalar(v);
    const long double e = fn.exact(static_cast<long double>(v));
    const double nearest = static_cast<double>(e);
    if (!std::isfinite(nearest)) {
      INFO("x = " << v);
      CHECK((same_bits(own, nearest) || (std::isnan(own) && std::isnan(nearest))));
      continue;
    }
    const double a = std::fabs(nearest);
    const double ulp = a == 0.0 ? std::numeric_limits<double>::denorm_min()
                                : std::nextafter(a, std::numeric_limits<double>::infinity()) - a;
    const double error = static_cast<double>(std::fabs(own - e) / ulp);
    if (error > worst) worst = error, worst_at = v;
  }
  return worst;
}

}  // namespace

TEST_CASE("simd log, log1p, atan: within their bound of long double's on 4 10^6 arguments",
          "[simd][log][log1p][atan]") {
  for (const Function& fn : kFunctions) {
    double worst_at = 0.0;
    const double worst = worst_ulps(fn, 4'096'000, worst_at);
    INFO(fn.name << ": worst " << worst << " ulp at x = " << worst_at);
    CHECK(worst <= fn.max_ulps);
  }
}

// 10^8 arguments each on the target the CPU gets, 1.6 10^7 on each other
// target it can run (AVX2, SSE4, EMU128 on an AVX-512 machine), as exp's
// test.
TEST_CASE("simd log, log1p, atan: vector and scalar give the same bits on 10^8 arguments",
          "[simd][log][log1p][atan]") {
  const std::vector<std::int64_t> targets = lmbatch::simd::available_targets();
  REQUIRE(!targets.empty());
  constexpr std::size_t kBlock = 1 << 14;
  std::vector<double> x(kBlock), y(kBlock);
  for (const Function& fn : kFunctions) {
    for (std::size_t t = 0; t < targets.size(); ++t) {
      const std::size_t blocks = t == 0 ? 6104 : 977;  // 6104 * 2^14 > 10^8
      lmbatch::simd::use_target(targets[t]);
      Random random(fn.seed + 2 + t);
      std::size_t differing = 0;
      double first_bad = 0.0;
      for (std::size_t block = 0; block < blocks; ++block) {
        for (std::size_t i = 0; i < kBlock; ++i) x[i] = fn.argument(random, i);
        fn.lanes(x.data(), y.data(), kBlock);
        for (std::size_t i = 0; i < kBlock; ++i)
          if (!same_bits(fn.scalar(x[i]), y[i]) && differing++ == 0) first_bad = x[i];
      }
      INFO(fn.name << " on " << lmbatch::simd::target_name(targets[t]) << " ("
                   << lmbatch::simd::lane_width() << " lanes): first differing argument "
                   << first_bad << " (bits 0x" << std::hex
                   << std::bit_cast<std::uint64_t>(first_bad) << ")");
      CHECK(differing == 0u);
    }
  }
  lmbatch::simd::use_target(0);
}

TEST_CASE("simd log, log1p, atan: vector and scalar agree on odd lengths and in place",
          "[simd][log][log1p][atan]") {
  for (const Function& fn : kFunctions)
    for (std::size_t n = 0; n <= fn.few.size(); ++n) {
      std::vector<double> y(fn.few.begin(), fn.few.begin() + static_cast<std::ptrdiff_t>(n));
      fn.lanes(y.data(), y.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        INFO(fn.name << " of " << fn.few[i] << ", " << n << " at once");
        CHECK(same_bits(y[i], fn.scalar(fn.few[i])));
      }
    }
}

TEST_CASE("simd log: special values", "[simd][log]") {
  using lmbatch::simd::log;
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(same_bits(log(1.0), 0.0));
  CHECK(log(0.0) == -inf);
  CHECK(log(-0.0) == -inf);
  CHECK(std::isnan(log(-1e-300)));
  CHECK(std::isnan(log(-inf)));
  CHECK(std::isnan(log(std::numeric_limits<double>::quiet_NaN())));
  CHECK(log(inf) == inf);
  CHECK(log(2.0) == 0.6931471805599453);  // ln 2, correctly rounded
  CHECK(log(std::numeric_limits<double>::denorm_min()) == Approx(-744.4400719213812));
  CHECK(log(std::numeric_limits<double>::max()) == Approx(709.782712893384).epsilon(1e-15));
}

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

TEST_CASE("simd atan: special values", "[simd][atan]") {
  using lmbatch::simd::atan;
  const double inf = std::numeric_limits<double>::infinity();
  const double half_pi = 1.5707963267948966;  // correctly rounded
  CHECK(same_bits(atan(0.0), 0.0));
  CHECK(same_bits(atan(-0.0), -0.0));
  CHECK(same_bits(atan(1e-300), 1e-300));
  CHECK(same_bits(atan(-1e-9), -1e-9));
  CHECK(atan(inf) == half_pi);
  CHECK(atan(-inf) == -half_pi);
  CHECK(atan(1e300) == half_pi);
  CHECK(std::isnan(atan(std::numeric_limits<double>::quiet_NaN())));
  CHECK(atan(1.0) == 0.7853981633974483);  // pi/4, correctly rounded
  CHECK(atan(-1.0) == -0.7853981633974483);
}
