// `lmbatch` as a user runs it: generate a file, fit it, read the output back.
#include <hdf5.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "support/cli_support.hpp"

namespace fs = std::filesystem;
using lmbatch::io::test::TempDir;
namespace h5 = lmbatch::io::hdf5;

using lmbatch::test::same_bits;
namespace {

using Run = lmbatch::test::CommandResult;

Run run_lmbatch(const std::string& args, const TempDir& dir) {
  return lmbatch::test::run_shell(LMBATCH_EXE, args, dir);
}

template <class T>
std::vector<T> read_all(const std::string& file, const std::string& name, hid_t mem_type,
                        std::vector<hsize_t>* dims_out = nullptr) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  h5::Dataset d(H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT));
  REQUIRE(d.valid());
  h5::Dataspace s(H5Dget_space(d.get()));
  const auto dims = h5::dims_of(s.get());
  if (dims_out) *dims_out = dims;
  size_t count = 1;
  for (auto v : dims) count *= v;
  std::vector<T> out(count);
  REQUIRE(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
  return out;
}

}  // namespace

TEST_CASE("generate then fit recovers the truth, bit-identically on 1 and 2 threads", "[cli]") {
  TempDir dir;
  const std::string in = dir.file("in.h5");
  REQUIRE(run_lmbatch("generate " + in +
                          " --model gaussian+constant --count 300 --samples 64 "
                          "--noise 0.01 --seed 5",
                      dir)
              .status == 0);
  const Run one = run_lmbatch("fit " + in + " -o " + dir.file("one.h5") +
                                  " --model gaussian+constant --threads 1 --chunk-size 37",
                              dir);
  INFO(one.output);
  REQUIRE(one.status == 0);
  CHECK(one.output.find("done: 300 problems") != std::string::npos);
  const Run two = run_lmbatch("fit " + in + " -o " + dir.file("two.h5") +
                                  " --model gaussian+constant --threads 2 --summary-json " +
                                  dir.file("summary.json"),
                              dir);
  REQUIRE(two.status == 0);
  CHECK_FALSE(fs::exists(dir.file("two.h5.partial")));

  std::vector<hsize_t> dims;
  const auto x1 = read_all<double>(dir.file("one.h5"), "/x", H5T_NATIVE_DOUBLE, &dims);
  CHECK(dims == std::vector<hsize_t>{300, 4});
  const auto x2 = read_all<double>(dir.file("two.h5"), "/x", H5T_NATIVE_DOUBLE);
  CHECK(same_bits(x1, x2));
  CHECK(same_bits(read_all<double>(dir.file("one.h5"), "/cov_x", H5T_NATIVE_DOUBLE, &dims),
                  read_all<double>(dir.file("two.h5"), "/cov_x", H5T_NATIVE_DOUBLE)));
  CHECK(dims == std::vector<hsize_t>{300, 4, 4});
  CHECK(read_all<int>(dir.file("one.h5"), "/nfev", H5T_NATIVE_INT) ==
        read_all<int>(dir.file("two.h5"), "/nfev", H5T_NATIVE_INT));
  const auto ier = read_all<int>(dir.file("one.h5"), "/ier", H5T_NATIVE_INT);
  CHECK(ier == read_all<int>(dir.file("two.h5"), "/ier", H5T_NATIVE_INT));

  const auto truth = read_all<double>(in, "/truth", H5T_NATIVE_DOUBLE);
  int converged = 0, close = 0;
  for (size_t k = 0; k < 300; ++k) {
    converged += ier[k] >= 1 && ier[k] <= 4;
    // amplitude, center, sigma within 5 %
    bool ok = true;
    for (int j = 0; j < 3; ++j)
      ok = ok && std::fabs(x1[4 * k + j] - truth[4 * k + j]) <= 0.05 * std::fabs(truth[4 * k + j]);
    close += ok;
  }
  CHECK(converged >= 297);
  CHECK(close >= 290);
  std::ifstream summary(dir.file("summary.json"));
  std::stringstream s;
  s << summary.rdbuf();
  CHECK(s.str().find("\"problems\": 300") != std::string::npos);
}

TEST_CASE("an image cube gives parameter maps: --full-output adds fvec, fjac, ipvt, qtf", "[cli]") {
  TempDir dir;
  const std::string in = dir.file("cube.h5");
  REQUIRE(run_lmbatch("generate " + in +
                          " --model lorentzian+linear --shape 7,9 --samples 50 "
                          "--float32",
                      dir)
              .status == 0);
  const Run fit = run_lmbatch("fit " + in + " -o " + dir.file("out.h5") +
                                  " --model lorentzian+linear --full-output --chunk-size 10",
                              dir);
  INFO(fit.output);
  REQUIRE(fit.status == 0);
  std::vector<hsize_t> dims;
  read_all<double>(dir.file("out.h5"), "/x", H5T_NATIVE_DOUBLE, &dims);
  CHECK(dims == std::vector<hsize_t>{7, 9, 5});
  read_all<double>(dir.file("out.h5"), "/fjac", H5T_NATIVE_DOUBLE, &dims);
  CHECK(dims == std::vector<hsize_t>{7, 9, 5, 50});
  const auto ipvt = read_all<int>(dir.file("out.h5"), "/ipvt", H5T_NATIVE_INT, &dims);
  CHECK(dims == std::vector<hsize_t>{7, 9, 5});
  for (int v : ipvt) {
    CHECK(v >= 1);
    CHECK(v <= 5);
  }
  read_all<double>(dir.file("out.h5"), "/cost", H5T_NATIVE_DOUBLE, &dims);
  CHECK(dims == std::vector<hsize_t>{7, 9});
}

TEST_CASE("bad input gives a clear message and a non-zero exit: nothing is clobbered", "[cli]") {
  TempDir dir;
  const std::string in = dir.file("in.h5");
  REQUIRE(run_lmbatch("generate " + in + " --model gaussian --count 10 --samples 20", dir).status ==
          0);
  const std::string out = dir.file("out.h5");
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::vector<Case> cases{
      {"fit " + dir.file("missing.h5") + " -o " + out + " -m gaussian", 1,
       "missing.h5: no such file"},
      {"fit " + in + " -o " + out + " -m gausian", 1, "unknown model term \"gausian\""},
      {"fit " + in + " -o " + out + " -m gaussian --y /nope", 1, "dataset /nope: not found"},
      {"fit " + in + " -o " + out + " -m gaussian --x0-values 1,2", 1, "x0_values has 2 values"},
      {"fit " + in + " -o " + out + " -m gaussian --diag 1,0,1", 2, "diag"},
      {"fit " + in + " -o " + out + " -m gaussian --ftol -1", 2, "ftol must be finite and >= 0"},
      {"fit " + in + " -o " + out + " -m gaussian --jacobian central", 2, "jacobian"},
      {"fit " + in + " -m gaussian", 2, "--output is required"},
      {"fit " + in + " -o " + dir.file("no/such/dir/out.h5") + " -m gaussian", 1, "does not exist"},
      {"frobnicate", 2, ""},
  };
  for (const auto& c : cases) {
    const Run r = run_lmbatch(c.args, dir);
    INFO(c.args << "\n" << r.output);
    CHECK(r.status == c.status);
    CHECK(r.output.find(c.message) != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  // An existing output is kept unless --overwrite.
  REQUIRE(run_lmbatch("fit " + in + " -o " + out + " -m gaussian", dir).status == 0);
  const auto before = fs::last_write_time(out);
  const Run again = run_lmbatch("fit " + in + " -o " + out + " -m gaussian", dir);
  CHECK(again.status == 1);
  CHECK(again.output.find("already exists") != std::string::npos);
  CHECK(fs::last_write_time(out) == before);
  CHECK(run_lmbatch("fit " + in + " -o " + out + " -m gaussian --overwrite", dir).status == 0);
}

TEST_CASE("models and info describe the catalogue and a file", "[cli]") {
  TempDir dir;
  const Run models = run_lmbatch("models", dir);
  CHECK(models.status == 0);
  CHECK(models.output.find("pseudo_voigt") != std::string::npos);
  CHECK(models.output.find("amplitude, center, sigma") != std::string::npos);
  CHECK(models.output.find("'expr: ") != std::string::npos);  // expression models, too
  CHECK(models.output.find("--params") != std::string::npos);
  REQUIRE(
      run_lmbatch("generate " + dir.file("g.h5") + " -m exponential --count 4 -s 30", dir).status ==
      0);
  const Run info = run_lmbatch("info " + dir.file("g.h5"), dir);
  CHECK(info.status == 0);
  CHECK(info.output.find("4 problems") != std::string::npos);
  CHECK(info.output.find("30 samples") != std::string::npos);
}

TEST_CASE("a run smaller than threads x chunk size still uses every thread", "[cli]") {
  // 700 problems in the default 1024-problem chunk would be one pipeline
  // item, solved by one thread: without --chunk-size, fit cuts them into
  // chunks of 700 / (4 x 2 threads) = 88, and logs progress after each.
  TempDir dir;
  const std::string in = dir.file("in.h5");
  REQUIRE(run_lmbatch("generate " + in + " --model gaussian+constant --count 700 --samples 32", dir)
              .status == 0);
  auto progress_lines = [](const std::string& log) {
    std::size_t lines = 0;
    for (std::size_t at = 0; (at = log.find("/700 (", at)) != std::string::npos; ++at) ++lines;
    return lines;
  };
  const std::string fit =
      "fit " + in + " --model gaussian+constant --threads 2 " + "--progress-interval 0 -o ";
  const Run balanced = run_lmbatch(fit + dir.file("a.h5"), dir);
  INFO(balanced.output);
  REQUIRE(balanced.status == 0);
  CHECK(progress_lines(balanced.output) == 8);
  CHECK(balanced.output.find(" 88/700 (") != std::string::npos);
  // Given explicitly, the chunk size is taken as it is.
  const Run given = run_lmbatch(fit + dir.file("b.h5") + " --chunk-size 1024", dir);
  INFO(given.output);
  REQUIRE(given.status == 0);
  CHECK(progress_lines(given.output) == 1);
  CHECK(same_bits(read_all<double>(dir.file("a.h5"), "/x", H5T_NATIVE_DOUBLE),
                  read_all<double>(dir.file("b.h5"), "/x", H5T_NATIVE_DOUBLE)));
}

TEST_CASE("fit with --loss and --f-scale fits robustly and are recorded, bad values exit 2",
          "[cli]") {
  TempDir dir;
  const std::string in = dir.file("in.h5");
  REQUIRE(run_lmbatch("generate " + in +
                          " --model gaussian+constant --count 50 --samples 64 --noise 0.01 "
                          "--seed 3",
                      dir)
              .status == 0);
  const std::string out = dir.file("huber.h5");
  const Run huber = run_lmbatch(
      "fit " + in + " -o " + out + " -m gaussian+constant --loss huber --f-scale 0.5", dir);
  INFO(huber.output);
  REQUIRE(huber.status == 0);
  CHECK(huber.output.find("done: 50 problems") != std::string::npos);
  h5::File f(H5Fopen(out.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  const auto loss = h5::read_string_attribute(f.get(), "loss");
  REQUIRE(loss.has_value());
  CHECK(loss->at(0) == "huber");
  h5::Attribute a(H5Aopen(f.get(), "f_scale", H5P_DEFAULT));
  REQUIRE(a.valid());
  double f_scale = 0.0;
  REQUIRE(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &f_scale) >= 0);
  CHECK(f_scale == 0.5);
  const auto fingerprint = h5::read_string_attribute(f.get(), "run_fingerprint");
  REQUIRE(fingerprint.has_value());
  CHECK(fingerprint->at(0).find("\nloss=huber\n") != std::string::npos);

  // poisson (these y are positive: counts scaled down) runs and is recorded.
  const std::string counts = dir.file("poisson.h5");
  const Run poisson =
      run_lmbatch("fit " + in + " -o " + counts + " -m gaussian+constant --loss poisson", dir);
  INFO(poisson.output);
  REQUIRE(poisson.status == 0);
  h5::File p(H5Fopen(counts.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(p.valid());
  CHECK(h5::read_string_attribute(p.get(), "loss").value_or(std::vector<std::string>{""}).at(0) ==
        "poisson");
  CHECK(h5::read_string_attribute(p.get(), "ier_messages")
            .value_or(std::vector<std::string>{""})
            .at(0)
            .find("-5: A sample is negative") != std::string::npos);

  const Run nope = run_lmbatch(
      "fit " + in + " -o " + dir.file("nope.h5") + " -m gaussian+constant --loss nope", dir);
  CHECK(nope.status == 2);
  CHECK(nope.output.find(
            "loss must be 'linear', 'soft_l1', 'huber', 'cauchy', 'arctan' or 'poisson', "
            "not 'nope'") != std::string::npos);
  const Run zero = run_lmbatch(
      "fit " + in + " -o " + dir.file("zero.h5") + " -m gaussian+constant --f-scale 0", dir);
  CHECK(zero.status == 2);
  CHECK(zero.output.find("f_scale must be a finite number > 0, not 0") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("nope.h5")));
  CHECK_FALSE(fs::exists(dir.file("zero.h5")));
}
