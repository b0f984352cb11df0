// lmbatch::simd::exp: the vector code gives the scalar code's bits on every
// argument class (issue #19: lane and scalar model evaluations must never
// differ), over 10^8 arguments spread over the whole range; and the scalar
// code is within 1 ulp of glibc's exp (an independent implementation; the
// accuracy against a correctly rounded exp is measured in bench/exp_accuracy).
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hwy/targets.h"

#include "lmbatch/simd/exp.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"
#include "support/exp_arguments.hpp"

namespace {

using lmbatch::test::ExpArguments;

// Distance in units in the last place between two finite doubles of the same
// sign (ordered representations), or 0 for identical bits.
std::uint64_t ulp_distance(double a, double b) {
  const auto ordered = [](double v) {
    const std::int64_t i = std::bit_cast<std::int64_t>(v);
    return i < 0 ? std::numeric_limits<std::int64_t>::min() - i : i;
  };
  const std::int64_t d = ordered(a) - ordered(b);
  return static_cast<std::uint64_t>(d < 0 ? -d : d);
}

TEST_CASE("simd exp: lane width is the dispatched target's", "[simd][exp]") {
  const int w = lmbatch::simd::lane_width();
  CHECK((w == 2 || w == 4 || w == 8));
}

TEST_CASE("simd exp: special values", "[simd][exp]") {
  using lmbatch::simd::exp;
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::bit_cast<std::uint64_t>(exp(0.0)) == std::bit_cast<std::uint64_t>(1.0));
  CHECK(std::bit_cast<std::uint64_t>(exp(-0.0)) == std::bit_cast<std::uint64_t>(1.0));
  CHECK(exp(inf) == inf);
  CHECK(std::bit_cast<std::uint64_t>(exp(-inf)) == 0u);  // +0
  CHECK(std::isnan(exp(std::numeric_limits<double>::quiet_NaN())));
  CHECK(exp(709.782712893384) < inf);  // just below log(DBL_MAX)
  CHECK(exp(709.7827128933841) == inf);
  CHECK(exp(-745.1332191019411) == std::numeric_limits<double>::denorm_min());
  CHECK(std::bit_cast<std::uint64_t>(exp(-745.1332191019412)) == 0u);
  CHECK(std::bit_cast<std::uint64_t>(exp(-1000.0)) == 0u);
  CHECK(exp(-708.5) < std::numeric_limits<double>::min());  // subnormal
  CHECK(exp(-708.5) > 0.0);
  CHECK(exp(1.0) == 2.718281828459045);  // e, correctly rounded
}

// The Python port the scipy reference generator evaluates the models with
// (tests/support/lmbatch_exp.py, written separately from exp.cpp) gives the
// same bits on its sample of arguments: the references stay bit-identical.
TEST_CASE("simd exp: same bits as the reference generators' Python port", "[simd][exp]") {
  std::ifstream in(std::string(LMBATCH_TEST_DATA) + "/simd/exp_samples.json");
  REQUIRE(in);
  const nlohmann::json samples = nlohmann::json::parse(in);
  const auto& xs = samples.at("x_bits");
  const auto& ys = samples.at("exp_bits");
  REQUIRE(xs.size() == ys.size());
  REQUIRE(xs.size() >= 3000u);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const double x = std::bit_cast<double>(std::stoull(xs[i].get<std::string>(), nullptr, 16));
    const std::uint64_t expected = std::stoull(ys[i].get<std::string>(), nullptr, 16);
    if (std::bit_cast<std::uint64_t>(lmbatch::simd::exp(x)) != expected) {
      ++differing;
      UNSCOPED_INFO("x = " << x << ": exp " << lmbatch::simd::exp(x) << ", Python port "
                           << std::bit_cast<double>(expected));
    }
  }
  CHECK(differing == 0u);
}

TEST_CASE("simd exp: within 1 ulp of glibc's exp on 10^6 arguments", "[simd][exp]") {
  ExpArguments args(0x5eed0001u);
  std::vector<double> x(4096);
  std::uint64_t worst = 0;
  for (int block = 0; block < 250; ++block) {
    args.fill(x);
    for (const double v : x) {
      const double own = lmbatch::simd::exp(v), libm = std::exp(v);
      if (std::isnan(libm)) {
        CHECK(std::isnan(own));
      } else if (own != libm) {
        worst = std::max(worst, ulp_distance(own, libm));
      }
    }
  }
  CHECK(worst <= 1);
}

// Lanes whose bits differ from the scalar exp's, over `blocks` blocks of
// 2^14 arguments; the first such argument in `first_bad`.
std::size_t count_lane_differences(std::uint64_t seed, std::size_t blocks, double& first_bad) {
  constexpr std::size_t kBlock = 1 << 14;
  ExpArguments args(seed);
  std::vector<double> x(kBlock), lanes(kBlock);
  std::size_t differing = 0;
  for (std::size_t block = 0; block < blocks; ++block) {
    args.fill(x);
    lmbatch::simd::exp_lanes(x.data(), lanes.data(), kBlock);
    for (std::size_t i = 0; i < kBlock; ++i) {
      const double scalar = lmbatch::simd::exp(x[i]);
      if (std::bit_cast<std::uint64_t>(scalar) != std::bit_cast<std::uint64_t>(lanes[i])) {
        if (differing == 0) first_bad = x[i];
        ++differing;
      }
    }
  }
  return differing;
}

}  // namespace

// 10^8 arguments on the target the CPU gets (about 1.5 s on a 2-core CI
// machine, Release), 1.6 10^7 on each other target it can run (AVX2, SSE4,
// EMU128 on an AVX-512 machine).
TEST_CASE("simd exp: vector and scalar give the same bits on 10^8 arguments", "[simd][exp]") {
  const std::vector<std::int64_t> targets = lmbatch::simd::available_targets();
  REQUIRE(!targets.empty());
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const std::size_t blocks = t == 0 ? 6104 : 977;  // 6104 * 2^14 > 10^8
    lmbatch::simd::use_target(targets[t]);
    double first_bad = 0.0;
    const std::size_t differing = count_lane_differences(0x5eed0002u + t, blocks, first_bad);
    INFO("target " << lmbatch::simd::target_name(targets[t]) << " (" << lmbatch::simd::lane_width()
                   << " lanes): first differing argument " << first_bad << " (bits 0x" << std::hex
                   << std::bit_cast<std::uint64_t>(first_bad) << ")");
    CHECK(differing == 0u);
  }
  lmbatch::simd::use_target(0);
}

TEST_CASE("simd exp: vector and scalar agree on odd lengths and in place", "[simd][exp]") {
  std::vector<double> x = {0.5, -1.0, 1e-300, -800.0, 600.0, -0.0, 3.0};
  for (std::size_t n = 0; n <= x.size(); ++n) {
    std::vector<double> y(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    lmbatch::simd::exp_lanes(y.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i)
      CHECK(std::bit_cast<std::uint64_t>(y[i]) ==
            std::bit_cast<std::uint64_t>(lmbatch::simd::exp(x[i])));
  }
}
