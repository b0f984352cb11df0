// Constraints (issue #16): the by-name forms resolved against a model's names
// and their errors, and fixed and tied parameters through batch::fit: held
// values exact, ties computed, /pegged, covariance NaN where not estimated,
// the same bits for any thread count, errors naming the problem. The
// solutions' reference (scipy on the reduced model) is in
// python/tests/test_constraints.py.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "lmbatch/batch/constraints.hpp"
#include "lmbatch/batch/engine.hpp"

namespace batch = lmbatch::batch;
using Catch::Matchers::Contains;
using lmbatch::models::Model;

using lmbatch::test::same_bits;
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<std::string>& names() {
  static const std::vector<std::string> n = Model::parse("gaussian*2+constant").parameter_names();
  return n;  // amplitude_1 center_1 sigma_1 amplitude_2 center_2 sigma_2 c
}

// Two gaussians 21.3 apart with one width, on a constant, per problem.
struct Doublets {
  int m = 120;
  std::size_t count;
  std::vector<double> x, y, x0{2.5, 29.0, 3.5, 1.8, 52.0, 3.5, 0.4};
  explicit Doublets(std::size_t count_) : count(count_) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::normal_distribution<double> noise(0.0, 0.05);
    for (int i = 0; i < m; ++i) x.push_back(100.0 * i / (m - 1));
    for (std::size_t k = 0; k < count; ++k) {
      const double a1 = 2.5 + u(rng), c1 = 28.0 + 4.0 * u(rng), s = 3.5 + u(rng), a2 = 1.5 + u(rng);
      for (int i = 0; i < m; ++i) {
        const double d1 = (x[i] - c1) / s, d2 = (x[i] - c1 - 21.3) / s;
        y.push_back(a1 * std::exp(-0.5 * d1 * d1) + a2 * std::exp(-0.5 * d2 * d2) + 0.5 +
                    noise(rng));
      }
    }
  }
  batch::ArrayInput input() const {
    batch::ArrayInput in;
    in.y = y;
    in.count = count;
    in.m = m;
    in.x = x;
    in.x0 = x0;
    return in;
  }
};

std::string resolve_error(const char* bounds, const char* fix, const char* tie) {
  try {
    batch::resolve_constraints(bounds, fix, tie, names());
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a base name names every repeat, and a full name wins over it", "[batch][constraints]") {
  const auto rc = batch::resolve_constraints("sigma=0.35:3, sigma_2=1:, amplitude=0:inf, c=-1:", "",
                                             "", names());
  CHECK(rc.lower == std::vector<double>{0, -kInf, 0.35, 0, -kInf, 1, -1});
  CHECK(rc.upper == std::vector<double>{kInf, kInf, 3, kInf, kInf, kInf, kInf});
  CHECK(rc.has_bounds);
}

TEST_CASE("fix and tie resolve to roles, values and references", "[batch][constraints]") {
  const auto rc = batch::resolve_constraints(
      "", "sigma=1.5,c", "center_2=center_1+21.3, amplitude_2 = atan2(amplitude_1, c)", names());
  using R = batch::ParameterRole;
  CHECK(rc.role ==
        std::vector<R>{R::free, R::free, R::fixed, R::tied, R::tied, R::fixed, R::fixed});
  CHECK(rc.fixed_value[2] == 1.5);
  CHECK(rc.fixed_value[5] == 1.5);
  CHECK(std::isnan(rc.fixed_value[6]));  // its starting value
  REQUIRE(rc.ties.size() == 2);
  CHECK(rc.ties[0].parameter == 4);
  CHECK(rc.ties[0].refs == std::vector<int>{1});
  CHECK(rc.ties[1].refs == std::vector<int>{0, 6});  // a comma inside atan2( , ) is not a split
  CHECK_FALSE(rc.has_bounds);
  CHECK(batch::split_constraint_items(" a=1 , b=max(c, d),") ==
        std::vector<std::string>{"a=1", "b=max(c, d)"});
}

TEST_CASE("bad constraints are errors naming the parameter", "[batch][constraints]") {
  CHECK_THAT(resolve_error("width=0:1", "", ""), Contains("bounds: 'width' is not a parameter"));
  CHECK_THAT(resolve_error("sigma_1=2:1", "", ""),
             Contains("sigma_1: the lower bound 2 must be below the upper bound 1"));
  CHECK_THAT(resolve_error("c=1:1", "", ""), Contains("(to hold it, use fix)"));
  CHECK_THAT(resolve_error("c=a:1", "", ""), Contains("bounds of c: 'a' is not a number"));
  CHECK_THAT(resolve_error("c=1", "", ""), Contains("is not name=lower:upper"));
  CHECK_THAT(resolve_error("c=0:1,c=0:2", "", ""), Contains("parameter c is given twice"));
  CHECK_THAT(resolve_error("", "gamma", ""), Contains("fix: 'gamma' is not a parameter"));
  CHECK_THAT(resolve_error("", "c=nan", ""), Contains("fix: the value of c"));
  CHECK_THAT(resolve_error("", "c", "c=sigma_1"), Contains("tie: parameter c is fixed and tied"));
  CHECK_THAT(resolve_error("", "", "c=2*c"), Contains("c = 2*c refers to itself"));
  CHECK_THAT(resolve_error("", "", "c=width"), Contains("'width' is not a parameter"));
  CHECK_THAT(resolve_error("", "", "c=x"), Contains("'x' is not a parameter"));
  CHECK_THAT(resolve_error("", "", "c=sigma_1,sigma_1=sigma_2"),
             Contains("c = sigma_1 refers to sigma_1, which is tied too"));
  CHECK_THAT(resolve_error("", "", "c=sigma_1,c=sigma_2"), Contains("c is tied twice"));
  CHECK_THAT(resolve_error("", "", "c=(sigma_1"), Contains("tie: parameter c:"));
  CHECK_THAT(resolve_error("", "", "width=sigma_1"), Contains("tie: 'width' is not a parameter"));
}

TEST_CASE("fixed values are held and ties computed on every problem", "[batch][constraints]") {
  const Model model = Model::parse("gaussian*2+constant");
  const Doublets data(40);
  batch::BatchOptions o;
  o.fix = "c=0.5";
  o.tie = "sigma_2=sigma_1,center_2=center_1+21.3";
  for (auto jacobian : {batch::JacobianMode::analytic, batch::JacobianMode::forward}) {
    o.jacobian = jacobian;
    const batch::ArrayResult r = batch::fit(model, data.input(), o);
    for (std::size_t k = 0; k < data.count; ++k) {
      const double* x = r.x.data() + k * 7;
      CHECK(batch::converged(r.ier[k]));
      CHECK(x[6] == 0.5);
      CHECK(x[5] == x[2]);
      CHECK(x[4] == x[1] + 21.3);
      CHECK(std::vector<std::int8_t>(r.pegged.begin() + k * 7, r.pegged.begin() + k * 7 + 7) ==
            std::vector<std::int8_t>{0, 0, 0, 0, 2, 2, 2});
      const double* cov = r.cov_x.data() + k * 49;
      for (int j = 0; j < 7; ++j) {
        const bool held = j >= 4;
        CHECK(std::isnan(r.std_error[k * 7 + j]) == held);
        CHECK(std::isnan(cov[j * 7 + j]) == held);
        CHECK(std::isnan(cov[j * 7 + 0]) == held);  // a held row: all NaN
      }
    }
  }
}

TEST_CASE("constrained results are bit-identical for 1 and 2 threads", "[batch][constraints]") {
  const Model model = Model::parse("gaussian*2+constant");
  const Doublets data(300);
  std::vector<double> mask(data.count * 7, 0.0);
  for (std::size_t k = 0; k < data.count; k += 3) mask[k * 7 + 3] = 1.0;  // amplitude_2 held
  batch::ArrayInput in = data.input();
  in.fixed = mask;
  batch::BatchOptions one;
  one.tie = "sigma_2=sigma_1";
  one.loss = batch::Loss::soft_l1;
  one.threads = 1;
  batch::BatchOptions two = one;
  two.threads = 2;
  two.chunk_size = 7;
  const auto a = batch::fit(model, in, one);
  const auto b = batch::fit(model, in, two);
  CHECK(same_bits(a.x, b.x));
  CHECK(same_bits(a.cov_x, b.cov_x));
  CHECK(a.pegged == b.pegged);
  CHECK(a.nfev == b.nfev);
  for (std::size_t k = 0; k < data.count; ++k) {
    CHECK(a.pegged[k * 7 + 3] == (k % 3 == 0 ? 2 : 0));
    if (k % 3 == 0) CHECK(a.x[k * 7 + 3] == data.x0[3]);
  }
}

TEST_CASE("a mask holding a tied parameter names the problem", "[batch][constraints]") {
  const Model model = Model::parse("gaussian*2+constant");
  const Doublets data(5);
  std::vector<double> mask(data.count * 7, 0.0);
  mask[3 * 7 + 5] = 1.0;
  batch::ArrayInput in = data.input();
  in.fixed = mask;
  batch::BatchOptions o;
  o.tie = "sigma_2=sigma_1";
  CHECK_THROWS_WITH(batch::fit(model, in, o),
                    Contains("problem 3: parameter sigma_2 is tied and held by the fixed mask"));
  in.fixed = std::span<const double>(mask.data(), 6);
  CHECK_THROWS_WITH(batch::fit(model, in, o), Contains("fixed has 6 values"));
}

TEST_CASE("with everything held or too few samples for the free ones", "[batch][constraints]") {
  const Model model = Model::parse("gaussian+constant");
  std::vector<double> y{1.0, 2.0, 1.5};  // 3 samples, 4 parameters
  batch::ArrayInput in;
  in.y = y;
  in.count = 1;
  in.m = 3;
  const std::vector<double> x0{1.0, 1.0, 1.0, 0.0};
  in.x0 = x0;
  batch::BatchOptions o;
  o.fix = "c";
  auto r = batch::fit(model, in, o);
  CHECK(batch::converged(r.ier[0]));  // 3 free parameters, 3 samples: solvable
  CHECK(r.pegged == std::vector<std::int8_t>{0, 0, 0, 2});
  o.fix = "c,sigma";
  y.pop_back();
  in.y = y;
  in.m = 2;
  r = batch::fit(model, in, o);
  CHECK(batch::converged(r.ier[0]));
  in.m = 1;
  in.y = std::span<const double>(y.data(), 1);
  r = batch::fit(model, in, o);
  CHECK(r.ier[0] == -3);  // 1 sample, 2 free
  CHECK(r.pegged == std::vector<std::int8_t>{0, 0, 2, 2});
}
