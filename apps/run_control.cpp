#include "run_control.hpp"

#include <sys/stat.h>

#include <csignal>
#include <filesystem>

namespace lmbatch::app {
namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}
}  // namespace

StopOnSignals::StopOnSignals() {
  g_stop.store(false);
  g_signal.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second signal takes the default action
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

StopOnSignals::~StopOnSignals() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

const std::atomic<bool>& StopOnSignals::flag() const {
  return g_stop;
}

const char* StopOnSignals::signal_name() const {
  return g_signal.load() == SIGTERM ? "SIGTERM" : "SIGINT";
}

int StopOnSignals::exit_status() const {
  const int sig = g_signal.load();
  return 128 + (sig ? sig : SIGINT);
}

}  // namespace lmbatch::app
