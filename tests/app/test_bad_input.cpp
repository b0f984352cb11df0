// The bad-input matrix of docs/reliability.md: every case through the `lmbatch`
// binary, with its exit status and the message that names the file, dataset
// and problem. Keep the two in step.
#include <hdf5.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"

namespace fs = std::filesystem;
using lmbatch::io::test::TempDir;
using lmbatch::io::test::write_dataset;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kM = 20, kN = 4;  // gaussian+constant

struct Run {
  int status;
  std::string output;
};

Run lmbatch_run(const std::string& args, const TempDir& dir, const std::string& env = "") {
  const std::string log = dir.file("log.txt");
  const std::string cmd = env + " " + std::string(LMBATCH_EXE) + " " + args + " > " + log + " 2>&1";
  const int raw = std::system(cmd.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, text.str()};
}

// count gaussian+constant spectra of kM samples.
std::vector<double> spectra(int count) {
  std::vector<double> y(static_cast<size_t>(count) * kM);
  for (int k = 0; k < count; ++k)
    for (int i = 0; i < kM; ++i) {
      const double d = (i - 10.0 - 0.1 * k) / 3.0;
      y[k * kM + i] = 2.0 * std::exp(-0.5 * d * d) + 0.5 + 0.001 * std::sin(i * 1.0 + k);
    }
  return y;
}

struct Case {
  std::string name;
  std::string args;  // after "fit IN -o OUT -m gaussian+constant"
  int status;        // expected exit status
  std::vector<std::string> messages;
  std::string file = "good.h5";
};

}  // namespace

TEST_CASE("bad inputs and options give a clear message and a non-zero exit", "[reliability]") {
  TempDir dir;
  const auto y = spectra(6);
  const std::string good = dir.file("good.h5");
  write_dataset<double>(good, "/y", {6, kM}, y);
  write_dataset<double>(good, "/x_short", {kM - 1}, std::vector<double>(kM - 1, 1.0));
  write_dataset<double>(good, "/sigma_bad_shape", {3, kM}, std::vector<double>(3 * kM, 1.0));
  std::vector<double> sigma_zero(6 * kM, 1.0);
  sigma_zero[3 * kM + 7] = 0.0;
  write_dataset<double>(good, "/sigma_zero", {6, kM}, sigma_zero);
  std::vector<double> sigma_inf(kM, 1.0);
  sigma_inf[2] = INFINITY;
  write_dataset<double>(good, "/sigma_inf", {kM}, sigma_inf);
  write_dataset<double>(good, "/x0_short", {3}, std::vector<double>{1, 2, 3});
  std::vector<double> x0_nan(6 * kN, 1.0);
  x0_nan[4 * kN + 1] = kNaN;
  write_dataset<double>(good, "/x0_nan", {6, kN}, x0_nan);
  write_dataset<double>(good, "/scalar", {}, std::vector<double>{1.0});
  write_dataset<double>(good, "/zero_samples", {6, 0}, {});
  lmbatch::io::test::write_string_dataset(good, "/names", {"a", "b"});
  lmbatch::io::test::write_text_file(dir.file("text.h5"), "this is not HDF5\n");
  {  // a truncated copy of a valid file
    fs::copy_file(good, dir.file("cut.h5"));
    fs::resize_file(dir.file("cut.h5"), fs::file_size(good) / 2);
  }
  fs::create_directory(dir.file("a_directory.h5"));

  const std::vector<Case> cases{
      {"missing file", "", 1, {"missing.h5: no such file"}, "missing.h5"},
      {"not an HDF5 file", "", 1, {"text.h5: not an HDF5 file"}, "text.h5"},
      {"truncated HDF5 file", "", 1, {"cut.h5: truncated or corrupt"}, "cut.h5"},
      {"input is a directory", "", 1, {"a_directory.h5"}, "a_directory.h5"},
      {"missing dataset", "--y /nope", 1, {"dataset /nope: not found"}},
      {"wrong rank (scalar y)", "--y /scalar", 1, {"dataset /scalar", "is a scalar"}},
      {"string y", "--y /names", 1, {"dataset /names", "has type string"}},
      {"zero samples", "--y /zero_samples", 1, {"dataset /zero_samples"}},
      {"x shape not matching y", "--x /x_short", 1, {"dataset /x_short", "does not fit"}},
      {"sigma shape not matching y",
       "--sigma /sigma_bad_shape",
       1,
       {"dataset /sigma_bad_shape", "does not fit"}},
      {"x0 length not matching the model",
       "--x0 /x0_short",
       1,
       {"dataset /x0_short", "4 parameters"}},
      {"NaN in x0", "--x0 /x0_nan", 1, {"dataset /x0_nan", "problem 4", "must be finite"}},
      {"Inf in sigma", "--sigma /sigma_inf", 1, {"dataset /sigma_inf", "sigma must be finite"}},
      {"sigma <= 0", "--sigma /sigma_zero", 1, {"dataset /sigma_zero", "problem 3", "= 0"}},
      {"unknown model", "-m gausian", 1, {"unknown model term \"gausian\""}},
      {"negative ftol", "--ftol -1e-8", 2, {"ftol must be finite and >= 0"}},
      {"negative xtol", "--xtol -1", 2, {"xtol must be finite and >= 0"}},
      {"negative gtol", "--gtol -1", 2, {"gtol must be finite and >= 0"}},
      {"factor = 0", "--factor 0", 2, {"factor must be finite and > 0"}},
      {"factor < 0", "--factor -5", 2, {"factor must be finite and > 0"}},
      {"maxfev < 0", "--maxfev -1", 2, {"maxfev must be >= 0"}},
      {"threads < 0", "--threads -1", 2, {"threads must be >= 1 (or 0 for every core)"}},
      {"diag of wrong length", "--diag 1,1", 1, {"diag has 2 values"}},
      {"diag not positive", "--diag 1,0,1,1", 2, {"diag entries must be finite and > 0"}},
      {"x0 values of wrong length", "--x0-values 1,2", 1, {"x0_values has 2 values"}},
      {"x0 values not finite",
       "--x0-values 1,nan,1,1",
       1,
       {"x0_values: the value of parameter center is not finite"}},
      {"chunk size 0", "--chunk-size 0", 2, {"chunk_size must be >= 1"}},
      {"unknown jacobian mode", "--jacobian central", 2, {"--jacobian"}},
  };
  int covered = 0;
  for (const auto& c : cases) {
    const std::string out = dir.file("out_" + std::to_string(covered) + ".h5");
    std::string args = "fit " + dir.file(c.file) + " -o " + out;
    if (c.args.find("-m ") == std::string::npos) args += " -m gaussian+constant";
    const Run r = lmbatch_run(args + " " + c.args, dir);
    INFO(c.name << "\n" << r.output);
    CHECK(r.status == c.status);
    for (const auto& m : c.messages) CHECK(r.output.find(m) != std::string::npos);
    CHECK_FALSE(fs::exists(out));  // never a half-written output under the real name
    ++covered;
  }
  CHECK(covered == 28);
}

TEST_CASE("outputs that cannot be written fail clearly and clobber nothing", "[reliability]") {
  TempDir dir;
  write_dataset<double>(dir.file("in.h5"), "/y", {6, kM}, spectra(6));
  const std::string in = dir.file("in.h5");
  // Output folder missing, output path a directory, output exists.
  Run r =
      lmbatch_run("fit " + in + " -o " + dir.file("no/such/out.h5") + " -m gaussian+constant", dir);
  CHECK(r.status == 1);
  CHECK(r.output.find("does not exist") != std::string::npos);
  fs::create_directory(dir.file("dir.h5"));
  r = lmbatch_run("fit " + in + " -o " + dir.file("dir.h5") + " -m gaussian+constant --overwrite",
                  dir);
  CHECK(r.status == 1);
  CHECK(r.output.find("is a directory") != std::string::npos);
  const std::string out = dir.file("out.h5");
  REQUIRE(lmbatch_run("fit " + in + " -o " + out + " -m gaussian+constant", dir).status == 0);
  r = lmbatch_run("fit " + in + " -o " + out + " -m gaussian+constant", dir);
  CHECK(r.status == 1);
  CHECK(r.output.find("already exists") != std::string::npos);
}

TEST_CASE("a full disk mid-run loses nothing: the journal keeps every chunk, --resume finishes",
          "[reliability]") {
  TempDir dir;
  write_dataset<double>(dir.file("in.h5"), "/y", {500, kM}, spectra(500));
  const std::string in = dir.file("in.h5"), out = dir.file("out.h5"), ref = dir.file("ref.h5");
  const std::string args = " -m gaussian+constant --chunk-size 50 --threads 2";
  REQUIRE(lmbatch_run("fit " + in + " -o " + ref + args, dir).status == 0);
  const Run failed =
      lmbatch_run("fit " + in + " -o " + out + args, dir, "LMBATCH_INJECT_WRITE_FAILURE_AFTER=4");
  INFO(failed.output);
  CHECK(failed.status == 1);
  CHECK(failed.output.find("no space left on device") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(out + ".journal"));
  const Run resumed = lmbatch_run("fit " + in + " -o " + out + args + " --resume", dir);
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.output.find("resuming: 200 of 500 problems recovered") != std::string::npos);
  for (const char* name : {"/x", "/cov_x", "/nfev", "/ier"}) {
    const auto a = lmbatch::io::test::read_dataset<double>(ref, name);
    const auto b = lmbatch::io::test::read_dataset<double>(out, name);
    CHECK(a.dims == b.dims);
    CHECK(std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(double)) == 0);
  }
}

TEST_CASE("inputs that are odd but valid run to completion with per-problem statuses",
          "[reliability]") {
  TempDir dir;
  auto y = spectra(5);
  for (int i = 0; i < kM; ++i) y[2 * kM + i] = kNaN;  // problem 2: all NaN
  for (int i = 2; i < kM; ++i) y[4 * kM + i] = kNaN;  // problem 4: 2 samples < 4 parameters
  write_dataset<double>(dir.file("in.h5"), "/y", {5, kM}, y);
  std::vector<std::int32_t> yi(5 * kM);
  for (size_t k = 0; k < yi.size(); ++k) yi[k] = static_cast<std::int32_t>(1000 * spectra(5)[k]);
  write_dataset<std::int32_t>(dir.file("in.h5"), "/y_int", {5, kM}, yi);
  write_dataset<double>(dir.file("in.h5"), "/y_empty", {0, kM}, {});
  write_dataset<double>(dir.file("in.h5"), "/y_short", {5, 3}, std::vector<double>(15, 1.0));

  const std::string in = dir.file("in.h5");
  Run r = lmbatch_run("fit " + in + " -o " + dir.file("a.h5") + " -m gaussian+constant", dir);
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK(r.output.find("ier -3:          2") != std::string::npos);
  const auto ier = lmbatch::io::test::read_dataset<std::int32_t>(dir.file("a.h5"), "/ier");
  CHECK(ier.values[2] == -3);
  CHECK(ier.values[4] == -3);
  CHECK(ier.values[0] >= 1);

  r = lmbatch_run("fit " + in + " --y /y_int -o " + dir.file("b.h5") + " -m gaussian+constant",
                  dir);
  CHECK(r.status == 0);  // integer y is converted
  r = lmbatch_run("fit " + in + " --y /y_empty -o " + dir.file("c.h5") + " -m gaussian+constant",
                  dir);
  CHECK(r.status == 0);  // zero problems: an empty, valid output
  CHECK(r.output.find("done: 0 problems") != std::string::npos);
  r = lmbatch_run("fit " + in + " --y /y_short -o " + dir.file("d.h5") + " -m gaussian+constant",
                  dir);
  CHECK(r.status == 0);  // fewer samples than parameters everywhere: all -3
  CHECK(r.output.find("ier -3:          5") != std::string::npos);
}
