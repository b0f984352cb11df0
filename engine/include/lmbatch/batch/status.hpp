// The per-problem status codes of a batch run (a result file's /ier), in one
// table: leastsq's MINPACK info codes 0..8 and its -1, -2, and the batch
// engine's -3 (not solved), -4 (never written), -5 (negative count) and
// -6 (start outside bounds). The log summary, the
// result file's ier_messages attribute, the report and the Python module all
// read their texts from here.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "lmbatch/leastsq/leastsq.hpp"

namespace lmbatch::batch {

// Per-problem status codes of the batch engine beyond leastsq's Status
// (0..8, -1 stopped by function, -2 non-finite).
enum class ProblemStatus : std::int16_t {
  too_few_samples = -3,  // fewer valid (non-NaN) samples than parameters: not solved
  // Never produced by a solve: the fill value of a result file's /ier, read
  // where a problem's results were never written (an interrupted run's
  // .partial file, the other parts' problems in a --part shard). Distinct
  // from 0, which is scipy's "improper input parameters".
  never_written = -4,
  // A negative y under the poisson loss, which fits counts: not solved.
  negative_count = -5,
  // Given starting values (x0) outside explicit bounds (constraints.hpp): not
  // solved, and not silently clipped either (an estimated start is projected
  // into the bounds instead). x holds the start as given.
  start_outside_bounds = -6,
};

// Every code a result file's /ier can hold, lowest first.
inline constexpr int kLowestStatus = -6;
inline constexpr int kHighestStatus = 8;

// Whether a result file's ier means converged: leastsq::converged, scipy's
// LEASTSQ_SUCCESS = [1, 2, 3, 4].
constexpr bool converged(int ier) {
  return leastsq::converged(static_cast<leastsq::Status>(ier));
}

// A short label for plots and tables: "1: ftol", "-3: not solved".
std::string status_label(int ier);

// The full sentence for an ier, one line, with the tolerances printed as
// given (%g: "at most 1.49012e-08"). Not scipy's mesg, which prints them with
// %f ("at most 0.000000"): lmbatch.leastsq keeps that one
// (leastsq::message) for fidelity. maxfev: the limit the run used.
std::string status_text(int ier, const leastsq::Options& options, int maxfev);

// "code: text\n" for every code from kLowestStatus to kHighestStatus: the
// result file's ier_messages attribute.
std::string status_table(const leastsq::Options& options, int maxfev);

}  // namespace lmbatch::batch
