#include "lmbatch/batch/status.hpp"

#include <cstdio>

namespace lmbatch::batch {
namespace {

// One row per code: the short label and the sentence, whose %s stands for
// the tolerance (or maxfev) it names.
struct StatusRow {
  int ier;
  std::string_view label;
  std::string_view sentence;
};

constexpr std::array<StatusRow, kHighestStatus - kLowestStatus + 1> kStatusRows{{
    {-6, "start outside bounds",
     "The starting values given lie outside the bounds: not solved (x holds them)."},
    {-5, "negative count",
     "A sample is negative, and the poisson loss fits counts (y >= 0): not solved."},
    {-4, "never written",
     "Never written: the run was interrupted, or the problem belongs to another part."},
    {-3, "not solved", "Fewer valid samples than parameters: not solved."},
    {-2, "non-finite",
     "The residuals at the starting point or the Jacobian at an iterate are not finite (NaN or "
     "Inf)."},
    {-1, "stopped", "The residual or Jacobian function asked to stop."},
    {0, "improper input", "Improper input parameters."},
    {1, "ftol",
     "Both actual and predicted relative reductions in the sum of squares are at most ftol = %s."},
    {2, "xtol", "The relative error between two consecutive iterates is at most xtol = %s."},
    {3, "ftol+xtol",
     "Both actual and predicted relative reductions in the sum of squares are at most ftol = %s "
     "and the relative error between two consecutive iterates is at most xtol = %s."},
    {4, "gtol",
     "The cosine of the angle between func(x) and any column of the Jacobian is at most "
     "gtol = %s in absolute value."},
    {5, "maxfev", "Number of calls to function has reached maxfev = %s."},
    {6, "ftol too small",
     "ftol = %s is too small, no further reduction in the sum of squares is possible."},
    {7, "xtol too small",
     "xtol = %s is too small, no further improvement in the approximate solution is possible."},
    {8, "gtol too small",
     "gtol = %s is too small, func(x) is orthogonal to the columns of the Jacobian to machine "
     "precision."},
}};

const StatusRow* row_of(int ier) {
  if (ier < kLowestStatus || ier > kHighestStatus) return nullptr;
  return &kStatusRows[static_cast<std::size_t>(ier - kLowestStatus)];
}

std::string number(double v) {  // 1.49012e-08, 0, 100: as a person gave it
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The sentence with each %s replaced by the next value.
std::string fill(std::string_view sentence, std::initializer_list<std::string> values) {
  std::string out;
  auto value = values.begin();
  for (std::size_t i = 0; i < sentence.size(); ++i) {
    if (sentence[i] == '%' && i + 1 < sentence.size() && sentence[i + 1] == 's' &&
        value != values.end()) {
      out += *value++;
      ++i;
    } else {
      out += sentence[i];
    }
  }
  return out;
}

}  // namespace

std::string status_label(int ier) {
  const StatusRow* row = row_of(ier);
  return std::to_string(ier) + ": " + (row ? std::string(row->label) : "unknown");
}

std::string status_text(int ier, const leastsq::Options& o, int maxfev) {
  const StatusRow* row = row_of(ier);
  if (!row) return "Unknown status.";
  switch (ier) {
    case 1:
    case 6:
      return fill(row->sentence, {number(o.ftol)});
    case 2:
    case 7:
      return fill(row->sentence, {number(o.xtol)});
    case 3:
      return fill(row->sentence, {number(o.ftol), number(o.xtol)});
    case 4:
    case 8:
      return fill(row->sentence, {number(o.gtol)});
    case 5:
      return fill(row->sentence, {std::to_string(maxfev)});
    default:
      return std::string(row->sentence);
  }
}

std::string status_table(const leastsq::Options& options, int maxfev) {
  std::string table;
  for (int s = kLowestStatus; s <= kHighestStatus; ++s)
    table += std::to_string(s) + ": " + status_text(s, options, maxfev) + "\n";
  return table;
}

}  // namespace lmbatch::batch
