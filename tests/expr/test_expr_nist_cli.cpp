// Issue 5's proof: every NIST StRD model runs through `lmbatch fit` as an
// expression (its model_expression, verbatim) from an HDF5 file holding its
// data, and gives scipy's ier and nfev (njev) and x.
//
//   lmbatch fit data.h5 -o fit.h5 --model 'expr: <model_expression>' --params b1,..,bk
//               --x0-values <start> --jacobian forward|analytic --threads 1
//
// The residuals are bit-identical to the reference evaluation and the
// analytic Jacobian is sympy's derivative, printed and evaluated as the
// reference did (jacobian_of_model): every run gives scipy's ier, nfev (njev)
// and x, in both modes.
//
// Nelson has two predictors (x1, x2) and the response log(y): its file holds
// x of shape (128, 2) (a trailing predictor dimension; the expression reads
// x1 and x2) and y = log(y), computed with C's log as the reference did.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cli_support.hpp"
#include "nist_expressions.hpp"
#include "support/check.hpp"
#include "support/conformance_report.hpp"
#include "support/reference_data.hpp"

using namespace lmbatch::test;

namespace {

std::string join(const std::vector<double>& v) {
  std::string s;
  char buf[40];
  for (const double d : v) {
    std::snprintf(buf, sizeof buf, "%.17g", d);
    s += (s.empty() ? "" : ",") + std::string(buf);
  }
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : ",") + e;
  return s;
}

}  // namespace

TEST_CASE("NIST StRD through lmbatch fit: expression models from HDF5 files",
          "[conformance][expr][cli][nist]") {
  TempDir dir;
  ConformanceReport report(
      "expr_nist_cli",
      "| run | ier (scipy) | nfev (scipy) | njev (scipy) | max rel. diff x |\n|---|---|---|---|---|");
  int runs[2] = {0, 0}, counts_match[2] = {0, 0}, x_match[2] = {0, 0};  // [forward, analytic]
  std::string mismatches;
  for (const NistRun& run : nist_runs()) {
    const ScipyRun& ref = run.scipy;
    INFO(ref.id);
    const NistExpression e = nist_expression(run.dataset);
    const NistDataset& d = nist_dataset(run.dataset);
    const std::string in = dir.file(run.dataset + ".h5");
    const auto m = static_cast<hsize_t>(d.y.size());
    if (e.predictors.size() == 1) {
      REQUIRE(e.response == "y");
      write_h5(in, {{"y", d.y, {m}}, {"x", d.x1, {m}}});
    } else {
      // Nelson: x1, x2 side by side, one row per sample; the response log(y).
      REQUIRE(e.predictors == std::vector<std::string>{"x1", "x2"});
      REQUIRE(e.response == "log(y)");
      std::vector<double> x, log_y;
      for (std::size_t i = 0; i < d.y.size(); ++i) {
        x.push_back(d.x1[i]);
        x.push_back(d.x2[i]);
        log_y.push_back(std::log(d.y[i]));
      }
      write_h5(in, {{"y", log_y, {m}}, {"x", x, {m, 2}}});
    }
    const std::string out = dir.file("fit.h5");
    const CommandResult r = run_lmbatch(
        "fit " + in + " -o " + out + " --overwrite --quiet --threads 1 --x /x --model " +
            shell_quote("expr: " + e.model_expression) + " --params " + join(e.parameters) +
            " --x0-values " + join(ref.x0) + " --jacobian " +
            (ref.analytic ? "analytic" : "forward"),
        dir);
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto ier = read_h5<std::int16_t>(out, "/ier", H5T_NATIVE_INT16);
    const auto nfev = read_h5<std::int32_t>(out, "/nfev", H5T_NATIVE_INT32);
    const auto njev = read_h5<std::int32_t>(out, "/njev", H5T_NATIVE_INT32);
    const auto x = read_h5<double>(out, "/x", H5T_NATIVE_DOUBLE);
    REQUIRE(ier.size() == 1);
    REQUIRE(x.size() == ref.x.size());
    const int a = ref.analytic ? 1 : 0;
    const bool counts =
        ier[0] == ref.ier && nfev[0] == ref.nfev && (!ref.analytic || njev[0] == ref.njev);
    const double dx = max_relative_difference(x, ref.x);
    ++runs[a];
    counts_match[a] += counts;
    x_match[a] += dx <= 1e-9;
    if (!counts) mismatches += " " + ref.id;
    CHECK(ier[0] == ref.ier);
    CHECK(nfev[0] == ref.nfev);
    if (ref.analytic) CHECK(njev[0] == ref.njev);
    CHECK(dx <= 1e-9);
    report.row(format("| %s | %d (%d) | %d (%d) | %d (%d) | %.1e |", ref.id.c_str(), ier[0],
                      ref.ier, nfev[0], ref.nfev, ref.analytic ? njev[0] : 0, ref.njev, dx));
  }
  report.summary(format("%d/%d forward-difference runs with scipy's ier and nfev (%d with x "
                        "within 1e-9); Nelson's x has two predictors, shape (128, 2)",
                        counts_match[0], runs[0], x_match[0]));
  report.summary(format("%d/%d analytic-Jacobian runs with scipy's ier, nfev and njev (%d with x "
                        "within 1e-9)",
                        counts_match[1], runs[1], x_match[1]));
  report.summary("runs differing from scipy:" + (mismatches.empty() ? std::string(" none") : mismatches));
  CHECK(runs[0] == 54);
  CHECK(runs[1] == 54);
  CHECK(counts_match[0] == 54);
  CHECK(counts_match[1] == 54);
  CHECK(x_match[0] == 54);
  CHECK(x_match[1] == 54);
}
