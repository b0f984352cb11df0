// batch::fit: the pipeline over caller-owned arrays.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/result_fields.hpp"

namespace lmbatch::batch {
namespace {

Layout layout_of(std::span<const double> v, std::size_t per_vector, std::size_t count,
                 const char* what) {
  if (v.empty()) return Layout::absent;
  if (v.size() == per_vector) return Layout::shared;
  if (v.size() == per_vector * count) return Layout::per_problem;
  throw std::invalid_argument(std::string(what) + " has " + std::to_string(v.size()) +
                              " values; expected " + std::to_string(per_vector) + " (shared) or " +
                              std::to_string(per_vector * count) + " (one row per problem)");
}

class ArraySource final : public ProblemSource {
 public:
  ArraySource(const ArrayInput& in, int n) : in_(in), n_(n) {
    if (in.m <= 0) throw std::invalid_argument("m must be > 0");
    if (in.y.size() != in.count * static_cast<std::size_t>(in.m))
      throw std::invalid_argument("y has " + std::to_string(in.y.size()) +
                                  " values; expected count x m = " +
                                  std::to_string(in.count * static_cast<std::size_t>(in.m)));
    const auto mm = static_cast<std::size_t>(in.m);
    if (in.predictors < 1) throw std::invalid_argument("predictors must be >= 1");
    if (in.predictors > 1 && in.x.empty())
      throw std::invalid_argument("predictors = " + std::to_string(in.predictors) +
                                  " needs x (m x d values, or count x m x d)");
    x_ = layout_of(in.x, mm * static_cast<std::size_t>(in.predictors), in.count, "x");
    sigma_ = layout_of(in.sigma, mm, in.count, "sigma");
    x0_ = layout_of(in.x0, static_cast<std::size_t>(n), in.count, "x0");
    lower_ = layout_of(in.lower, static_cast<std::size_t>(n), in.count, "lower");
    upper_ = layout_of(in.upper, static_cast<std::size_t>(n), in.count, "upper");
    fixed_ = layout_of(in.fixed, static_cast<std::size_t>(n), in.count, "fixed");
    for (std::size_t i = 0; i < in.fixed.size(); ++i)
      if (std::isnan(in.fixed[i]))
        throw std::invalid_argument("fixed is NaN at " + std::to_string(i) +
                                    " (a mask: 0 free, non-zero held)");
  }
  std::size_t problem_count() const override { return in_.count; }
  int samples() const override { return in_.m; }

  void read(std::size_t first, int count, Chunk& c) override {
    const auto mm = static_cast<std::size_t>(in_.m), nn = static_cast<std::size_t>(n_);
    const auto rows = static_cast<std::size_t>(count);
    std::copy_n(in_.y.begin() + static_cast<std::ptrdiff_t>(first * mm), rows * mm, c.y.begin());
    c.predictors = in_.predictors;
    copy_input(in_.x, x_, mm * static_cast<std::size_t>(in_.predictors), first, rows, c.x_layout,
               c.x);
    copy_input(in_.sigma, sigma_, mm, first, rows, c.sigma_layout, c.sigma);
    copy_input(in_.x0, x0_, nn, first, rows, c.x0_layout, c.x0);
    copy_input(in_.lower, lower_, nn, first, rows, c.lower_layout, c.lower);
    copy_input(in_.upper, upper_, nn, first, rows, c.upper_layout, c.upper);
    copy_input(in_.fixed, fixed_, nn, first, rows, c.fixed_layout, c.fixed);
    // The same checks the HDF5 reader makes, with the problem's index. A
    // sample is present where y and every predictor of x are finite (as
    // solve_problem decides); sigma only matters there.
    const auto dd = static_cast<std::size_t>(in_.predictors);
    for (std::size_t k = 0; k < rows; ++k) {
      if (sigma_ != Layout::absent) {
        const double* s = c.sigma.data() + (sigma_ == Layout::shared ? 0 : k * mm);
        const double* yk = c.y.data() + k * mm;
        const double* xk =
            x_ == Layout::absent ? nullptr
                                 : c.x.data() + (x_ == Layout::shared ? 0 : k * mm * dd);
        for (std::size_t i = 0; i < mm; ++i) {
          bool present = std::isfinite(yk[i]);
          for (std::size_t v = 0; xk && present && v < dd; ++v)
            present = std::isfinite(xk[i * dd + v]);
          if (present && (!(s[i] > 0.0) || !std::isfinite(s[i])))
            throw std::invalid_argument("problem " + std::to_string(first + k) +
                                        ": sigma must be finite and > 0 where the sample is "
                                        "present (sample " +
                                        std::to_string(i) + ")");
        }
      }
      if (x0_ != Layout::absent) {
        const double* p = c.x0.data() + (x0_ == Layout::shared ? 0 : k * nn);
        for (std::size_t j = 0; j < nn; ++j)
          if (!std::isfinite(p[j]))
            throw std::invalid_argument("problem " + std::to_string(first + k) +
                                        ": x0 is not finite (parameter " + std::to_string(j) + ")");
      }
    }
  }

 private:
  static void copy_input(std::span<const double> src, Layout layout, std::size_t width,
                         std::size_t first, std::size_t rows, Layout& dst_layout,
                         std::vector<double>& dst) {
    dst_layout = layout;
    if (layout == Layout::absent) return;
    if (layout == Layout::shared) {
      dst.assign(src.begin(), src.end());  // no reallocation after the first chunk
      return;
    }
    dst.resize(rows * width);
    std::copy_n(src.begin() + static_cast<std::ptrdiff_t>(first * width), rows * width,
                dst.begin());
  }

  const ArrayInput& in_;
  int n_;
  Layout x_, sigma_, x0_, lower_, upper_, fixed_;
};

class ArraySink final : public ResultSink {
 public:
  ArraySink(ArrayResult& out, std::size_t count, int m, int n, bool full) : out_(out), full_(full) {
    out.n = n;
    for_each_result_field(full, [&](const auto& field) {
      (out.*field.in_array).resize(count * values_per_problem(field.extent, m, n));
    });
  }
  void write(const Chunk& c) override {
    const auto rows = static_cast<std::size_t>(c.count);
    for_each_result_field(full_, [&](const auto& field) {
      const std::size_t width = values_per_problem(field.extent, c.m, c.n);
      std::copy_n((c.*field.in_chunk).begin(), rows * width,
                  (out_.*field.in_array).begin() + static_cast<std::ptrdiff_t>(c.first * width));
    });
  }

 private:
  ArrayResult& out_;
  bool full_;
};

}  // namespace

ArrayResult fit(const models::Model& model, const ArrayInput& input, const BatchOptions& options) {
  ArraySource source(input, model.n_params());
  model.check_predictors(input.predictors);  // before any work, naming the term
  ArrayResult result;
  ArraySink sink(result, input.count, input.m, model.n_params(), options.full_output);
  // Every thread gets work (and no buffer is sized for problems the call
  // does not have) however few problems there are.
  BatchOptions effective = options;
  effective.chunk_size = balanced_chunk_size(input.count, options.threads, options.chunk_size);
  if (input.image_width > 0) effective.image_width = input.image_width;
  result.summary = run(model, source, sink, effective);
  return result;
}

}  // namespace lmbatch::batch
