// Streaming statistics of one quantity over many problems: count, mean,
// standard deviation, extremes, and quantiles from a fixed-size uniform
// sample (exact while every value fits in it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace lmbatch::report {

class Stats {
 public:
  explicit Stats(std::size_t sample_size = std::size_t{1} << 17, std::uint64_t seed = 12345)
      : cap_(sample_size), state_(seed | 1) {}

  void add(double v);
  // Sorts the sample; call once after the last add() and before quantile().
  void finish();

  std::size_t count() const { return count_; }
  double mean() const { return count_ ? mean_ : std::numeric_limits<double>::quiet_NaN(); }
  double stddev() const;  // sample standard deviation (n - 1)
  double min() const { return count_ ? min_ : std::numeric_limits<double>::quiet_NaN(); }
  double max() const { return count_ ? max_ : std::numeric_limits<double>::quiet_NaN(); }
  // Linear interpolation between order statistics of the sample (NaN if empty).
  double quantile(double q) const;
  // Values below / above v (exact while exact(), else estimated from the
  // sorted sample). Call after finish().
  double count_below(double v) const;
  double count_above(double v) const;
  // True while the quantiles are exact (every value was kept).
  bool exact() const { return count_ <= cap_; }

 private:
  std::uint64_t next();  // splitmix64: a deterministic sample, same report every run

  std::size_t cap_;
  std::uint64_t state_;
  std::size_t count_ = 0;
  double mean_ = 0, m2_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  std::vector<double> sample_;
};

}  // namespace lmbatch::report
