// `lmbatch fit` with constraints (issue #16): --fix, --tie and a --fixed mask
// dataset give the same bits on 1 and 2 threads and through a SIGKILL and
// --resume (killed at a count of journal records, never after a delay); a
// resume with another constraint is refused; the constraints are recorded;
// bad constraints are errors naming the parameter, or the file and dataset.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "support/cli_support.hpp"
#include "support/journal_watch.hpp"

namespace fs = std::filesystem;
using lmbatch::test::read_text;
using lmbatch::test::TempDir;
using lmbatch::test::wait_for_records;
using lmbatch::test::wait_status;
using lmbatch::test::Watched;

namespace {

pid_t start(const std::vector<std::string>& args, const std::string& log) {
  return lmbatch::test::start_program(LMBATCH_EXE, args, log);
}
int run(const std::vector<std::string>& args, const std::string& log) {
  return wait_status(start(args, log));
}

std::vector<std::string> fit_args(const std::string& in, const std::string& out,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"fit",
                             in,
                             "-o",
                             out,
                             "-m",
                             "gaussian*2+constant",
                             "--fix",
                             "c",
                             "--tie",
                             "sigma_2=sigma_1",
                             "--fixed",
                             "/mask",
                             "--chunk-size",
                             "40",
                             "--progress-interval",
                             "0",
                             "--bounds",
                             "amplitude=0:,sigma=1.2:1.5",
                             "--upper",
                             "/upper"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string string_attribute(const std::string& path, const char* name) {
  namespace h5 = lmbatch::io::hdf5;
  h5::File f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (H5Aexists(f.get(), name) <= 0) return "(absent)";
  const auto v = h5::read_string_attribute(f.get(), name);
  return v && v->size() == 1 ? v->front() : "(not one string)";
}

// 8000 doublets with a mask holding amplitude_2 on every fifth problem, and
// per-problem upper bounds (NaN: none) on center_1 for every third. The
// bounds bind on many problems whatever the starting values: the generated
// first centers spread over about 10-20 and the widths over 1-2.
std::string make_input(const TempDir& dir, const std::string& log) {
  const std::string in = dir.file("in.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian*2+constant", "--count", "8000", "-s", "64"}, log) ==
          0);
  std::vector<std::uint8_t> mask(8000 * 7, 0);
  for (std::size_t k = 0; k < 8000; k += 5) mask[k * 7 + 3] = 1;
  lmbatch::io::test::write_dataset<std::uint8_t>(in, "/mask", {8000, 7}, mask);
  std::vector<double> upper(8000 * 7, std::nan(""));
  for (std::size_t k = 0; k < 8000; k += 3) upper[k * 7 + 1] = 15.0;
  lmbatch::io::test::write_dataset<double>(in, "/upper", {8000, 7}, upper);
  return in;
}

}  // namespace

TEST_CASE("fixed and tied fits are the same bits on 1 and 2 threads and after a kill and resume",
          "[cli][constraints]") {
  TempDir dir;
  const std::string log = dir.file("log.txt");
  const std::string in = make_input(dir, log);
  const std::string one = dir.file("one.h5"), two = dir.file("two.h5"), out = dir.file("out.h5");
  REQUIRE(run(fit_args(in, one, {"--threads", "1"}), log) == 0);
  REQUIRE(run(fit_args(in, two, {"--threads", "2"}), log) == 0);
  lmbatch::test::check_identical_results(one, two);
  CHECK(string_attribute(one, "fix") == "c");
  CHECK(string_attribute(one, "tie") == "sigma_2=sigma_1");
  CHECK(string_attribute(one, "fixed") == "/mask");
  CHECK(string_attribute(one, "bounds") == "amplitude=0:,sigma=1.2:1.5");
  CHECK(string_attribute(one, "upper") == "/upper");
  CHECK(string_attribute(one, "lower") == "(absent)");  // not given: not recorded
  // Some parameters sit on a bound (int8 -1 and +1 in /pegged).
  const auto pegged = lmbatch::test::raw_dataset(one, "/pegged");
  CHECK(std::count(pegged.begin(), pegged.end(), 0x01) > 100);
  CHECK(std::count(pegged.begin(), pegged.end(), 0xff) > 0);

  // Killed once 60 of the 200 chunks are journalled; a resume with another
  // tie is refused; the resume finishes with the same bits.
  const pid_t pid = start(fit_args(in, out, {"--threads", "2"}), log);
  const Watched w = wait_for_records(pid, out + ".journal", 60);
  int status = w.status;
  if (!w.exited) {
    kill(pid, SIGKILL);
    status = wait_status(pid);
  }
  if (status == 0) {
    WARN("the run finished before the kill; nothing to resume");
  } else {
    REQUIRE(status == 128 + SIGKILL);
    std::vector<std::string> other = fit_args(in, out, {"--resume"});
    other[9] = "sigma_2=sigma_1*1.01";
    CHECK(run(other, log) == 1);
    CHECK_THAT(read_text(log), Catch::Contains("refusing to resume"));
    CHECK_THAT(read_text(log), Catch::Contains("tie: was"));
    REQUIRE(run(fit_args(in, out, {"--resume", "--threads", "1"}), log) == 0);
  }
  lmbatch::test::check_identical_results(one, out);
}

TEST_CASE("bad constraints are errors naming the parameter, file and dataset",
          "[cli][constraints]") {
  TempDir dir;
  const std::string log = dir.file("log.txt"), in = dir.file("in.h5"), out = dir.file("out.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--count", "10", "-s", "32"}, log) == 0);
  lmbatch::io::test::write_dataset<double>(in, "/short", {3}, {0, 0, 0});
  const auto fails_with = [&](std::vector<std::string> extra, const std::string& words) {
    std::vector<std::string> a{"fit", in, "-o", out, "-m", "gaussian+constant"};
    a.insert(a.end(), extra.begin(), extra.end());
    const int status = run(a, log);
    INFO(read_text(log));
    CHECK(status != 0);
    CHECK_THAT(read_text(log), Catch::Contains(words));
    CHECK_FALSE(fs::exists(out));
  };
  fails_with({"--fix", "width"}, "fix: 'width' is not a parameter of the model");
  fails_with({"--tie", "c=c+1"}, "tie: parameter c = c+1 refers to itself");
  fails_with({"--fix", "c", "--tie", "c=sigma"}, "tie: parameter c is fixed and tied");
  fails_with({"--bounds", "sigma=2:1"}, "the lower bound 2 must be below the upper bound 1");
  fails_with({"--fixed", "/short"}, "/short");
  fails_with({"--fixed", "/short"}, "shape (3,) does not fit");
  fails_with({"--lower", "/nothing"}, "/nothing");
  // Refinement and seeding run the unconstrained solve: per-problem bounds
  // are refused, not ignored (--refine used to crash on them, and before
  // that to fit every pass unconstrained and fail only when writing).
  const std::string image = dir.file("image.h5");
  REQUIRE(run({"generate", image, "-m", "gaussian+constant", "--shape", "4,5", "-s", "32"}, log) ==
          0);
  lmbatch::io::test::write_dataset<double>(image, "/lower", {4, 5, 4},
                                           std::vector<double>(4 * 5 * 4, 0.0));
  for (const std::vector<std::string>& seeding :
       {std::vector<std::string>{"--refine", "neighbours"}, {"--starts", "3"}}) {
    std::vector<std::string> a{"fit",     image,   "-o", out, "-m", "gaussian+constant",
                               "--lower", "/lower"};
    a.insert(a.end(), seeding.begin(), seeding.end());
    INFO(seeding.front());
    const int status = run(a, log);
    INFO(read_text(log));
    CHECK(status == 1);
    CHECK_THAT(read_text(log), Catch::Contains("do not combine with constraints"));
    CHECK_FALSE(fs::exists(out));
  }
}

TEST_CASE("a result file written before /pegged existed still reads, reports and merges",
          "[cli][constraints]") {
  TempDir dir;
  const std::string log = dir.file("log.txt"), in = dir.file("in.h5"), out = dir.file("out.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian+constant", "--shape", "6,5", "-s", "32"}, log) == 0);
  REQUIRE(run({"fit", in, "-o", out, "-m", "gaussian+constant"}, log) == 0);
  {
    namespace h5 = lmbatch::io::hdf5;
    h5::File f(H5Fopen(out.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    REQUIRE(H5Ldelete(f.get(), "/pegged", H5P_DEFAULT) >= 0);
  }
  const int status = run({"report", out, "-o", dir.file("rep")}, log);
  INFO(read_text(log));
  CHECK(status == 0);
  CHECK(run({"info", out}, log) == 0);
}

TEST_CASE("shards (--part) with constraints merge into the whole run's bits, other ones do not",
          "[cli][constraints]") {
  TempDir dir;
  const std::string log = dir.file("log.txt"), in = dir.file("in.h5");
  REQUIRE(run({"generate", in, "-m", "gaussian*2+constant", "--count", "300", "-s", "64"}, log) ==
          0);
  const std::vector<std::string> c{
      "-m",       "gaussian*2+constant",        "--tie", "sigma_2=sigma_1",
      "--bounds", "amplitude=0:,sigma=1.2:1.5", "--fix", "c"};
  const auto fit = [&](const std::string& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"fit", in, "-o", out};
    a.insert(a.end(), c.begin(), c.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return run(a, log);
  };
  REQUIRE(fit(dir.file("whole.h5"), {}) == 0);
  REQUIRE(fit(dir.file("p0.h5"), {"--part", "0/2"}) == 0);
  REQUIRE(fit(dir.file("p1.h5"), {"--part", "1/2", "--threads", "1"}) == 0);
  REQUIRE(run({"merge", dir.file("p0.h5"), dir.file("p1.h5"), "-o", dir.file("merged.h5")}, log) ==
          0);
  lmbatch::test::check_identical_results(dir.file("whole.h5"), dir.file("merged.h5"));
  std::vector<std::string> other{"fit", in, "-o", dir.file("q1.h5"), "--part", "1/2"};
  other.insert(other.end(), c.begin(), c.end());
  other.back() = "c,amplitude_2";  // --fix
  REQUIRE(run(other, log) == 0);
  CHECK(run({"merge", dir.file("p0.h5"), dir.file("q1.h5"), "-o", dir.file("bad.h5")}, log) != 0);
  CHECK_THAT(read_text(log), Catch::Contains("fix"));
}
