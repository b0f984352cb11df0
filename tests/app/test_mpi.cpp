// Cluster mode (built with -DLMBATCH_MPI=ON): `mpirun -n R lmbatch fit` gives
// the single-process output bit for bit, balances the problems over the ranks,
// reports every rank's errors, and resumes after a failure.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "support/cli_support.hpp"

namespace fs = std::filesystem;
using lmbatch::test::read_text;

namespace {

int run(const std::vector<std::string>& args, const std::string& log) {
  return lmbatch::test::run_program(LMBATCH_EXE, args, log);
}

// mpirun -n ranks lmbatch args... (as root in CI containers, more ranks than cores).
int mpirun(int ranks, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> all{"-n", std::to_string(ranks), "--allow-run-as-root",
                               "--oversubscribe", LMBATCH_EXE};
  all.insert(all.end(), args.begin(), args.end());
  return lmbatch::test::run_program(LMBATCH_MPIEXEC, all, log);
}

std::vector<std::string> fit(const std::string& in, const std::string& out,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"fit", in, "-o", out, "-m", "gaussian+linear", "--threads", "1",
                             "--chunk-size", "50", "--progress-interval", "0", "--overwrite"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("1 and 2 ranks give the single-process output bit for bit", "[mpi]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--shape", "40,30", "-s", "48"}, log) == 0);
  for (const std::string jacobian : {"analytic", "forward"}) {
    const bool full = jacobian == "forward";
    std::vector<std::string> extra{"--jacobian", jacobian};
    if (full) extra.push_back("--full-output");
    const std::string single = dir.file("single.h5");
    REQUIRE(run(fit(in, single, extra), log) == 0);
    for (int ranks : {1, 2, 3}) {
      INFO(jacobian << ", " << ranks << " ranks");
      const std::string out = dir.file("ranks" + std::to_string(ranks) + ".h5");
      fs::remove(log);
      REQUIRE(mpirun(ranks, fit(in, out, extra), log) == 0);
      const std::string text = read_text(log);
      INFO(text);
      lmbatch::test::check_identical_results(single, out, full);
      // Every rank solved a share (dynamic: not necessarily equal ones).
      for (int r = 0; r < ranks; ++r) {
        std::smatch m;
        const std::regex line("rank " + std::to_string(r) + ": ([0-9]+) problems");
        REQUIRE(std::regex_search(text, m, line));
        CHECK(std::stoi(m[1]) > 0);
      }
      CHECK_THAT(text, Catch::Contains("1200/1200"));
    }
  }
}

TEST_CASE("x0_from, starts and refine: 2 and 3 ranks give the single-process bits", "[mpi]") {
  // Every rank forms and fits the aggregate itself and runs the refinement
  // passes over the whole image; the queue shares the writing pass.
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--shape", "20,15", "-s", "48", "--noise",
               "0.3"},
              log) == 0);
  const std::vector<std::string> extra{"--x0-from", "mean",       "--starts",        "2",
                                       "--refine",  "neighbours", "--refine-passes", "2"};
  const std::string single = dir.file("single.h5");
  REQUIRE(run(fit(in, single, extra), log) == 0);
  for (int ranks : {2, 3}) {
    INFO(ranks << " ranks");
    const std::string out = dir.file("ranks" + std::to_string(ranks) + ".h5");
    REQUIRE(mpirun(ranks, fit(in, out, extra), log) == 0);
    lmbatch::test::check_identical_results(single, out);
  }
}

TEST_CASE("bounds, fixed and tied parameters: 2 and 3 ranks give the single-process bits",
          "[mpi]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--shape", "20,15", "-s", "48", "--noise",
               "0.3"},
              log) == 0);
  // Bounds that bind on the noisy pixels, a held slope and a tied intercept.
  const std::vector<std::string> extra{"--bounds", "amplitude=0:,sigma=0.5:3", "--fix",
                                       "slope=0",  "--tie",   "intercept=0.01*amplitude"};
  const std::string single = dir.file("single.h5");
  REQUIRE(run(fit(in, single, extra), log) == 0);
  for (int ranks : {2, 3}) {
    INFO(ranks << " ranks");
    const std::string out = dir.file("ranks" + std::to_string(ranks) + ".h5");
    REQUIRE(mpirun(ranks, fit(in, out, extra), log) == 0);
    lmbatch::test::check_identical_results(single, out);
  }
}

TEST_CASE("a failure stops every rank, keeps what was written, and --resume finishes", "[mpi]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "3000", "-s", "32"}, log) == 0);
  const std::string single = dir.file("single.h5"), out = dir.file("out.h5");
  REQUIRE(run(fit(in, single), log) == 0);

  // The writing rank fails after 5 chunks as a full disk would.
  setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "5", 1);
  const int failed = mpirun(2, fit(in, out), log);
  unsetenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER");
  std::string text = read_text(log);
  INFO(text);
  CHECK(failed == 1);
  CHECK_THAT(text, Catch::Contains("no space left on device"));
  CHECK_THAT(text, Catch::Contains("250 of 3000 problems are saved"));
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(out + ".journal"));

  fs::remove(log);
  std::vector<std::string> resume = fit(in, out, {"--resume"});
  resume.erase(std::find(resume.begin(), resume.end(), "--overwrite"));
  REQUIRE(mpirun(2, resume, log) == 0);
  text = read_text(log);
  CHECK_THAT(text, Catch::Contains("resuming: 250 of 3000 problems recovered"));
  lmbatch::test::check_identical_results(single, out);
  CHECK_FALSE(fs::exists(out + ".journal"));
}

TEST_CASE("a bad input is reported by every rank and nothing starts", "[mpi]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt"), out = dir.file("out.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "100", "-s", "32"}, log) == 0);
  fs::remove(log);
  CHECK(mpirun(2, fit(in, out, {"--y", "/nope"}), log) == 1);
  const std::string text = read_text(log);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("[rank 0] [error]") && Catch::Contains("/nope"));
  CHECK_THAT(text, Catch::Contains("[rank 1] [error]"));
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".partial"));
}
