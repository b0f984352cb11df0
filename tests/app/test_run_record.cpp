// What a finished `lmbatch fit` tells and records about itself: the summary
// of the whole output after a resume, this session's rate, tolerances as
// given (not scipy's %f), counts as integers, the one version.
#include <H5Apublic.h>
#include <H5Fpublic.h>
#include <H5Tpublic.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/version.hpp"
#include "support/cli_support.hpp"

namespace fs = std::filesystem;
namespace h5 = lmbatch::io::hdf5;
using lmbatch::test::read_text;

namespace {

int run(const std::vector<std::string>& args, const std::string& log) {
  return lmbatch::test::run_program(LMBATCH_EXE, args, log);
}

std::vector<std::string> fit(const std::string& in, const std::string& out,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"fit", in, "-o", out, "-m", "gaussian+linear", "--progress-interval",
                             "0"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_text(path));
}

// The HDF5 type class of a root attribute (H5T_NO_CLASS if missing).
H5T_class_t attribute_class(const std::string& file, const char* name) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f);
  if (H5Aexists(f.get(), name) <= 0) return H5T_NO_CLASS;
  h5::Attribute a(H5Aopen(f.get(), name, H5P_DEFAULT));
  h5::Datatype t(H5Aget_type(a.get()));
  return H5Tget_class(t.get());
}

std::string string_attribute(const std::string& file, const char* name) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f);
  const auto v = h5::read_string_attribute(f.get(), name);
  REQUIRE(v);
  return v->at(0);
}

}  // namespace

TEST_CASE("after --resume the summary covers the whole output and the rate this session",
          "[app][resume]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5"), log = dir.file("log.txt");
  const std::string whole = dir.file("whole.json"), resumed = dir.file("resumed.json");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "1000", "-s", "32"}, log) == 0);
  REQUIRE(run(fit(in, dir.file("ref.h5"), {"--summary-json", whole}), log) == 0);
  // A run that fails after 4 chunks of 100 (an injected full disk), then resumes.
  setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "4", 1);
  const int failed = run(fit(in, out, {"--chunk-size", "100"}), log);
  unsetenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER");
  REQUIRE(failed == 1);
  fs::remove(log);
  REQUIRE(run(fit(in, out, {"--chunk-size", "100", "--resume", "--summary-json", resumed}), log) ==
          0);
  const nlohmann::json a = read_json(whole), b = read_json(resumed);
  CHECK(b["problems"] == 1000);
  CHECK(b["recovered"] == 400);
  CHECK(b["ier_counts"] == a["ier_counts"]);  // the whole output's statuses, not 600 problems'
  CHECK(b["median_nfev"] == a["median_nfev"]);
  CHECK(b["first_failures"] == a["first_failures"]);
  const std::string text = read_text(log);
  CHECK_THAT(text, Catch::Contains("done: 1000 problems (400 recovered from the journal, 600 "
                                   "solved now)"));
  // Every progress line's rate is this session's: 600 problems, not 1000, over its time.
  // (The last line reports done == total; its rate is (1000 - 400) / elapsed.)
  CHECK_THAT(text, Catch::Contains("1000/1000 (100.0%)"));
}

TEST_CASE("the summary and the file print tolerances as given, not as scipy's %f", "[app]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "50", "-s", "32"}, log) == 0);
  fs::remove(log);
  REQUIRE(run(fit(in, out, {"--threads", "1"}), log) == 0);
  const std::string text = read_text(log);
  CHECK_THAT(text, Catch::Contains("1.49012e-08"));
  CHECK_THAT(text, !Catch::Contains("0.000000"));
  CHECK_THAT(text, Catch::Contains("on 1 thread)"));  // not "on 1 threads"
  const std::string messages = string_attribute(out, "ier_messages");
  CHECK_THAT(messages, Catch::Contains("ftol = 1.49012e-08"));
  CHECK_THAT(messages, Catch::Contains("maxfev = 600"));  // 100 (n + 1), n = 5
  CHECK_THAT(messages, !Catch::Contains("0.000000"));
}

TEST_CASE("counts are integer attributes and the version is the project's", "[app]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "20", "-s", "16"}, log) == 0);
  REQUIRE(run(fit(in, out, {"--part", "0/2"}), log) == 0);
  for (const char* name : {"samples", "maxfev", "threads", "part_first", "part_end"}) {
    INFO(name);
    CHECK(attribute_class(out, name) == H5T_INTEGER);
  }
  for (const char* name : {"ftol", "xtol", "seconds"}) {
    INFO(name);
    CHECK(attribute_class(out, name) == H5T_FLOAT);
  }
  CHECK(string_attribute(out, "lmbatch_version") == std::string(lmbatch::kVersion));
  CHECK(std::string(lmbatch::kVersion) == LMBATCH_PROJECT_VERSION);
  fs::remove(log);
  REQUIRE(run({"--version"}, log) == 0);
  CHECK_THAT(read_text(log), Catch::Contains(std::string("lmbatch ") + LMBATCH_PROJECT_VERSION));
}

TEST_CASE("fewer samples than parameters is said once, before the run", "[app]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "5", "-s", "3"}, log) == 0);
  fs::remove(log);
  REQUIRE(run(fit(in, out), log) == 0);
  const std::string text = read_text(log);
  CHECK_THAT(text, Catch::Contains("[warning] every problem has 3 samples, fewer than the 5 "
                                   "parameters of gaussian+linear"));
  CHECK_THAT(text, Catch::Contains("ier -3:          5"));
}
