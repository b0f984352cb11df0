// Never lose a result: runs killed at random points (SIGKILL) and resumed with
// --resume finish with an output bit-identical to an uninterrupted run;
// SIGTERM and SIGINT stop cleanly; a resume with other options is refused.
// Every signal comes at a point of progress (a count of journal records, see
// support/journal_watch.hpp), never after a delay: the tests hold on a fast or
// a slow machine, idle or busy.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "support/cli_support.hpp"
#include "support/journal_watch.hpp"

namespace fs = std::filesystem;
using lmbatch::test::journal_records;
using lmbatch::test::read_text;
using lmbatch::test::wait_for_records;
using lmbatch::test::wait_status;
using lmbatch::test::Watched;

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
  // 20000 problems in chunks of 40: 500 journal records.
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "20000", "-s", "64"}, log) ==
          0);
  const std::string reference = dir.file("reference.h5");
  REQUIRE(run(fit_args(in, reference), log) == 0);

  const std::string out = dir.file("out.h5");
  const std::string journal = out + ".journal";
  // Each kill lands after 1-30 more chunks are in the journal (drawn from a
  // seeded generator): at most 300 of the 500 records for 10 kills, so every
  // kill interrupts the run whatever the machine's speed.
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<std::size_t> more_records(1, 30);
  int kills = 0, finished = 0, resumed_after_kill = 0;
  std::set<std::size_t> kill_points;  // journal records at each kill
  for (int attempt = 0; attempt < 10 && !fs::exists(out); ++attempt) {
    const std::size_t before = journal_records(journal);
    const bool resume = fs::exists(journal);
    const pid_t pid =
        start(fit_args(in, out,
                       resume ? std::vector<std::string>{"--resume"} : std::vector<std::string>{}),
              log);
    const std::size_t target = before + more_records(rng);
    const Watched w = wait_for_records(pid, journal, target);
    INFO("attempt " << attempt << ": " << before << " records before, target " << target);
    int status = w.status;
    if (!w.exited) {
      REQUIRE(kill(pid, SIGKILL) == 0);  // also when it has just exited (a zombie)
      status = wait_status(pid);
    }
    INFO(read_text(log));
    if (status == 0) {  // finished before the kill: a valid outcome, the run is over
      ++finished;
      continue;
    }
    REQUIRE(status == 128 + SIGKILL);
    ++kills;
    const std::size_t now = journal_records(journal);
    CHECK(now >= target);  // what was journalled before the kill survives it
    kill_points.insert(now);
  }
  if (!fs::exists(out)) {
    const int status = run(fit_args(in, out, {"--resume"}), log);
    INFO(read_text(log));
    REQUIRE(status == 0);
    ++resumed_after_kill;
  }
  INFO("kills: " << kills << ", finished before a kill: " << finished
                 << ", final resumes: " << resumed_after_kill);
  // 10 in practice; fewer only if a run outpaced the watch by 200 chunks, so
  // that it finished before its kill (which is handled, not a failure).
  CHECK(kills >= 5);
  // Each kill came after more records than the one before: distinct points.
  CHECK(kill_points.size() == static_cast<std::size_t>(kills));
  CHECK_FALSE(fs::exists(journal));
  CHECK_FALSE(fs::exists(out + ".partial"));
  check_identical(reference, out);
  std::string points;
  for (const std::size_t p : kill_points) points += " " + std::to_string(p);
  std::printf(
      "resume: %d SIGKILLs at %zu distinct points (journal records:%s), %d final resumes; output "
      "bit-identical to the uninterrupted run\n",
      kills, kill_points.size(), points.c_str(), resumed_after_kill);
}

TEST_CASE("SIGTERM or SIGINT stops cleanly with a hint, and --resume finishes the run",
          "[resume]") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  const std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
  INFO(name);
  TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "20000", "-s", "64"}, log) ==
          0);
  const std::string reference = dir.file("reference.h5"), out = dir.file("out.h5");
  REQUIRE(run(fit_args(in, reference), log) == 0);

  // The signal comes once 100 of the 500 chunks are journalled: the run is
  // under way (its handlers installed), and far from its end.
  constexpr std::size_t kRecords = 100;
  std::ofstream(dir.file("term.txt")).close();
  const pid_t pid = start(fit_args(in, out), dir.file("term.txt"));
  const Watched w = wait_for_records(pid, out + ".journal", kRecords);
  int status = w.status;
  if (!w.exited) {
    kill(pid, sig);
    status = wait_status(pid);
  }
  const std::string text = read_text(dir.file("term.txt"));
  INFO(text);
  if (status == 0) {  // finished before the signal: a valid outcome, nothing to resume
    WARN("the run finished before " << name << " arrived; nothing to resume");
    check_identical(reference, out);
    return;
  }
  CHECK(status == 128 + sig);
  CHECK(text.find("interrupted by " + name) != std::string::npos);
  CHECK(text.find("--resume") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(out + ".journal"));
  // The chunks journalled before the signal, and those in flight, are kept.
  const std::size_t records = journal_records(out + ".journal");
  CHECK(records >= kRecords);

  // Without --resume or with other options, the interrupted run is protected.
  CHECK(run(fit_args(in, out), log) == 1);
  CHECK(read_text(log).find("resume it with --resume") != std::string::npos);
  CHECK(run(fit_args(in, out, {"--resume", "--ftol", "1e-6"}), log) == 1);
  const std::string refused = read_text(log);
  CHECK(refused.find("refusing to resume") != std::string::npos);
  CHECK(refused.find("ftol: was") != std::string::npos);

  REQUIRE(run(fit_args(in, out, {"--resume"}), log) == 0);
  // The watch reads the journal as the resume does: 40 problems a record.
  CHECK(read_text(log).find("resuming: " + std::to_string(records * 40) + " of 20000 problems") !=
        std::string::npos);
  check_identical(reference, out);
}

TEST_CASE("a wait for journal records ends when the run ends first", "[resume]") {
  // The outcome a fast run or a slow watch gives: the run finished before the
  // records waited for (more than it writes) were seen. The wait reports it.
  TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt"), out = dir.file("out.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "400", "-s", "64"}, log) == 0);
  const Watched w = wait_for_records(start(fit_args(in, out), log), out + ".journal", 11);
  INFO(read_text(log));
  CHECK(w.exited);
  CHECK(w.status == 0);
  CHECK(w.records <= 10);  // 400 problems in chunks of 40
  CHECK(fs::exists(out));
}
