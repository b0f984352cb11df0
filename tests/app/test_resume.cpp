// Never lose a result: runs killed at random points (SIGKILL) and resumed with
// --resume finish with an output bit-identical to an uninterrupted run;
// SIGTERM stops cleanly; a resume with other options is refused.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/cli_support.hpp"

namespace fs = std::filesystem;
using lmbatch::test::read_text;
using lmbatch::test::wait_status;

namespace {

using lmbatch::test::TempDir;

pid_t start(const std::vector<std::string>& args, const std::string& log) {
  return lmbatch::test::start_program(LMBATCH_EXE, args, log);
}

int run(const std::vector<std::string>& args, const std::string& log) {
  return wait_status(start(args, log));
}

void check_identical(const std::string& a, const std::string& b) {
  lmbatch::test::check_identical_results(a, b);
}

const std::vector<std::string> kFit{
    "-m", "gaussian+constant", "--chunk-size", "40", "--threads", "2", "--progress-interval", "0"};

std::vector<std::string> fit_args(const std::string& in, const std::string& out,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"fit", in, "-o", out};
  a.insert(a.end(), kFit.begin(), kFit.end());
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("runs killed at random points resume to a bit-identical output", "[resume]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "20000", "-s", "64"}, log) ==
          0);
  const std::string reference = dir.file("reference.h5");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run(fit_args(in, reference), log) == 0);
  // Kill points scale with this machine's speed: each attempt runs for 1-10 %
  // of an uninterrupted run before its SIGKILL.
  const auto run_ms = std::max<long>(100, std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::steady_clock::now() - t0)
                                              .count());

  const std::string out = dir.file("out.h5");
  const std::string journal = out + ".journal";
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<long> delay_ms(run_ms / 100, run_ms / 10);
  int kills = 0, resumed_after_kill = 0;
  std::set<std::uintmax_t> journal_sizes;  // distinct kill points, as progress made
  for (int attempt = 0; attempt < 10 && !fs::exists(out); ++attempt) {
    const bool resume = fs::exists(journal);
    const pid_t pid =
        start(fit_args(in, out,
                       resume ? std::vector<std::string>{"--resume"} : std::vector<std::string>{}),
              log);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) continue;  // finished before the kill
    REQUIRE(kill(pid, SIGKILL) == 0);
    ++kills;
    wait_status(pid);
    if (fs::exists(journal)) journal_sizes.insert(fs::file_size(journal));
  }
  while (!fs::exists(out)) {
    const int status = run(fit_args(in, out,
                                    fs::exists(journal) ? std::vector<std::string>{"--resume"}
                                                        : std::vector<std::string>{}),
                           log);
    INFO(read_text(log));
    REQUIRE(status == 0);
    ++resumed_after_kill;
  }
  INFO("kills: " << kills << ", final resumes: " << resumed_after_kill);
  CHECK(kills >= 5);
  CHECK(journal_sizes.size() >= 4);  // killed at different points of the run
  CHECK_FALSE(fs::exists(journal));
  CHECK_FALSE(fs::exists(out + ".partial"));
  check_identical(reference, out);
  std::printf(
      "resume: %d SIGKILLs at %zu distinct points, %d final resumes; output bit-identical to the "
      "uninterrupted run\n",
      kills, journal_sizes.size(), resumed_after_kill);
}

TEST_CASE("SIGTERM stops cleanly with a hint, and --resume finishes the run", "[resume]") {
  TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "20000", "-s", "64"}, log) ==
          0);
  const std::string reference = dir.file("reference.h5"), out = dir.file("out.h5");
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run(fit_args(in, reference), log) == 0);
  const auto run_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  std::ofstream(dir.file("term.txt")).close();
  const pid_t pid = start(fit_args(in, out), dir.file("term.txt"));
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms / 3));  // a third of the way
  kill(pid, SIGTERM);
  const int status = wait_status(pid);
  const std::string text = read_text(dir.file("term.txt"));
  INFO(text);
  if (status == 0) {
    WARN("the run finished before SIGTERM arrived; nothing to resume");
    check_identical(reference, out);
    return;
  }
  CHECK(status == 128 + SIGTERM);
  CHECK(text.find("interrupted by SIGTERM") != std::string::npos);
  CHECK(text.find("--resume") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(out + ".journal"));

  // Without --resume or with other options, the interrupted run is protected.
  CHECK(run(fit_args(in, out), log) == 1);
  CHECK(read_text(log).find("resume it with --resume") != std::string::npos);
  CHECK(run(fit_args(in, out, {"--resume", "--ftol", "1e-6"}), log) == 1);
  const std::string refused = read_text(log);
  CHECK(refused.find("refusing to resume") != std::string::npos);
  CHECK(refused.find("ftol: was") != std::string::npos);

  REQUIRE(run(fit_args(in, out, {"--resume"}), log) == 0);
  CHECK(read_text(log).find("resuming:") != std::string::npos);
  check_identical(reference, out);
}
