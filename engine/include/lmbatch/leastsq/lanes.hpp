// MINPACK lmder or lmdif on several problems of one shape side by side, one per SIMD
// lane (issue #19). Each lane does exactly the scalar solver's arithmetic in
// the same order: the driver's decisions are the scalar LmCore itself (one per
// lane, in lane mode), and the m-sized work (the norms of the residuals,
// lmdif's difference columns, the QR factorisation with column pivoting and
// Q^T f) runs in vectors whose lanes
// are the problems. IEEE addition, multiplication, division and square root
// round each lane as the scalar instruction does, so every problem gets the
// scalar path's ier, nfev, njev and bits of x and cov_x, whatever the other
// lanes hold (tests/leastsq/test_lanes.cpp).
//
// Layout ("interleaved"): element i of lane l of an m-vector at [i*W + l];
// a parameter vector is n x W (p[j*W + l]); a Jacobian is n columns of
// m x W (jac[(j*m + i)*W + l]). W = simd::lane_width(): the doubles in one vector of
// the target chosen at run time (lmbatch/simd/targets.hpp): 8 on AVX-512, 4 on
// AVX2, 2 on SSE4, 1 on CPUs without SSE4 (Highway's scalar baseline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <vector>

#include "lmbatch/leastsq/leastsq.hpp"

namespace lmbatch::leastsq {

// Storage for vectors: aligned to 64 bytes (an AVX-512 register), so that
// every row of W doubles is one aligned load.
template <class T>
struct VectorAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  VectorAllocator() = default;
  template <class U>
  VectorAllocator(const VectorAllocator<U>&) {}
  T* allocate(std::size_t count) {
    return static_cast<T*>(::operator new(count * sizeof(T), kAlignment));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, kAlignment); }
  friend bool operator==(const VectorAllocator&, const VectorAllocator&) { return true; }
};
using LaneVector = std::vector<double, VectorAllocator<double>>;

// What the lanes solve: the caller hands out problems, evaluates them and takes
// the finished ones. Called from the thread running LaneLmder::run only.
class LaneProblems {
 public:
  virtual ~LaneProblems() = default;
  // Puts the next problem into `lane` with its starting point in x0 (n values);
  // false when there is none left.
  virtual bool next(int lane, std::span<double> x0) = 0;
  // r (m x W) = the residuals of every lane whose active[lane] is set, at x
  // (n x W); the other lanes' columns may be written with anything.
  virtual void residuals(const double* x, double* r, const std::uint8_t* active) = 0;
  // jac (n x m x W) = the Jacobian of the residuals (d r_i / d x_j) of every
  // active lane at x; the other lanes' columns may be written with anything.
  virtual void jacobian(const double* x, double* jac, const std::uint8_t* active) = 0;
  // The lane's problem is done: x its solution, ws holds what covariance()
  // needs (R, ipvt), and where full_output() all the scalar solve leaves
  // there (fvec, fjac with its Householder vectors, ipvt, qtf, factored()).
  virtual void finished(int lane, const Summary& summary, std::span<const double> x,
                        const Workspace& ws) = 0;
  // Whether finished() reads the workspace's full output: the lanes then copy
  // each factorisation and the final residuals out of the vectors (m x n and
  // m values per lane), which the solve itself does not need.
  virtual bool full_output() const { return false; }
  // The options the lane's next problem (the one next() just put there) is
  // solved with: `run`, or a copy with that problem's bounds (Options::lower,
  // upper: MPFIT's limits), valid until finished(lane).
  virtual const Options& options(int /*lane*/, const Options& run) { return run; }
};

// Runs lmder (analytic_jacobian, the default) or lmdif (forward differences:
// LaneProblems::jacobian is never called), bounds per problem
// (LaneProblems::options), options.col_deriv
// irrelevant, over problems of m residuals and n parameters, simd::lane_width()
// at a time; a lane whose problem finishes takes the next one at once. Sized
// once; no allocation in run().
class LaneLmder {
 public:
  LaneLmder(int m, int n, bool analytic_jacobian = true);
  bool analytic_jacobian() const { return analytic_; }
  int width() const { return w_; }
  void run(LaneProblems& problems, const Options& options);

 private:
  void start(int lane, LaneProblems& problems, const Options& options);
  void residual_round(LaneProblems& problems, const Options& options);
  void jacobian_round(LaneProblems& problems, const Options& options);
  bool enough_waiting() const;
  // residuals: the vector whose column `lane` holds the residuals at the
  // lane's x (fvec_, or trial_ after an accepted step); null where the
  // problem ended before any evaluation.
  void finish(int lane, LaneProblems& problems, const Options& options,
              const LaneVector* residuals);

  int m_, n_, w_;
  bool analytic_;
  bool full_output_ = false;  // this run's LaneProblems::full_output()
  std::vector<Workspace> ws_;
  std::vector<std::optional<LmCore>> core_;
  std::vector<double> x_;                         // n per lane: the lane's iterate (LmCore's x)
  LaneVector point_;                              // n x W: where to evaluate
  LaneVector trial_;                              // m x W: the residuals just evaluated
  LaneVector fvec_;                               // m x W: the residuals at each lane's iterate
  LaneVector jac_;                                // n x m x W: the Jacobian, factorised in place
  LaneVector qtb_;                                // m x W: fvec, then Q^T fvec
  LaneVector rdiag_, acnorm_, ipvt_, wa_, tail_;  // n x W each
  LaneVector norm_, gather_;                      // W; m
  LaneVector take_;                 // W: 1 where the lane took the residuals just evaluated
  LaneVector norm_wanted_;          // W: 1 where the lane needs the norm of trial_
  LaneVector fd_column_, fd_step_;  // W: lmdif's column each lane differences (-1: none), h
  LaneVector factor_;               // W: 1 where the lane's Jacobian is factorised this round
  std::vector<std::uint8_t> want_;  // W: the lane is evaluated this round
};

}  // namespace lmbatch::leastsq
