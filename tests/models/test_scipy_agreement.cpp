// The catalogue's models against scipy.optimize.leastsq 1.10.1: seeded noisy
// problems of every term and of composites (tests/data/models/scipy_models.json,
// from tests/support/gen_model_refs.py, which evaluates the models with the
// same IEEE operations in the same order), each fitted with the analytic
// Jacobian (Dfun, col_deriv=1) and with forward differences. Residuals are
// y - model.value, the Jacobian -model.jacobian (column-major). Checked:
// identical ier, nfev and njev, x within 1e-10 relative, cov_x present where
// scipy's is and within 1e-6 where R's conditioning determines it, same mesg.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "lmbatch/leastsq/leastsq.hpp"
#include "lmbatch/models/model.hpp"
#include "support/check.hpp"
#include "support/conformance_report.hpp"

namespace lsq = lmbatch::leastsq;
using lmbatch::models::Model;
using namespace lmbatch::test;
using nlohmann::json;

namespace {

std::vector<double> doubles(const json& j) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(e.get<double>());
  return v;
}

struct Reference {
  std::vector<double> x;
  int nfev = 0, njev = -1, ier = 0;
  std::string mesg;
  std::optional<std::vector<double>> cov_x;  // n x n row-major
};

Reference read_reference(const json& r) {
  Reference ref;
  ref.x = doubles(r.at("x"));
  ref.nfev = r.at("nfev").get<int>();
  if (r.contains("njev")) ref.njev = r.at("njev").get<int>();
  ref.ier = r.at("ier").get<int>();
  ref.mesg = r.at("mesg").get<std::string>();
  if (!r.at("cov_x").is_null()) {
    std::vector<double> flat;
    for (const auto& row : r.at("cov_x"))
      for (const auto& e : row) flat.push_back(e.get<double>());
    ref.cov_x = flat;
  }
  return ref;
}

json load_references() {
  const std::string path = std::string(LMBATCH_TEST_DATA) + "/models/scipy_models.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  return json::parse(in);
}

struct ModelTally {
  int runs = 0, ier_match = 0, nfev_match = 0, x_match = 0;
  double worst_x = 0.0;
};

}  // namespace

TEST_CASE("catalogue models: same ier, nfev and x as scipy.optimize.leastsq",
          "[conformance][models]") {
  const json refs = load_references();
  const json& problems = refs.at("problems");
  REQUIRE(problems.size() >= 45);
  ConformanceReport report("models_scipy",
                           "| run | ier (scipy) | nfev (scipy) | njev (scipy) | max rel. diff x | "
                           "max rel. diff cov_x |\n|---|---|---|---|---|---|");
  std::map<std::string, ModelTally> tallies;
  std::vector<std::string> model_order;
  int total = 0, all_match = 0;
  double worst_x = 0.0, worst_cov = 0.0;

  for (const auto& problem : problems) {
    const std::string id = problem.at("id").get<std::string>();
    const std::string spec = problem.at("model").get<std::string>();
    const Model model = Model::parse(spec);
    const std::vector<double> x = doubles(problem.at("x"));
    const std::vector<double> y = doubles(problem.at("y"));
    const std::vector<double> x0 = doubles(problem.at("x0"));
    const int m = static_cast<int>(x.size());
    const int n = model.n_params();
    REQUIRE(static_cast<int>(x0.size()) == n);
    if (!tallies.count(spec)) model_order.push_back(spec);

    std::vector<double> f(x.size());
    const lsq::ResidualFunction residuals = [&](std::span<const double> p, std::span<double> r) {
      model.value(p, x, f);
      for (int i = 0; i < m; ++i)
        r[static_cast<size_t>(i)] = y[static_cast<size_t>(i)] - f[static_cast<size_t>(i)];
    };
    const lsq::ResidualFunction jacobian = [&](std::span<const double> p, std::span<double> jac) {
      model.jacobian(p, x, jac);  // column-major, of f
      for (double& v : jac) v = -v;
    };

    for (const char* method : {"lmder", "lmdif"}) {
      const bool analytic = std::string(method) == "lmder";
      const Reference ref = read_reference(problem.at(method));
      const std::string run_id = id + " " + method;
      INFO(run_id);
      lsq::Options options;
      options.col_deriv = true;  // Dfun returns the n x m transpose = column-major m x n
      const auto r = analytic ? lsq::leastsq(residuals, x0, m, jacobian, options)
                              : lsq::leastsq(residuals, x0, m, nullptr, options);

      const double dx = max_relative_difference(r.x, ref.x);
      double dcov = 0.0;
      if (r.cov_x && ref.cov_x) dcov = max_relative_difference(*r.cov_x, *ref.cov_x);
      const bool cov_determined = covariance_is_determined(condition_of_r(r.fjac, n, m));
      CHECK(r.ier == ref.ier);
      CHECK(r.nfev == ref.nfev);
      if (analytic) CHECK(r.njev.value_or(-1) == ref.njev);
      CHECK(dx <= 1e-10);
      CHECK(r.cov_x.has_value() == ref.cov_x.has_value());
      if (cov_determined) CHECK(dcov <= 1e-6);
      CHECK(r.mesg == ref.mesg);

      ModelTally& t = tallies[spec];
      ++t.runs;
      t.ier_match += r.ier == ref.ier;
      t.nfev_match += r.nfev == ref.nfev && (!analytic || r.njev.value_or(-1) == ref.njev);
      t.x_match += dx <= 1e-10;
      t.worst_x = std::max(t.worst_x, dx);
      ++total;
      all_match += r.ier == ref.ier && r.nfev == ref.nfev && dx <= 1e-10;
      worst_x = std::max(worst_x, dx);
      if (cov_determined) worst_cov = std::max(worst_cov, dcov);
      report.row(format("| %s | %d (%d) | %d (%d) | %d (%d) | %.1e | %.1e |", run_id.c_str(), r.ier,
                        ref.ier, r.nfev, ref.nfev, r.njev.value_or(0), std::max(ref.njev, 0), dx,
                        dcov));
    }
  }
  for (const auto& spec : model_order) {
    const ModelTally& t = tallies[spec];
    report.summary(format("%-24s ier %d/%d, nfev(njev) %d/%d, x within 1e-10 %d/%d, worst x %.1e",
                          spec.c_str(), t.ier_match, t.runs, t.nfev_match, t.runs, t.x_match,
                          t.runs, t.worst_x));
  }
  report.summary(
      format("%d/%d runs with identical ier and nfev and x within 1e-10; worst relative "
             "difference x %.2e, cov_x %.2e",
             all_match, total, worst_x, worst_cov));
}
