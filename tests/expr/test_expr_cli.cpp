// `lmbatch fit` with expression models (--model 'expr: ...', --params) and
// model plugins (--model-plugin, the example plugin of examples/plugin and
// broken ones), end to end through HDF5 files.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cli_support.hpp"

using Catch::Matchers::Contains;
using namespace lmbatch::test;

namespace {

// count problems of m samples: a gaussian on a constant, with a small
// deterministic wiggle; truth (a, mu, s, c) varies a little per problem.
void write_gaussians(const std::string& path, int count, int m) {
  std::vector<double> x(static_cast<std::size_t>(m)), y(static_cast<std::size_t>(count * m));
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = -3.0 + 6.0 * i / (m - 1);
  for (int k = 0; k < count; ++k) {
    const double a = 3.0 + 0.01 * k, mu = 0.5 - 0.002 * k, s = 0.6, c = 0.2;
    for (int i = 0; i < m; ++i) {
      const double xi = x[static_cast<std::size_t>(i)];
      y[static_cast<std::size_t>(k * m + i)] =
          a * std::exp(-(xi - mu) * (xi - mu) / (2 * s * s)) + c + 1e-3 * std::sin(13.0 * i + k);
    }
  }
  write_h5(path, {{"y", y, {static_cast<hsize_t>(count), static_cast<hsize_t>(m)}},
                  {"x", x, {static_cast<hsize_t>(m)}}});
}

}  // namespace

TEST_CASE("lmbatch fit --model 'expr: ...'", "[expr][cli]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  write_gaussians(in, 50, 40);
  const std::string model = shell_quote("expr: a*exp(-(x-mu)^2/(2*s^2)) + c");

  SECTION("free names in order of appearance") {
    const CommandResult r = run_lmbatch(
        "fit " + in + " -o " + out + " --x /x --model " + model + " --x0-values 2,0,1,0", dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(read_string_attribute(out, "parameter_names") ==
          std::vector<std::string>{"a", "mu", "s", "c"});
    CHECK(read_string_attribute(out, "model") ==
          std::vector<std::string>{"expr: a*exp(-(x-mu)^2/(2*s^2)) + c"});
    const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
    const auto x = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    for (int k = 0; k < 50; ++k) {
      CHECK(ier[static_cast<std::size_t>(k)] >= 1);
      CHECK(ier[static_cast<std::size_t>(k)] <= 4);
      CHECK(x[static_cast<std::size_t>(4 * k)] == Approx(3.0 + 0.01 * k).epsilon(1e-2));
      CHECK(std::fabs(x[static_cast<std::size_t>(4 * k + 2)]) == Approx(0.6).epsilon(1e-2));
    }
  }
  SECTION("--params orders the parameters") {
    const CommandResult r = run_lmbatch("fit " + in + " -o " + out + " --x /x --model " + model +
                                            " --params c,a,mu,s --x0-values 0,2,0,1",
                                        dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(read_string_attribute(out, "parameter_names") ==
          std::vector<std::string>{"c", "a", "mu", "s"});
    CHECK(read_string_attribute(out, "model") ==
          std::vector<std::string>{"expr(c,a,mu,s): a*exp(-(x-mu)^2/(2*s^2)) + c"});
    const auto x = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    CHECK(x[1] == Approx(3.0).epsilon(1e-2));
    CHECK(x[0] == Approx(0.2).epsilon(5e-2));
  }
  SECTION("an expression after catalogue terms") {
    const CommandResult r =
        run_lmbatch("fit " + in + " -o " + out + " --x /x --model " +
                        shell_quote("gaussian + expr: c0 + c1*x") + " --x0-values 2,0,1,0,0",
                    dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(read_string_attribute(out, "parameter_names") ==
          std::vector<std::string>{"amplitude", "center", "sigma", "c0", "c1"});
    const auto x = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    CHECK(x[3] == Approx(0.2).epsilon(5e-2));
  }
  SECTION("analytic and forward Jacobians agree") {
    const std::string out2 = dir.file("out2.h5");
    REQUIRE(run_lmbatch("fit " + in + " -o " + out + " --x /x --model " + model +
                            " --x0-values 2,0,1,0 --quiet",
                        dir)
                .status == 0);
    REQUIRE(run_lmbatch("fit " + in + " -o " + out2 + " --x /x --model " + model +
                            " --x0-values 2,0,1,0 --jacobian forward --quiet",
                        dir)
                .status == 0);
    const auto a = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    const auto f = read_h5<double>(out2, "/x", H5T_NATIVE_DOUBLE);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(f[i] == Approx(a[i]).epsilon(1e-6));
  }
}

TEST_CASE("lmbatch fit: expression errors", "[expr][cli][errors]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  write_gaussians(in, 2, 20);
  const std::string base = "fit " + in + " -o " + out + " --x /x ";
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"--model " + shell_quote("expr: a*(x+") + " --x0-values 1", 1, "column 6"},
      {"--model " + shell_quote("expr: a*foo(x)") + " --x0-values 1", 1,
       "unknown function \"foo\""},
      {"--model " + shell_quote("expr: atan2(a)") + " --x0-values 1", 1,
       "function \"atan2\" takes 2 arguments, got 1"},
      {"--model " + shell_quote("expr: a*x + q") + " --params a --x0-values 1", 1,
       "unknown name \"q\""},
      {"--model " + shell_quote("expr: a*x") + " --params a,b --x0-values 1,2", 1,
       "\"b\" of the parameter list appears in no expression"},
      {"--model " + shell_quote("expr: a*x"), 1, "has no starting-value estimate"},
      {"--model " + shell_quote("expr: a*x + b") + " --x0-values 1", 1, "x0_values has 1 values"},
      {"--x0-values 1", 2, "--model"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const CommandResult r = run_lmbatch(base + c.args, dir);
    INFO(r.output);
    CHECK(r.status == c.status);
    CHECK_THAT(r.output, Contains(c.message));
  }
}

TEST_CASE("lmbatch fit --model-plugin: the example plugin", "[expr][cli][plugin]") {
  TempDir dir;
  const std::string in = dir.file("steps.h5"), out = dir.file("out.h5");
  // logistic steps on a constant: height 3 (+k/100), mid 5, width 0.7, offset 1
  const int count = 20, m = 60;
  std::vector<double> x(m), y(count * m);
  for (int i = 0; i < m; ++i) x[static_cast<std::size_t>(i)] = 10.0 * i / (m - 1);
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i)
      y[static_cast<std::size_t>(k * m + i)] =
          (3.0 + 0.01 * k) / (1.0 + std::exp(-(x[static_cast<std::size_t>(i)] - 5.0) / 0.7)) + 1.0 +
          1e-3 * std::cos(7.0 * i + k);
  write_h5(in, {{"y", y, {count, m}}, {"x", x, {m}}});
  const std::string plugin = LMBATCH_EXAMPLE_PLUGIN;

  SECTION("by name in a sum, with its starting-value estimate") {
    const CommandResult r = run_lmbatch("fit " + in + " -o " + out + " --x /x --model-plugin " +
                                            plugin + " --model logistic_step+constant",
                                        dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("loaded model plugin logistic_step"));
    CHECK(read_string_attribute(out, "parameter_names") ==
          std::vector<std::string>{"height", "mid", "width", "c"});
    const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
    const auto p = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    for (int k = 0; k < count; ++k) {
      INFO(k);
      CHECK(ier[static_cast<std::size_t>(k)] >= 1);
      CHECK(ier[static_cast<std::size_t>(k)] <= 4);
      CHECK(p[static_cast<std::size_t>(4 * k)] == Approx(3.0 + 0.01 * k).epsilon(1e-2));
      CHECK(p[static_cast<std::size_t>(4 * k + 1)] == Approx(5.0).epsilon(1e-2));
      CHECK(p[static_cast<std::size_t>(4 * k + 2)] == Approx(0.7).epsilon(1e-2));
      CHECK(p[static_cast<std::size_t>(4 * k + 3)] == Approx(1.0).epsilon(1e-2));
    }
  }
  SECTION("alone (no --model), from given starting values, both Jacobians") {
    for (const char* jac : {"analytic", "forward"}) {
      const CommandResult r =
          run_lmbatch("fit " + in + " -o " + out + " --overwrite --x /x --model-plugin " + plugin +
                          " --x0-values 2,4,1 --jacobian " + jac,
                      dir);
      INFO(r.output);
      REQUIRE(r.status == 0);
      CHECK(read_string_attribute(out, "model") == std::vector<std::string>{"logistic_step"});
      const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
      for (const auto s : ier) CHECK((s >= 1 && s <= 4));
    }
  }
  SECTION("next to an expression") {
    const CommandResult r =
        run_lmbatch("fit " + in + " -o " + out + " --x /x --model-plugin " + plugin + " --model " +
                        shell_quote("logistic_step + expr: c") + " --x0-values 2,4,1,0",
                    dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto p = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    CHECK(p[3] == Approx(1.0).epsilon(1e-2));
  }
}

TEST_CASE("lmbatch fit --model-plugin: broken plugins are refused", "[expr][cli][plugin][errors]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  write_gaussians(in, 2, 20);
  const std::string base = "fit " + in + " -o " + out + " --x /x --x0-values 1,1 --model-plugin ";
  struct Case {
    std::string plugin;
    std::string message;
  };
  const std::vector<Case> cases = {
      {dir.file("missing.so"), "cannot load"},
      {in, "cannot load"},
      {LMBATCH_TEST_PLUGIN_NOT_A_PLUGIN, "no exported function lmbatch_plugin_abi_version"},
      {LMBATCH_TEST_PLUGIN_BAD_VERSION, "built for plugin ABI version 99"},
      {LMBATCH_TEST_PLUGIN_BAD_NAMES, "parameter name \"k\" appears twice"},
  };
  for (const Case& c : cases) {
    INFO(c.plugin);
    const CommandResult r = run_lmbatch(base + c.plugin, dir);
    INFO(r.output);
    CHECK(r.status == 1);
    CHECK_THAT(r.output, Contains("model plugin") && Contains(c.message));
  }
  // the same name twice
  const std::string twice =
      std::string(LMBATCH_EXAMPLE_PLUGIN) + " --model-plugin " + LMBATCH_EXAMPLE_PLUGIN;
  const CommandResult r = run_lmbatch(base + twice, dir);
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Contains("two model plugins are named logistic_step"));
}

TEST_CASE("lmbatch fit --model-plugin: a failing evaluation fails that fit only",
          "[expr][cli][plugin]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  const int m = 10;
  std::vector<double> x(m), y(2 * m);
  for (int i = 0; i < m; ++i) {
    x[static_cast<std::size_t>(i)] = i + 1.0;
    y[static_cast<std::size_t>(i)] = 2.0 * (i + 1.0);
    y[static_cast<std::size_t>(m + i)] = 2.0 * (i + 1.0);
  }
  const std::vector<double> x0 = {1.0, 20.0};  // the second starts where the plugin fails
  write_h5(in, {{"y", y, {2, m}}, {"x", x, {m}}, {"x0", x0, {2, 1}}});
  const CommandResult r = run_lmbatch(
      "fit " + in + " -o " + out + " --x /x --x0 /x0 --model-plugin " + LMBATCH_TEST_PLUGIN_FAILING,
      dir);
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
  const auto p = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
  CHECK(ier[0] >= 1);
  CHECK(ier[0] <= 4);
  CHECK(p[0] == Approx(2.0));
  CHECK(ier[1] == -2);
}

TEST_CASE("lmbatch fit and info: x with several predictors per sample (x1, x2)",
          "[expr][cli][predictors]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5");
  // 2 x 3 problems of m samples; x per problem, shape (2, 3, m, 2):
  // y = a*exp(-b*x1) + c*x2 with a, c varying per problem.
  const int count = 6, m = 30;
  std::vector<double> x, y;
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < m; ++i) {
      const double x1 = 0.2 * i + 0.05 * k, x2 = std::cos(0.9 * i + k);
      x.push_back(x1);
      x.push_back(x2);
      y.push_back((2.0 + 0.1 * k) * std::exp(-0.4 * x1) + (0.5 - 0.1 * k) * x2 +
                  1e-3 * std::sin(7.0 * i + k));
    }
  x[static_cast<std::size_t>((4 * m + 9) * 2 + 1)] = std::nan("");  // problem 4 misses sample 9
  write_h5(in, {{"y", y, {2, 3, m}},
                {"x", x, {2, 3, m, 2}},
                {"x_shared", std::vector<double>(x.begin(), x.begin() + 2 * m), {m, 2}},
                {"x_column", std::vector<double>(x.begin(), x.begin() + m), {m, 1}}});
  const std::string model = shell_quote("expr: a*exp(-b*x1) + c*x2");

  SECTION("per-problem predictors, both Jacobians") {
    for (const char* jac : {"analytic", "forward"}) {
      const CommandResult r =
          run_lmbatch("fit " + in + " -o " + out + " --overwrite --x /x --model " + model +
                          " --x0-values 1,1,0 --jacobian " + jac,
                      dir);
      INFO(r.output);
      REQUIRE(r.status == 0);
      CHECK(read_string_attribute(out, "parameter_names") ==
            std::vector<std::string>{"a", "b", "c"});
      const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
      const auto m_valid = read_h5<std::int32_t>(out, "/m_valid", H5T_NATIVE_INT32);
      const auto p = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
      for (int k = 0; k < count; ++k) {
        INFO(jac << " problem " << k);
        const auto kk = static_cast<std::size_t>(k);
        CHECK((ier[kk] >= 1 && ier[kk] <= 4));
        CHECK(m_valid[kk] == (k == 4 ? m - 1 : m));
        CHECK(p[3 * kk] == Approx(2.0 + 0.1 * k).epsilon(1e-2));
        CHECK(p[3 * kk + 1] == Approx(0.4).epsilon(1e-2));
        CHECK(p[3 * kk + 2] == Approx(0.5 - 0.1 * k).margin(1e-2));
      }
    }
  }
  SECTION("lmbatch info describes the predictors") {
    const CommandResult r = run_lmbatch("info " + in + " --x /x", dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Contains("6 problems (2 x 3) of 30 samples") &&
                             Contains("x: /x, 2 predictors per sample, x1, x2 in expressions "
                                      "(one 30 x 2 array per problem)"));
    const CommandResult s = run_lmbatch("info " + in + " --x /x_shared", dir);
    CHECK_THAT(s.output, Contains("(one 30 x 2 array shared by every problem)"));
  }
  SECTION("errors") {
    struct Case {
      std::string args;
      std::string message;
    };
    const std::vector<Case> cases = {
        {"--x /x --model " + shell_quote("expr: a*exp(-b*x) + c") + " --x0-values 1,1,0",
         "uses x, but the input's x has 2 predictors per sample, named x1, x2"},
        {"--x /x_shared --model linear --x0-values 1,1",
         "model term \"linear\" takes a single x, but the input's x has 2 predictors per sample"},
        {"--x /x --model " + shell_quote("expr: a*x1 + b*x3") + " --x0-values 1,1",
         "uses x3, but the input's x has 2 predictors per sample, named x1, x2"},
        {"--x none --model " + model + " --x0-values 1,1,0",  // not the file's /x: 0..m-1
         "uses x2, but the input's x has one predictor per sample"},
        {"--x /x_column --model " + model + " --x0-values 1,1,0",
         "dataset /x_column: shape (30, 1) has a trailing predictor dimension of 1"},
        {"--x /x --model " + model + " --params a,b,c,x1 --x0-values 1,1,0,0",
         "parameter name \"x1\" is a predictor variable"},
    };
    for (const Case& c : cases) {
      INFO(c.args);
      const CommandResult r =
          run_lmbatch("fit " + in + " -o " + out + " --overwrite " + c.args, dir);
      INFO(r.output);
      CHECK(r.status == 1);
      CHECK_THAT(r.output, Contains(c.message));
    }
  }
}
