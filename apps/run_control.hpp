// Process-level controls of a fit: SIGINT/SIGTERM stop taking new work.
#pragma once

#include <atomic>
#include <string>

namespace lmbatch::app {

// While alive, SIGINT and SIGTERM set flag() (once: a second signal has the
// default effect, so an impatient Ctrl-C still kills at once).
class StopOnSignals {
 public:
  StopOnSignals();
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
  const std::atomic<bool>& flag() const;
  const char* signal_name() const;  // "SIGINT" / "SIGTERM"
  int exit_status() const;          // 128 + signal number, as a shell reports it
};

}  // namespace lmbatch::app
