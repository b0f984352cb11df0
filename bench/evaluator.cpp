// The residual code every peer calls (built with -ffp-contract=off, as the
// engine). Catalogue workloads go through lmbatch's own Model::value and
// Model::jacobian, exactly as the batch engine's solve_problem does (r = y - f,
// J = -df/dp), so that the engine, the loop and cminpack see the same bits.
//
// Gpufit's GAUSS_2D (amplitude, x0, y0, sigma, offset) is not a catalogue
// model; it is written here with its analytic Jacobian, in the operation order
// that bench/scipy_loop.py mirrors (numpy elementwise, same order, no FMA).
#include <cmath>

#include "bench.hpp"

namespace lmbatch::bench {

Evaluator::Evaluator(const Workload& w) : w_(&w), f_(static_cast<std::size_t>(w.m)) {}

namespace {

// f = amplitude * exp(-(dx^2/(2 s^2) + dy^2/(2 s^2))) + offset, on the grid
// px = i % side, py = i / side.
inline void gauss2d_value(const double* p, int side, double* f) {
  const double amplitude = p[0], x0 = p[1], y0 = p[2], sigma = p[3], offset = p[4];
  const double two_s2 = 2.0 * (sigma * sigma);
  for (int i = 0; i < side * side; ++i) {
    const double dx = static_cast<double>(i % side) - x0;
    const double dy = static_cast<double>(i / side) - y0;
    const double argx = (dx * dx) / two_s2;
    const double argy = (dy * dy) / two_s2;
    const double e = std::exp(-argx - argy);
    f[i] = amplitude * e + offset;
  }
}

// Column-major derivatives of f (Gpufit's gauss2d derivatives), negated for
// the residual y - f.
inline void gauss2d_residual_jacobian(const double* p, int side, double* jac) {
  const double amplitude = p[0], x0 = p[1], y0 = p[2], sigma = p[3];
  const int m = side * side;
  const double s2 = sigma * sigma;
  const double two_s2 = 2.0 * s2;
  const double s3 = s2 * sigma;
  double* d_amplitude = jac;
  double* d_x0 = jac + m;
  double* d_y0 = jac + 2 * m;
  double* d_sigma = jac + 3 * m;
  double* d_offset = jac + 4 * m;
  for (int i = 0; i < m; ++i) {
    const double dx = static_cast<double>(i % side) - x0;
    const double dy = static_cast<double>(i / side) - y0;
    const double argx = (dx * dx) / two_s2;
    const double argy = (dy * dy) / two_s2;
    const double e = std::exp(-argx - argy);
    const double ae = amplitude * e;
    d_amplitude[i] = -e;
    d_x0[i] = -((ae * dx) / s2);
    d_y0[i] = -((ae * dy) / s2);
    d_sigma[i] = -((ae * (dx * dx + dy * dy)) / s3);
    d_offset[i] = -1.0;
  }
}

}  // namespace

void Evaluator::value(const double* p, double* f) {
  const int m = w_->m, n = w_->n;
  if (w_->kind == ModelKind::gauss2d) {
    gauss2d_value(p, w_->side, f);
    return;
  }
  w_->model->value(std::span<const double>(p, static_cast<std::size_t>(n)), w_->xs,
                   std::span<double>(f, static_cast<std::size_t>(m)));
}

void Evaluator::residuals(const double* p, double* r) {
  const int m = w_->m;
  double* f = f_.data();
  value(p, f);
  for (int i = 0; i < m; ++i) r[i] = y_[i] - f[i];
}

void Evaluator::jacobian(const double* p, double* jac) {
  const int m = w_->m, n = w_->n;
  if (w_->kind == ModelKind::gauss2d) {
    gauss2d_residual_jacobian(p, w_->side, jac);
    return;
  }
  const auto mm = static_cast<std::size_t>(m);
  w_->model->jacobian(std::span<const double>(p, static_cast<std::size_t>(n)), w_->xs,
                      std::span<double>(jac, mm * static_cast<std::size_t>(n)));
  for (std::size_t k = 0; k < mm * static_cast<std::size_t>(n); ++k) jac[k] = -jac[k];
}

}  // namespace lmbatch::bench
