#include "lmbatch/report/stats.hpp"

#include <algorithm>
#include <cmath>

namespace lmbatch::report {

std::uint64_t Stats::next() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void Stats::add(double v) {
  ++count_;
  const double d = v - mean_;
  mean_ += d / static_cast<double>(count_);
  m2_ += d * (v - mean_);
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  // Reservoir sampling (Algorithm R).
  if (sample_.size() < cap_) {
    sample_.push_back(v);
  } else {
    const std::uint64_t k = next() % count_;
    if (k < cap_) sample_[k] = v;
  }
}

void Stats::finish() {
  std::sort(sample_.begin(), sample_.end());
}

double Stats::stddev() const {
  return count_ > 1 ? std::sqrt(m2_ / static_cast<double>(count_ - 1))
                    : std::numeric_limits<double>::quiet_NaN();
}

double Stats::count_below(double v) const {
  if (sample_.empty()) return 0;
  const auto k = std::lower_bound(sample_.begin(), sample_.end(), v) - sample_.begin();
  return static_cast<double>(k) * static_cast<double>(count_) / static_cast<double>(sample_.size());
}

double Stats::count_above(double v) const {
  if (sample_.empty()) return 0;
  const auto k = sample_.end() - std::upper_bound(sample_.begin(), sample_.end(), v);
  return static_cast<double>(k) * static_cast<double>(count_) / static_cast<double>(sample_.size());
}

double Stats::quantile(double q) const {
  if (sample_.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(sample_.size() - 1);
  const auto i = static_cast<std::size_t>(std::floor(pos));
  const double f = pos - static_cast<double>(i);
  if (i + 1 >= sample_.size()) return sample_.back();
  return sample_[i] + f * (sample_[i + 1] - sample_[i]);
}

}  // namespace lmbatch::report
