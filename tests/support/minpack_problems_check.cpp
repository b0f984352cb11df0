// Prints fvec and fjac of the MINPACK test problems (minpack_problems.cpp) for each
// of the cases in minpack/cases.json, at the case's starting point (from initpt)
// and at scipy's final x (minpack/scipy_ref/scipy_results.json), one value per
// line with %.17g. minpack_problems_check.py prints the same from the Python
// reference, so `diff` of the two outputs shows bitwise agreement.
//
// Usage: minpack_problems_check [DATA_DIR]   (DATA_DIR holds cases.json and
// scipy_ref/; default ../shared/data/minpack, relative to the repository root)
//
// On stderr: the starting point from initpt compared bitwise with the case's x0,
// and the initial norm compared with the references' printed norms. Exit status 1
// if any of those checks fails.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "minpack_problems.hpp"

namespace {

using nlohmann::json;

json load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  return json::parse(in);
}

void print_point(const std::string& id, const char* where, int nprob, int n, int m,
                 const std::vector<double>& x) {
  std::vector<double> fvec(m), fjac(static_cast<std::size_t>(m) * n);
  lmbatch::test::ssqfcn(m, n, x.data(), fvec.data(), nprob);
  lmbatch::test::ssqjac(m, n, x.data(), fjac.data(), nprob);
  for (int j = 0; j < n; ++j) std::printf("%s %s x %d %.17g\n", id.c_str(), where, j, x[j]);
  for (int i = 0; i < m; ++i) std::printf("%s %s fvec %d %.17g\n", id.c_str(), where, i, fvec[i]);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i)
      std::printf("%s %s fjac %d %d %.17g\n", id.c_str(), where, i, j, fjac[i + j * m]);
}

// Is `value` within half a unit of the last of `digits` significant digits of `ref`?
bool agrees(double value, double ref, int digits) {
  if (ref == 0.0) return value == 0.0;
  const double unit = std::pow(10.0, std::floor(std::log10(std::fabs(ref))) - digits + 1);
  return std::fabs(value - ref) <= 0.5 * unit * (1.0 + 1e-9) + 1e-12 * std::fabs(ref);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "../shared/data/minpack";
  const json cases = load(dir + "/cases.json").at("cases");
  const json scipy = load(dir + "/scipy_ref/scipy_results.json").at("results");

  std::map<std::string, std::vector<double>> scipy_x;
  for (const auto& r : scipy)
    scipy_x[r.at("id").get<std::string>()] = r.at("x").get<std::vector<double>>();

  int failures = 0;
  for (const auto& c : cases) {
    const std::string id = c.at("id");
    const int nprob = c.at("nprob");
    const int n = c.at("n");
    const int m = c.at("m");
    const double factor = c.at("x0_factor");

    std::vector<double> x0(n);
    lmbatch::test::initpt(n, x0.data(), nprob, factor);
    const std::vector<double> x0_json = c.at("x0");
    for (int j = 0; j < n; ++j) {
      if (x0[j] != x0_json.at(j) || std::signbit(x0[j]) != std::signbit(x0_json.at(j))) {
        std::fprintf(stderr, "%s: initpt x[%d] = %.17g, cases.json x0 = %.17g\n", id.c_str(), j,
                     x0[j], x0_json.at(j));
        ++failures;
      }
    }

    // Initial norm against the printed references (legacy Fortran: 7 significant
    // digits; recent Fortran and C drivers: 8).
    std::vector<double> f(m);
    lmbatch::test::ssqfcn(m, n, x0.data(), f.data(), nprob);
    double ss = 0.0;
    for (double v : f) ss += v * v;
    const double norm = std::sqrt(ss);
    const double expected = c.at("expected").at("initial_l2_norm");
    bool ok = agrees(norm, expected, 7);
    for (const auto& [name, alt] : c.at("alternate_references").items())
      ok = ok && agrees(norm, alt.at("initial_l2_norm").get<double>(), 8);
    std::fprintf(stderr, "%-26s initial norm %.10g expected %.10g %s\n", id.c_str(), norm, expected,
                 ok ? "ok" : "MISMATCH");
    if (!ok) ++failures;

    print_point(id, "start", nprob, n, m, x0);
    const auto it = scipy_x.find(id);
    if (it == scipy_x.end() || static_cast<int>(it->second.size()) != n) {
      std::fprintf(stderr, "%s: no scipy result with n = %d\n", id.c_str(), n);
      ++failures;
      continue;
    }
    print_point(id, "final", nprob, n, m, it->second);
  }
  std::fprintf(stderr, "%zu cases, %d check failure(s)\n", cases.size(), failures);
  return failures == 0 ? 0 : 1;
}
