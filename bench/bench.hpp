// lmbatch_bench: one harness that runs the same generated problems (same data,
// same starting points, same tolerances) through lmbatch and its peers, and the
// "floor" (the model evaluations alone). See bench/README.md.
//
// Every peer calls the same Evaluator (residuals r = y - f(p), Jacobian
// dr/dp = -df/dp, column-major m x n, MINPACK's layout), so that the MINPACK
// ports see bit-identical numbers and their ier/nfev can be compared exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"

namespace lmbatch::bench {

// scipy.optimize.leastsq's defaults, for every peer (closest equivalents for
// Eigen's LM and Ceres' tiny_solver, see peers).
inline constexpr double kFtol = 1.49012e-8;
inline constexpr double kXtol = 1.49012e-8;
inline constexpr double kGtol = 0.0;
inline constexpr double kFactor = 100.0;
// scipy's default maxfev: 100*(n+1) with a Jacobian, 200*(n+1) without.
inline int default_maxfev(int n, bool analytic) {
  return (analytic ? 100 : 200) * (n + 1);
}

enum class ModelKind { catalogue, gauss2d };

// One workload: a model, its samples, and `count` problems (y, x0, truth).
struct Workload {
  int id = 0;               // 1..4
  std::string label;        // short name used for files: "w1"
  std::string name;         // what the tables show
  std::string spec;         // catalogue specification, or "gauss2d"
  ModelKind kind = ModelKind::catalogue;
  int m = 0, n = 0;
  int side = 0;             // gauss2d: the grid is side x side (m = side^2)
  double noise = 0.0;       // standard deviation of the added Gaussian noise
  std::uint64_t seed = 0;
  std::optional<models::Model> model;  // catalogue workloads only
  std::vector<std::string> parameter_names;
  std::vector<double> xs;   // m sample positions (catalogue: 0..m-1; gauss2d: sample index)
  std::size_t count = 0;
  std::vector<double> y;      // count x m
  std::vector<double> x0;     // count x n, 10-20 % off the truth
  std::vector<double> truth;  // count x n

  const double* y_row(std::size_t k) const { return y.data() + k * static_cast<std::size_t>(m); }
  const double* x0_row(std::size_t k) const { return x0.data() + k * static_cast<std::size_t>(n); }
};

// The four workloads of issue 4, without problems (count = 0).
// id 1: gaussian+constant (m=128, n=4); 2: exponential*2+constant (m=256, n=5);
// 3: gaussian*3+linear (m=1024, n=11); 4: Gpufit's gauss2d (5x5, n=5).
Workload workload_shape(int id);
// The shape plus `count` generated problems (deterministic in seed and the
// problem index: the first k problems do not depend on count).
Workload generate_workload(int id, std::size_t count, std::uint64_t seed);

// HDF5 data file: /y (count x m, chunked, shuffle+deflate as `lmbatch
// generate` writes), /x (m), /x0 (count x n), /truth (count x n), attributes
// model, workload, noise, seed. `lmbatch fit FILE --x /x --x0 /x0` reads it,
// and so does bench/scipy_loop.py.
void write_data_file(const Workload& w, const std::string& path);
Workload read_data_file(int id, const std::string& path);

// The residual code every peer calls. Not thread-safe: one per thread.
class Evaluator {
 public:
  explicit Evaluator(const Workload& w);
  void set_problem(std::size_t k) { y_ = w_->y_row(k); }
  // f(p) at the samples (no data involved).
  void value(const double* p, double* f);
  // r = y - f(p), m values.
  void residuals(const double* p, double* r);
  // dr/dp = -df/dp, column-major m x n (J[i + j*m]).
  void jacobian(const double* p, double* jac);

 private:
  const Workload* w_;
  const double* y_ = nullptr;
  std::vector<double> f_;
};

// Wall-clock and CPU time of a timed region. CPU time is what the machine's
// load does not inflate (the harness runs on shared cores): the calling
// thread's for single-threaded peers, the whole process's for threaded ones.
struct Times {
  double wall = 0.0, thread_cpu = 0.0, process_cpu = 0.0;
};
class Stopwatch {
 public:
  Stopwatch() { start_ = sample(); }
  Times elapsed() const {
    const Times now = sample();
    return {now.wall - start_.wall, now.thread_cpu - start_.thread_cpu,
            now.process_cpu - start_.process_cpu};
  }

 private:
  static Times sample();
  Times start_;
};

// What one peer produced on the first `count` problems of a workload.
struct PeerResult {
  std::string key;     // "lmbatch_lmder_loop"
  std::string name;    // "lmbatch lmder, loop"
  bool analytic = true;
  bool minpack_codes = true;  // ier holds MINPACK info codes (else the peer's own status)
  int threads = 1;
  std::size_t count = 0;
  Times best;                          // best wall and best CPU of the repetitions
  std::vector<Times> reps;             // every repetition
  std::vector<int> ier, nfev, njev;    // count each
  std::vector<std::uint8_t> success;   // count: the peer's own notion of convergence
  std::vector<double> x;               // count x n
  std::string note;
  void resize(std::size_t c, int n) {
    count = c;
    ier.assign(c, 0);
    nfev.assign(c, 0);
    njev.assign(c, 0);
    success.assign(c, 0);
    x.assign(c * static_cast<std::size_t>(n), 0.0);
  }
};

// A peer: solves problems [first, last) of w into r (already sized with
// resize()) and returns the time the solves took (setup outside the timed
// region where the peer allows it). The harness calls it block by block.
using PeerFn = Times (*)(const Workload& w, std::size_t first, std::size_t last, PeerResult& r);

struct PeerInfo {
  std::string key, name;
  bool analytic;
  bool minpack_codes;
  int threads;
  PeerFn run;
  std::string note;
};

// lmbatch: lmder / lmdif templates in a plain loop (1 thread, and 2 std::threads
// over the same loop), and batch::fit (the engine) on 1 and 2 threads.
std::vector<PeerInfo> lmbatch_peers();
// Peers found at configure time (cminpack, Eigen, Ceres); empty entries skipped.
std::vector<PeerInfo> cminpack_peers();
std::vector<PeerInfo> eigen_peers();
std::vector<PeerInfo> ceres_peers();

// The floor: residuals evaluated nfev[k] times and the Jacobian njev[k] times
// per problem k in [first, last) (at x0), with no solver around them.
// Times are the calling thread's CPU seconds.
struct FloorTimes {
  double residual_seconds = 0.0, jacobian_seconds = 0.0;
  long long residual_calls = 0, jacobian_calls = 0;
  double total() const { return residual_seconds + jacobian_seconds; }
};
FloorTimes run_floor(const Workload& w, std::size_t first, std::size_t last,
                     const std::vector<int>& nfev, const std::vector<int>& njev);

double now_seconds();  // steady clock
double thread_cpu_seconds();

}  // namespace lmbatch::bench
