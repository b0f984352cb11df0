// The inputs `lmbatch fit` reads by default (/x, /sigma, /x0 when the file
// has them; `none` opts out), and `lmbatch info` on inputs, on files without
// /y and on result files.
#include <hdf5.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../support/check.hpp"
#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "support/cli_support.hpp"

using lmbatch::io::test::TempDir;
using lmbatch::io::test::write_dataset;
namespace h5 = lmbatch::io::hdf5;

using lmbatch::test::same_bits;
namespace {

using Run = lmbatch::test::CommandResult;

Run run_lmbatch(const std::string& args, const TempDir& dir) {
  return lmbatch::test::run_shell(LMBATCH_EXE, args, dir);
}

std::vector<double> read_doubles(const std::string& file, const std::string& name) {
  const auto r = lmbatch::io::test::read_dataset<double>(file, name);
  return r.values;
}

std::string string_attribute(const std::string& file, const std::string& name) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  const auto v = h5::read_string_attribute(f.get(), name);
  REQUIRE(v);
  REQUIRE(v->size() == 1);
  return v->front();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// 6 noiseless lines y = 2 x + k at x = 100, 102, ..., 118 (not 0..m-1), in
// /y and /x: docs/format.md's layout.
void write_lines(const std::string& path) {
  const int m = 10, problems = 6;
  std::vector<double> x(m), y(problems * m);
  for (int i = 0; i < m; ++i) x[i] = 100.0 + 2.0 * i;
  for (int p = 0; p < problems; ++p)
    for (int i = 0; i < m; ++i) y[p * m + i] = 2.0 * x[i] + p;
  write_dataset<double>(path, "/y", {problems, m}, y);
  write_dataset<double>(path, "/x", {m}, x);
}

}  // namespace

TEST_CASE("fit reads /x by default, --x none fits against 0..m-1", "[cli][defaults]") {
  TempDir dir;
  const std::string in = dir.file("lines.h5");
  write_lines(in);
  const Run fit = run_lmbatch("fit " + in + " -o " + dir.file("a.h5") + " -m linear", dir);
  INFO(fit.output);
  REQUIRE(fit.status == 0);
  CHECK(contains(fit.output, "x: /x (default), sigma: absent (1)"));
  // linear: intercept, slope: p and 2 at the file's x.
  const auto x = read_doubles(dir.file("a.h5"), "/x");
  REQUIRE(x.size() == 12);
  for (int p = 0; p < 6; ++p) {
    CHECK(x[2 * p] == Approx(p).margin(1e-6));
    CHECK(x[2 * p + 1] == Approx(2.0).margin(1e-9));
  }
  // The resolved dataset is what the output (and the run's fingerprint) record.
  CHECK(string_attribute(dir.file("a.h5"), "x") == "/x");
  CHECK(contains(string_attribute(dir.file("a.h5"), "run_fingerprint"), "\nx=/x\n"));

  const Run none =
      run_lmbatch("fit " + in + " -o " + dir.file("b.h5") + " -m linear --x none", dir);
  INFO(none.output);
  REQUIRE(none.status == 0);
  CHECK(contains(none.output, "x: absent (0..m-1)"));
  CHECK(string_attribute(dir.file("b.h5"), "x") == "(absent: 0..m-1)");
  const auto b = read_doubles(dir.file("b.h5"), "/x");
  REQUIRE(b.size() == 12);
  CHECK(b[0] == Approx(200.0).margin(1e-6));  // y = 200 + 4 i against the index i
  CHECK(b[1] == Approx(4.0).margin(1e-9));
}

TEST_CASE("a default /x0 is used, and --x0-values keeps it out", "[cli][defaults]") {
  TempDir dir;
  const std::string in = dir.file("lines.h5");
  write_lines(in);
  // An expression has no starting-value estimate: the file's /x0 suffices.
  write_dataset<double>(in, "/x0", {2}, {1.0, 1.0});
  const std::string expr = " -m 'expr: a*x + b' --params a,b";
  const Run fit = run_lmbatch("fit " + in + " -o " + dir.file("a.h5") + expr, dir);
  INFO(fit.output);
  REQUIRE(fit.status == 0);
  CHECK(contains(fit.output, "x0: /x0 (default)"));
  CHECK(string_attribute(dir.file("a.h5"), "x0") == "/x0");
  // --x0-values: the file's /x0 is neither read nor checked (here it has the
  // wrong shape for 3 parameters).
  const Run values = run_lmbatch("fit " + in + " -o " + dir.file("b.h5") +
                                     " -m 'expr: a*x + b + 0*c' --params a,b,c --x0-values 1,1,0",
                                 dir);
  INFO(values.output);
  CHECK(values.status == 0);
  CHECK(string_attribute(dir.file("b.h5"), "x0") == "(--x0-values)");
  const Run none = run_lmbatch("fit " + in + " -o " + dir.file("c.h5") + expr + " --x0 none", dir);
  CHECK(none.status == 1);
  CHECK(contains(none.output, "has no starting-value estimate"));
}

TEST_CASE("generate + fit: the generated /x is 0..m-1, so reading it changes nothing",
          "[cli][defaults]") {
  TempDir dir;
  const std::string in = dir.file("g.h5");
  REQUIRE(run_lmbatch("generate " + in + " -m gaussian+constant --count 50 -s 40 --seed 3", dir)
              .status == 0);
  const Run with_x =
      run_lmbatch("fit " + in + " -o " + dir.file("a.h5") + " -m gaussian+constant", dir);
  INFO(with_x.output);
  REQUIRE(with_x.status == 0);
  CHECK(contains(with_x.output, "x: /x (default)"));
  REQUIRE(
      run_lmbatch("fit " + in + " -o " + dir.file("b.h5") + " -m gaussian+constant --x none", dir)
          .status == 0);
  for (const char* name : {"/x", "/cov_x", "/cost", "/stderr"})
    CHECK(same_bits(read_doubles(dir.file("a.h5"), name), read_doubles(dir.file("b.h5"), name)));
}

TEST_CASE("info shows the inputs fit would read by default", "[cli][info]") {
  TempDir dir;
  const std::string in = dir.file("lines.h5");
  write_lines(in);
  write_dataset<double>(in, "/x0", {2}, {1.0, 1.0});
  const Run info = run_lmbatch("info " + in, dir);
  INFO(info.output);
  CHECK(info.status == 0);
  CHECK(contains(info.output, "6 problems (6) of 10 samples from /y"));
  CHECK(contains(info.output, "x: /x (default), one vector shared by every problem"));
  CHECK(contains(info.output, "sigma: absent (1)"));
  CHECK(contains(info.output, "x0: /x0 (default)"));
  const Run none = run_lmbatch("info " + in + " --x none", dir);
  INFO(none.output);
  CHECK(none.status == 0);
  CHECK(contains(none.output, "x: absent (0..m-1)"));
}

TEST_CASE("info on a file without /y says what fit needs, and exits 0", "[cli][info]") {
  TempDir dir;
  const std::string in = dir.file("data.h5");
  write_dataset<double>(in, "/data", {3, 5}, std::vector<double>(15, 1.0));
  const Run info = run_lmbatch("info " + in, dir);
  INFO(info.output);
  CHECK(info.status == 0);
  CHECK(contains(info.output, "/data"));
  CHECK(contains(info.output, "this file has no /y"));
  CHECK(contains(info.output, "--y"));
  CHECK_FALSE(contains(info.output, "error"));
  // Named, it is read.
  const Run named = run_lmbatch("info " + in + " --y /data", dir);
  CHECK(named.status == 0);
  CHECK(contains(named.output, "3 problems (3) of 5 samples from /data"));
  // Named and missing: an error.
  const Run missing = run_lmbatch("info " + in + " --y /nope", dir);
  CHECK(missing.status == 1);
  CHECK(contains(missing.output, "dataset /nope: not found"));
}

TEST_CASE("info on a result file: model, parameters, status counts", "[cli][info]") {
  TempDir dir;
  const std::string in = dir.file("short.h5");
  // Problems 0 and 1 are lines; problem 2 has one valid sample, fewer than
  // the linear model's 2 parameters: ier -3.
  write_dataset<double>(in, "/y", {3, 4},
                        {1, 3, 5, 7, 2, 4, 6, 8, 1, std::nan(""), std::nan(""), std::nan("")});
  const std::string out = dir.file("fit.h5");
  REQUIRE(run_lmbatch("fit " + in + " -o " + out + " -m linear", dir).status == 0);
  const Run info = run_lmbatch("info " + out, dir);
  INFO(info.output);
  CHECK(info.status == 0);
  CHECK(contains(info.output, "an lmbatch result file (result/1), written by lmbatch"));
  CHECK(contains(info.output, "model: linear"));
  CHECK(contains(info.output, "parameters (2): intercept, slope"));
  CHECK(contains(info.output, "3 problems (3) of m = 4 samples"));
  CHECK(contains(info.output, "full output (fvec, fjac, ipvt, qtf): no"));
  CHECK(contains(info.output, "-3: not solved"));
  CHECK(contains(info.output, "converged (ier 1..4): 2 of 3"));
  CHECK_FALSE(contains(info.output, "error"));

  // A --part shard says which part it holds.
  const std::string shard = dir.file("part.h5");
  REQUIRE(run_lmbatch("fit " + in + " -o " + shard + " -m linear --part 1/3", dir).status == 0);
  const Run part = run_lmbatch("info " + shard, dir);
  INFO(part.output);
  CHECK(part.status == 0);
  CHECK(contains(part.output, "a --part 1/3 shard: problems [1, 2) of 3"));
  CHECK(contains(part.output, "-4: never written"));
}
