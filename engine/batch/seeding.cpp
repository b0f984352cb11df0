// --x0-from: the aggregate spectrum of the whole input and its fit, the start
// of every problem (scaled to the problem's intensity in solve_problem). The
// idea is jdaviz's (PR #150: fit the summed spectrum, then the spaxels from
// it); the aggregate's own fit takes several starts, as each problem can
// with --starts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "lmbatch/batch/option_fields.hpp"
#include "solve_problem.hpp"

namespace lmbatch::batch::detail {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Starts for the aggregate's fit (at least, more with --starts): one fit for
// the whole run, so a thorough search costs nothing per problem.
constexpr int kAggregateStarts = 16;
// The median takes each channel's values from at most this many problems,
// evenly strided over the input (all of them below it): a bounded memory
// whatever the input's size, and the same rows for any threads or chunks.
constexpr std::size_t kMedianRows = 65536;

double median_of(std::vector<double>& v) {
  if (v.empty()) return kNaN;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(v.begin(), mid));
}

}  // namespace

Seed aggregate_seed(const models::Model& model, ProblemSource& source,
                    const BatchOptions& options) {
  const int m = source.samples(), n = model.n_params();
  const auto mm = static_cast<std::size_t>(m);
  const std::size_t total = source.problem_count();
  const std::string what = "x0_from " + std::string(choice_name(options.x0_from));
  // Read in blocks of the run's chunk size; the sums run over the problems in
  // their order, whatever the block size.
  const int per_read = std::clamp(options.chunk_size, 1, 1024);
  Chunk c;
  c.reserve(per_read, m, n, false);
  std::vector<double> sum(mm, 0.0);
  std::vector<std::size_t> present(mm, 0);
  const bool median = options.x0_from == X0From::median;
  const std::size_t stride = std::max<std::size_t>(1, (total + kMedianRows - 1) / kMedianRows);
  std::vector<double> kept;  // median: the strided problems' rows
  for (std::size_t first = 0; first < total; first += static_cast<std::size_t>(per_read)) {
    // A stop (SIGINT): no seed; the pipeline then stops before its first chunk.
    if (options.stop_requested && options.stop_requested->load(std::memory_order_relaxed))
      return {};
    const int count = static_cast<int>(std::min<std::size_t>(per_read, total - first));
    c.first = first;
    c.count = count;
    source.read(first, count, c);
    if (c.x0_layout != Layout::absent)
      throw std::invalid_argument(what + " and x0 are both given: drop one (--x0 none)");
    if (c.x_layout == Layout::per_problem)
      throw std::invalid_argument(what + " needs one x for every problem, not an x per problem");
    const auto d = static_cast<std::size_t>(c.x_layout == Layout::absent ? 1 : c.predictors);
    for (int k = 0; k < count; ++k) {
      const double* y = c.y.data() + static_cast<std::size_t>(k) * mm;
      const bool keep = median && (first + static_cast<std::size_t>(k)) % stride == 0;
      for (std::size_t i = 0; i < mm; ++i) {
        bool ok = std::isfinite(y[i]);
        for (std::size_t v = 0; ok && c.x_layout == Layout::shared && v < d; ++v)
          ok = std::isfinite(c.x[i * d + v]);
        if (keep) kept.push_back(ok ? y[i] : kNaN);
        if (!ok) continue;
        sum[i] += y[i];
        ++present[i];
      }
    }
  }

  // The aggregate as one problem, on the input's shared x and sigma (a
  // per-problem sigma is dropped: the aggregate is fitted unweighted).
  Chunk a;
  a.reserve(1, m, n, false);
  a.first = total;  // its perturbations are not any problem's
  a.count = 1;
  a.x_layout = c.x_layout;
  a.predictors = c.predictors;
  a.x = c.x;
  a.sigma_layout = c.sigma_layout == Layout::shared ? Layout::shared : Layout::absent;
  if (a.sigma_layout == Layout::shared) a.sigma = c.sigma;
  a.x0_layout = Layout::absent;
  std::vector<double> column;
  for (std::size_t i = 0; i < mm; ++i) {
    const double mean = present[i] > 0 ? sum[i] / static_cast<double>(present[i]) : kNaN;
    if (options.x0_from == X0From::mean) {
      a.y[i] = mean;
    } else if (options.x0_from == X0From::sum) {
      // The mean times the problem count: the plain sum where no sample is
      // missing, and on the same scale in every channel where some are.
      a.y[i] = mean * static_cast<double>(total);
    } else {
      column.clear();
      for (std::size_t row = 0; row * mm < kept.size(); ++row)
        if (std::isfinite(kept[row * mm + i])) column.push_back(kept[row * mm + i]);
      a.y[i] = median_of(column);
    }
  }

  BatchOptions fit_options = options;
  fit_options.starts = std::max(options.starts, kAggregateStarts);
  if (!fit_options.diag.empty()) fit_options.solver.diag = fit_options.diag;
  SolverScratch s;
  s.size_for(m, n);
  solve_problem(model, a, 0, s, fit_options, ResolvedConstraints{});
  Seed seed;
  seed.x0.assign(a.x_out.begin(), a.x_out.begin() + n);
  seed.y.assign(a.y.begin(), a.y.begin() + static_cast<std::ptrdiff_t>(mm));
  if (!std::all_of(seed.x0.begin(), seed.x0.end(), [](double v) { return std::isfinite(v); }))
    throw std::runtime_error("the fit of the " + std::string(choice_name(options.x0_from)) +
                             " spectrum (" + what + ") gave no finite parameters (ier " +
                             std::to_string(a.ier[0]) + ")");
  return seed;
}

}  // namespace lmbatch::batch::detail
