#include "progress_log.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "lmbatch/batch/status.hpp"
#include "lmbatch/leastsq/lanes.hpp"
#include "lmbatch/simd/lanes.hpp"
#include "lmbatch/simd/targets.hpp"

namespace lmbatch::app {

ProgressLog::ProgressLog(double interval_seconds, bool quiet, bool lines_only)
    : interval_(interval_seconds),
      quiet_(quiet),
      tty_(!lines_only && isatty(fileno(stderr)) != 0) {}

std::string status_counts_text(const batch::StatusCounts& counts) {
  std::string text;
  for (int s = batch::kMinStatus; s <= batch::kMaxStatus; ++s) {
    const auto c = counts[static_cast<size_t>(s - batch::kMinStatus)];
    if (c == 0) continue;
    if (!text.empty()) text += ", ";
    text += "ier " + std::to_string(s) + ": " + std::to_string(c);
  }
  return text.empty() ? "none" : text;
}

void ProgressLog::operator()(const batch::Progress& p) {
  if (quiet_) return;
  const bool last = p.done == p.total;
  if (!last && p.elapsed_seconds - last_ < (tty_ ? 0.25 : interval_)) return;
  last_ = p.elapsed_seconds;
  // This session's rate: the problems a resumed run recovered took no time now.
  const double rate =
      p.elapsed_seconds > 0 ? static_cast<double>(p.done - p.done_at_start) / p.elapsed_seconds : 0;
  const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : 0;
  const double pct =
      p.total ? 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total) : 100.0;
  if (tty_) {
    std::fprintf(stderr, "\r%zu/%zu (%.1f%%)  %.0f fits/s  ETA %.0f s  [%s]\033[K", p.done, p.total,
                 pct, rate, eta, status_counts_text(p.status_counts).c_str());
    std::fflush(stderr);
    drew_line_ = true;
  } else {
    spdlog::info("{}/{} ({:.1f}%), {:.0f} fits/s, ETA {:.0f} s, {}", p.done, p.total, pct, rate,
                 eta, status_counts_text(p.status_counts));
  }
}

void ProgressLog::finish() {
  if (drew_line_) std::fputc('\n', stderr);
  drew_line_ = false;
}

void log_summary(const io::FitOutcome& outcome, const leastsq::Options& options, int n,
                 bool analytic) {
  const batch::BatchSummary& now = outcome.session;
  const batch::BatchSummary& s = outcome.whole;
  const double rate = now.seconds > 0 ? static_cast<double>(now.problems) / now.seconds : 0.0;
  const std::string resumed = outcome.recovered ? " (" + std::to_string(outcome.recovered) +
                                                      " recovered from the journal, " +
                                                      std::to_string(now.problems) + " solved now)"
                                                : "";
  spdlog::info("done: {} problems{} in {:.3f} s ({:.0f} fits/s on {} thread{}), median nfev {}",
               s.problems, resumed, now.seconds, rate, now.threads, now.threads == 1 ? "" : "s",
               s.median_nfev);
  if (now.lane_problems)
    spdlog::info("  {} in SIMD lanes ({}, {} problems side by side)", now.lane_problems,
                 simd::target_name(simd::chosen_target()), simd::lane_width());
  for (int st = batch::kMinStatus; st <= batch::kMaxStatus; ++st) {
    const auto c = s.count(st);
    if (c == 0) continue;
    const std::string words =
        batch::status_text(st, options, options.effective_maxfev(n, analytic));
    spdlog::info("  ier {:>2}: {:>10}  {}", st, c, words);
  }
  if (!s.first_failures.empty()) {
    std::string list;
    for (auto k : s.first_failures) list += (list.empty() ? "" : ", ") + std::to_string(k);
    spdlog::info("  first problems that did not converge: {}", list);
  }
}

std::string summary_json(const io::FitOutcome& outcome, const std::string& model,
                         const std::string& input, const std::string& output) {
  const batch::BatchSummary& now = outcome.session;
  const batch::BatchSummary& s = outcome.whole;
  nlohmann::json j;
  j["model"] = model;
  j["input"] = input;
  j["output"] = output;
  j["problems"] = s.problems;  // in the output, a resume's recovered ones included
  j["recovered"] = outcome.recovered;
  j["seconds"] = now.seconds;  // this run's
  j["threads"] = now.threads;
  j["fits_per_second"] = now.seconds > 0 ? static_cast<double>(now.problems) / now.seconds : 0.0;
  j["median_nfev"] = s.median_nfev;
  j["lane_problems"] = now.lane_problems;  // this run's, solved in SIMD lanes
  j["lane_target"] = simd::target_name(simd::chosen_target());
  j["lane_width"] = simd::lane_width();
  nlohmann::json counts = nlohmann::json::object();
  for (int st = batch::kMinStatus; st <= batch::kMaxStatus; ++st)
    if (s.count(st)) counts[std::to_string(st)] = s.count(st);
  j["ier_counts"] = counts;
  j["first_failures"] = s.first_failures;
  j["complete"] = outcome.complete;
  return j.dump(1);
}

}  // namespace lmbatch::app
