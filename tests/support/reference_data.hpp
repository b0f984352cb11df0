// Loaders for the reference results in tests/data (copied from shared/data):
// scipy.optimize.leastsq on the MINPACK-1 test problems and on NIST StRD.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lmbatch::test {

// One scipy.optimize.leastsq run and what it returned (full_output=True).
struct ScipyRun {
  std::string id;
  bool analytic = false;  // Dfun given (lmder) or not (lmdif)
  std::vector<double> x0;
  double ftol = 0, xtol = 0, gtol = 0;
  int maxfev = 0;  // 0: scipy's default
  std::vector<double> x;
  int nfev = 0, njev = 0, ier = 0;
  std::string mesg;
  double fvec_norm = 0;
  std::vector<double> fvec, qtf;
  std::vector<double> fjac;                  // n x m row-major, scipy's infodict['fjac']
  std::vector<int> ipvt;                     // 1-based
  std::optional<std::vector<double>> cov_x;  // n x n row-major
};

struct MinpackCase {
  ScipyRun scipy;
  int nprob = 0, n = 0, m = 0;
  double x0_factor = 1;
  std::string name;
};
// The 106 cases of minpack/cases.json with scipy's results joined by id.
const std::vector<MinpackCase>& minpack_cases();

struct NistDataset {
  std::string name;
  int n_params = 0;
  std::vector<double> x1, x2, y;  // x2 empty except for Nelson
  std::vector<double> start1, start2, certified_values, certified_std_dev;
  double certified_rss = 0;
};
const NistDataset& nist_dataset(const std::string& name);
std::vector<std::string> nist_dataset_names();

struct NistRun {
  ScipyRun scipy;
  std::string dataset, start;  // "start1" / "start2"
  bool rounding_sensitive = false;
  double rss = 0;
};
// The 108 runs: datasets x {start1, start2} x {fd, an}.
const std::vector<NistRun>& nist_runs();

}  // namespace lmbatch::test
