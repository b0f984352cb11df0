// ProblemFile: reading problems from HDF5 into chunks, and every validation
// error with its message.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "h5_test_files.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/problem_writer.hpp"

using lmbatch::batch::Chunk;
using lmbatch::batch::Layout;
using lmbatch::io::Error;
using lmbatch::io::InputSpec;
using lmbatch::io::ProblemFile;
using namespace lmbatch::io::test;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// InputSpec without -Wmissing-field-initializers noise.
InputSpec in(std::string path, std::string y = "/y", std::string x = "", std::string sigma = "",
             std::string x0 = "") {
  InputSpec s;
  s.path = std::move(path);
  s.y = std::move(y);
  s.x = std::move(x);
  s.sigma = std::move(sigma);
  s.x0 = std::move(x0);
  return s;
}

// y[p, j] = 100 p + j over a leading shape: each value names its problem.
std::vector<double> indexed_y(std::size_t problems, std::size_t m) {
  std::vector<double> y(problems * m);
  for (std::size_t p = 0; p < problems; ++p)
    for (std::size_t j = 0; j < m; ++j) y[p * m + j] = 100.0 * p + j;
  return y;
}

std::size_t product(const std::vector<hsize_t>& d) {
  return std::accumulate(d.begin(), d.end(), std::size_t{1}, std::multiplies<>());
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("y of float64, float32 and integer types reads as double", "[io][problem_file]") {
  TempDir dir;
  const std::string path = dir.file("types.h5");
  write_dataset<double>(path, "/f64", {2, 3}, {1.5, -2, 3, 4, 5, 6});
  write_dataset<float>(path, "/f32", {2, 3}, {0.25f, 1e30f, std::nanf(""), 4, 5, 6});
  write_dataset<std::int32_t>(path, "/i32", {2, 3}, {-7, 0, 7, 1 << 30, 5, 6});
  write_dataset<std::uint8_t>(path, "/u8", {2, 3}, {0, 1, 255, 4, 5, 6});
  write_dataset<std::int64_t>(path, "/i64", {2, 3}, {-(std::int64_t{1} << 40), 0, 1, 2, 3, 4});

  Chunk chunk;
  chunk.reserve(2, 3, 1, false);
  {
    ProblemFile f(in(path, "/f64"), 1);
    CHECK(f.y_type() == "float64");
    f.read(0, 2, chunk);
    CHECK(chunk.y == std::vector<double>{1.5, -2, 3, 4, 5, 6});
  }
  {
    ProblemFile f(in(path, "/f32"), 1);
    CHECK(f.y_type() == "float32");
    f.read(0, 2, chunk);
    CHECK(chunk.y[0] == 0.25);
    CHECK(chunk.y[1] == static_cast<double>(1e30f));  // exact widening
    CHECK(std::isnan(chunk.y[2]));                    // NaN survives: a missing sample
  }
  {
    ProblemFile f(in(path, "/i32"), 1);
    CHECK(f.y_type() == "int32");
    f.read(0, 2, chunk);
    CHECK(chunk.y == std::vector<double>{-7, 0, 7, 1 << 30, 5, 6});
  }
  {
    ProblemFile f(in(path, "/u8"), 1);
    CHECK(f.y_type() == "uint8");
    f.read(1, 1, chunk);
    CHECK(chunk.first == 1);
    CHECK(chunk.count == 1);
    CHECK(std::vector<double>(chunk.y.begin(), chunk.y.begin() + 3) ==
          std::vector<double>{4, 5, 6});
  }
  {
    ProblemFile f(in(path, "/i64"), 1);
    CHECK(f.y_type() == "int64");
    f.read(0, 1, chunk);
    CHECK(chunk.y[0] == -1099511627776.0);
  }
}

TEST_CASE("leading shapes of rank 0 to 3, read in chunks that straddle rows",
          "[io][problem_file]") {
  const std::vector<std::vector<hsize_t>> leading_shapes = {{}, {7}, {3, 5}, {2, 3, 4}};
  const std::vector<int> chunk_sizes = {1, 4, 7, 24};
  const std::size_t m = 3;
  TempDir dir;
  int file_no = 0;
  for (const auto& leading : leading_shapes) {
    const std::string path = dir.file("shape" + std::to_string(file_no++) + ".h5");
    const std::size_t problems = product(leading);
    auto dims = leading;
    dims.push_back(m);
    // Chunked storage with chunks that do not line up with the reads.
    std::vector<hsize_t> storage_chunk(dims.size(), 1);
    storage_chunk.back() = 2;
    write_dataset<double>(path, "/data/y", dims, indexed_y(problems, m), storage_chunk);

    ProblemFile f(in(path, "/data/y"), 2);
    CHECK(f.leading_shape() == std::vector<unsigned long long>(leading.begin(), leading.end()));
    CHECK(f.problem_count() == problems);
    CHECK(f.m() == static_cast<int>(m));
    CHECK(f.n() == 2);
    CHECK(f.x_layout() == Layout::absent);
    for (int size : chunk_sizes) {
      Chunk chunk;
      chunk.reserve(size, static_cast<int>(m), 2, false);
      for (std::size_t first = 0; first < problems; first += static_cast<std::size_t>(size)) {
        const int count = static_cast<int>(std::min<std::size_t>(size, problems - first));
        f.read(first, count, chunk);
        REQUIRE(chunk.first == first);
        REQUIRE(chunk.count == count);
        REQUIRE(chunk.m == static_cast<int>(m));
        REQUIRE(chunk.x_layout == Layout::absent);
        for (int i = 0; i < count; ++i)
          for (std::size_t j = 0; j < m; ++j) {
            INFO("rank " << leading.size() << " chunk " << size << " problem " << first + i);
            REQUIRE(chunk.y[i * m + j] == 100.0 * (first + i) + j);
          }
      }
    }
  }
}

TEST_CASE("shared and per-problem x, sigma and x0", "[io][problem_file]") {
  TempDir dir;
  const std::string path = dir.file("inputs.h5");
  const std::size_t m = 4, n = 2;
  const std::vector<hsize_t> leading = {2, 3};  // 6 problems
  write_dataset<double>(path, "/y", {2, 3, 4}, indexed_y(6, m));
  write_dataset<double>(path, "/x_shared", {4}, {0, 0.5, 1, 1.5});
  std::vector<double> x_per(6 * m), sigma_per(6 * m), x0_per(6 * n);
  for (std::size_t i = 0; i < x_per.size(); ++i) x_per[i] = 0.01 * i;
  for (std::size_t i = 0; i < sigma_per.size(); ++i) sigma_per[i] = 1.0 + i;
  for (std::size_t i = 0; i < x0_per.size(); ++i) x0_per[i] = -1.0 * i;
  write_dataset<float>(path, "/x_per", {2, 3, 4}, std::vector<float>(x_per.begin(), x_per.end()));
  write_dataset<double>(path, "/sigma_shared", {4}, {1, 2, 3, 4});
  write_dataset<double>(path, "/sigma_per", {2, 3, 4}, sigma_per);
  write_dataset<double>(path, "/x0_shared", {2}, {10, 20});
  write_dataset<double>(path, "/x0_per", {2, 3, 2}, x0_per);

  Chunk chunk;
  chunk.reserve(4, 4, 2, false);

  SECTION("shared") {
    ProblemFile f(in(path, "/y", "/x_shared", "/sigma_shared", "/x0_shared"), 2);
    CHECK(f.x_layout() == Layout::shared);
    CHECK(f.sigma_layout() == Layout::shared);
    CHECK(f.x0_layout() == Layout::shared);
    f.read(2, 4, chunk);  // straddles the two rows of the leading shape
    CHECK(chunk.x_layout == Layout::shared);
    CHECK(chunk.x == std::vector<double>{0, 0.5, 1, 1.5});
    CHECK(chunk.sigma_layout == Layout::shared);
    CHECK(chunk.sigma == std::vector<double>{1, 2, 3, 4});
    CHECK(chunk.x0_layout == Layout::shared);
    CHECK(chunk.x0 == std::vector<double>{10, 20});
  }
  SECTION("per problem") {
    ProblemFile f(in(path, "/y", "/x_per", "/sigma_per", "/x0_per"), 2);
    CHECK(f.x_layout() == Layout::per_problem);
    CHECK(f.sigma_layout() == Layout::per_problem);
    CHECK(f.x0_layout() == Layout::per_problem);
    f.read(2, 4, chunk);
    REQUIRE(chunk.x_layout == Layout::per_problem);
    REQUIRE(chunk.sigma_layout == Layout::per_problem);
    REQUIRE(chunk.x0_layout == Layout::per_problem);
    for (std::size_t i = 0; i < 4 * m; ++i) {
      CHECK(chunk.x[i] == static_cast<double>(static_cast<float>(x_per[2 * m + i])));
      CHECK(chunk.sigma[i] == sigma_per[2 * m + i]);
    }
    for (std::size_t i = 0; i < 4 * n; ++i) CHECK(chunk.x0[i] == x0_per[2 * n + i]);
  }
  SECTION("mixed, x absent") {
    ProblemFile f(in(path, "/y", "", "/sigma_per", "/x0_shared"), 2);
    CHECK(f.x_layout() == Layout::absent);
    f.read(0, 1, chunk);
    CHECK(chunk.x_layout == Layout::absent);
    CHECK(chunk.sigma_layout == Layout::per_problem);
    CHECK(chunk.x0_layout == Layout::shared);
  }
  SECTION("a 1-D y takes an (m) x as shared") {
    write_dataset<double>(path, "/y1", {4}, {1, 2, 3, 4});
    ProblemFile f(in(path, "/y1", "/x_shared"), 2);
    CHECK(f.problem_count() == 1);
    CHECK(f.x_layout() == Layout::shared);
  }
}

TEST_CASE("x with a trailing predictor dimension: (m, d) shared, (..., m, d) per problem",
          "[io][problem_file][predictors]") {
  TempDir dir;
  const std::string path = dir.file("predictors.h5");
  const std::size_t m = 4;
  write_dataset<double>(path, "/y", {2, 3, 4}, indexed_y(6, m));  // 6 problems
  const std::vector<double> x2 = {0, 10, 1, 11, 2, 12, 3, 13};    // (4, 2): x1, x2 per sample
  write_dataset<double>(path, "/x_shared", {4, 2}, x2);
  std::vector<double> x_per(6 * m * 3);  // (2, 3, 4, 3), chunks that do not line up with rows
  for (std::size_t i = 0; i < x_per.size(); ++i) x_per[i] = 0.5 * i;
  write_dataset<double>(path, "/x_per", {2, 3, 4, 3}, x_per, {1, 2, 3, 2});
  Chunk chunk;
  chunk.reserve(4, 4, 2, false);

  SECTION("shared (m, 2)") {
    ProblemFile f(in(path, "/y", "/x_shared"), 2);
    CHECK(f.x_layout() == Layout::shared);
    CHECK(f.predictors() == 2);
    f.read(2, 4, chunk);
    CHECK(chunk.predictors == 2);
    CHECK(chunk.x_layout == Layout::shared);
    CHECK(chunk.x == x2);
  }
  SECTION("per problem (2, 3, m, 3), read in chunks that straddle rows") {
    ProblemFile f(in(path, "/y", "/x_per"), 2);
    CHECK(f.x_layout() == Layout::per_problem);
    CHECK(f.predictors() == 3);
    for (const auto& [first, count] : {std::pair{0, 4}, std::pair{2, 4}, std::pair{5, 1}}) {
      f.read(static_cast<std::size_t>(first), count, chunk);
      CHECK(chunk.predictors == 3);
      REQUIRE(chunk.x_layout == Layout::per_problem);
      const std::size_t row = m * 3;
      for (std::size_t i = 0; i < static_cast<std::size_t>(count) * row; ++i)
        CHECK(chunk.x[i] == x_per[static_cast<std::size_t>(first) * row + i]);
    }
  }
  SECTION("x of y's shape is one predictor per problem, even when it could read as (m, d)") {
    write_dataset<double>(path, "/y_square", {4, 4}, indexed_y(4, 4));
    write_dataset<double>(path, "/x_square", {4, 4}, indexed_y(4, 4));
    ProblemFile f(in(path, "/y_square", "/x_square"), 2);
    CHECK(f.x_layout() == Layout::per_problem);
    CHECK(f.predictors() == 1);
    ProblemFile g(in(path, "/y_square", "/x_shared"), 2);
    CHECK(g.x_layout() == Layout::shared);
    CHECK(g.predictors() == 2);
  }
  SECTION("a 1-D y with an (m, d) x") {
    write_dataset<double>(path, "/y1", {4}, {1, 2, 3, 4});
    ProblemFile f(in(path, "/y1", "/x_shared"), 2);
    CHECK(f.problem_count() == 1);
    CHECK(f.x_layout() == Layout::shared);
    CHECK(f.predictors() == 2);
  }
  SECTION("no x, or a plain one: one predictor") {
    CHECK(ProblemFile(in(path, "/y"), 2).predictors() == 1);
    write_dataset<double>(path, "/x_plain", {4}, {0, 1, 2, 3});
    ProblemFile f(in(path, "/y", "/x_plain"), 2);
    CHECK(f.predictors() == 1);
    f.read(0, 1, chunk);
    CHECK(chunk.predictors == 1);
  }
}

TEST_CASE("NaN in any predictor marks a missing sample", "[io][problem_file][predictors]") {
  TempDir dir;
  const std::string path = dir.file("nan2.h5");
  write_dataset<double>(path, "/y", {2, 3}, {1, 2, 3, 4, 5, 6});
  // problem 1, sample 2: x2 is NaN; sigma there may be anything
  write_dataset<double>(path, "/x", {2, 3, 2}, {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, kNaN});
  write_dataset<double>(path, "/sigma", {2, 3}, {1, 1, 1, 1, 1, 0});
  write_dataset<double>(path, "/sigma0", {2, 3}, {1, 1, 1, 1, 0, 1});
  Chunk chunk;
  chunk.reserve(2, 3, 1, false);
  ProblemFile f(in(path, "/y", "/x", "/sigma"), 1);
  REQUIRE_NOTHROW(f.read(0, 2, chunk));
  CHECK(std::isnan(chunk.x[11]));
  // a zero sigma where every predictor is present is refused
  ProblemFile g(in(path, "/y", "/x", "/sigma0"), 1);
  auto e = expect_error([&] { g.read(0, 2, chunk); });
  CHECK(e.problem() == 1u);
  CHECK(contains(e.what(), "sigma[1, 1] = 0"));
}

TEST_CASE("NaN marks missing samples: sigma is only checked where the sample is present",
          "[io][problem_file]") {
  TempDir dir;
  const std::string path = dir.file("nan.h5");
  write_dataset<double>(path, "/y", {2, 3}, {1, kNaN, 3, 4, 5, 6});
  write_dataset<double>(path, "/x", {2, 3}, {0, 1, 2, 0, 1, kNaN});
  write_dataset<double>(path, "/sigma", {2, 3}, {1, 0, 1, 1, 1, kNaN});
  ProblemFile f(in(path, "/y", "/x", "/sigma"), 1);
  Chunk chunk;
  chunk.reserve(2, 3, 1, false);
  REQUIRE_NOTHROW(f.read(0, 2, chunk));
  CHECK(std::isnan(chunk.y[1]));
  CHECK(std::isnan(chunk.x[5]));
}

TEST_CASE("+-Inf marks a missing sample as NaN does: sigma there is not checked",
          "[io][problem_file]") {
  // The engine leaves out every sample whose y or x is not finite
  // (solve_problem); the checks must agree, or a file the engine would fit
  // is refused.
  TempDir dir;
  const std::string path = dir.file("inf.h5");
  const double inf = std::numeric_limits<double>::infinity();
  write_dataset<double>(path, "/y", {2, 3}, {1, inf, 3, 4, 5, 6});
  write_dataset<double>(path, "/x", {2, 3}, {0, 1, 2, 0, 1, -inf});
  write_dataset<double>(path, "/sigma", {2, 3}, {1, kNaN, 1, 1, 1, 0});
  ProblemFile f(in(path, "/y", "/x", "/sigma"), 1);
  Chunk chunk;
  chunk.reserve(2, 3, 1, false);
  REQUIRE_NOTHROW(f.read(0, 2, chunk));
  CHECK(chunk.y[1] == inf);
  CHECK(chunk.x[5] == -inf);
}

TEST_CASE("/x, /sigma and /x0 are read by default when the file has them, none leaves them out",
          "[io][problem_file][defaults]") {
  TempDir dir;
  const std::string path = dir.file("defaults.h5");
  write_dataset<double>(path, "/y", {3, 4}, indexed_y(3, 4));
  write_dataset<double>(path, "/x", {4}, {10, 20, 30, 40});
  write_dataset<double>(path, "/sigma", {3, 4}, std::vector<double>(12, 2.0));
  write_dataset<double>(path, "/x0", {2}, {5, 6});
  Chunk chunk;
  chunk.reserve(3, 4, 2, false);

  SECTION("not named: the defaults") {
    ProblemFile f(in(path), 2);
    CHECK(f.spec().x == "/x");
    CHECK(f.spec().sigma == "/sigma");
    CHECK(f.spec().x0 == "/x0");
    CHECK(f.defaulted().x);
    CHECK(f.defaulted().sigma);
    CHECK(f.defaulted().x0);
    CHECK(f.x_layout() == Layout::shared);
    CHECK(f.sigma_layout() == Layout::per_problem);
    CHECK(f.x0_layout() == Layout::shared);
    CHECK(f.inputs_text() == "x: /x (default), sigma: /sigma (default), x0: /x0 (default)");
    f.read(0, 3, chunk);
    CHECK(chunk.x == std::vector<double>{10, 20, 30, 40});
    CHECK(chunk.x0 == std::vector<double>{5, 6});
  }
  SECTION("none: absent whatever the file holds, and recorded as absent") {
    ProblemFile f(in(path, "/y", "none", "none", "none"), 2);
    CHECK(f.spec().x.empty());
    CHECK(f.spec().sigma.empty());
    CHECK(f.spec().x0.empty());
    CHECK_FALSE(f.defaulted().x);
    CHECK(f.x_layout() == Layout::absent);
    CHECK(f.sigma_layout() == Layout::absent);
    CHECK(f.x0_layout() == Layout::absent);
    CHECK(f.inputs_text() == "x: absent (0..m-1), sigma: absent (1)");
    f.read(0, 3, chunk);
    CHECK(chunk.x_layout == Layout::absent);
  }
  SECTION("named: not a default") {
    write_dataset<double>(path, "/x_other", {4}, {1, 2, 3, 4});
    ProblemFile f(in(path, "/y", "/x_other", "none", "/x0"), 2);
    CHECK(f.spec().x == "/x_other");
    CHECK_FALSE(f.defaulted().x);
    CHECK_FALSE(f.defaulted().x0);
    CHECK(f.inputs_text() == "x: /x_other, sigma: absent (1), x0: /x0");
  }
  SECTION("a default the file lacks is simply absent") {
    const std::string bare = dir.file("bare.h5");
    write_dataset<double>(bare, "/y", {3, 4}, indexed_y(3, 4));
    ProblemFile f(in(bare), 2);
    CHECK(f.spec().x.empty());
    CHECK(f.spec().sigma.empty());
    CHECK(f.spec().x0.empty());
    CHECK_FALSE(f.defaulted().x);
    CHECK(f.x_layout() == Layout::absent);
  }
  SECTION("a default is checked like a named one, and its error says how to leave it out") {
    const std::string bad = dir.file("bad.h5");
    write_dataset<double>(bad, "/y", {3, 4}, indexed_y(3, 4));
    write_dataset<double>(bad, "/x", {5}, {1, 2, 3, 4, 5});
    auto e = expect_error([&] { ProblemFile(in(bad), 2); });
    CHECK(e.dataset() == "/x");
    CHECK(contains(e.what(), "shape (5,) does not fit /y"));
    CHECK(contains(e.what(), "read as x by default because the file has it"));
    CHECK(contains(e.what(), "\"none\" to leave x out"));
    CHECK(ProblemFile(in(bad, "/y", "none"), 2).x_layout() == Layout::absent);
  }
  SECTION("no model (n_params = 0): a default /x0 is recorded, not checked") {
    ProblemFile f(in(path), 0);
    CHECK(f.spec().x0 == "/x0");
    CHECK(f.defaulted().x0);
    CHECK(f.x0_layout() == Layout::absent);
    CHECK(ProblemFile(in(path, "/y", "", "", "none"), 0).spec().x0.empty());
  }
  SECTION("a default already named for another input is not taken again") {
    // The samples in /x (one problem of 4): not also their own positions.
    ProblemFile f(in(path, "/x", "", "none", "none"), 2);
    CHECK(f.spec().x.empty());
    CHECK_FALSE(f.defaulted().x);
    CHECK(f.x_layout() == Layout::absent);
  }
  SECTION("y cannot be none") {
    auto e = expect_error([&] { ProblemFile(in(path, "none"), 2); });
    CHECK(contains(e.what(), "no dataset named for y"));
  }
}

TEST_CASE("file-level errors", "[io][problem_file][errors]") {
  TempDir dir;

  SECTION("missing file") {
    const std::string path = dir.file("nope.h5");
    auto e = expect_error([&] { ProblemFile(in(path), 1); });
    CHECK(e.file() == path);
    CHECK(e.dataset().empty());
    CHECK(std::string(e.what()) == path + ": no such file");
  }
  SECTION("a text file") {
    const std::string path = dir.file("data.csv");
    write_text_file(path, "1,2,3\n4,5,6\n");
    auto e = expect_error([&] { ProblemFile(in(path), 1); });
    CHECK(std::string(e.what()) == path + ": not an HDF5 file (no HDF5 signature found)");
  }
  SECTION("an empty file") {
    const std::string path = dir.file("empty.h5");
    write_text_file(path, "");
    auto e = expect_error([&] { ProblemFile(in(path), 1); });
    CHECK(contains(e.what(), "not an HDF5 file (the file is empty)"));
  }
  SECTION("a directory") {
    auto e = expect_error([&] { ProblemFile(in(dir.path().string()), 1); });
    CHECK(contains(e.what(), "is a directory"));
  }
  SECTION("a truncated HDF5 file") {
    const std::string good = dir.file("good.h5"), cut = dir.file("cut.h5");
    write_dataset<double>(good, "/y", {200, 50}, indexed_y(200, 50));
    fs::copy_file(good, cut);
    fs::resize_file(cut, fs::file_size(good) / 2);
    auto e = expect_error([&] { ProblemFile(in(cut), 1); });
    CHECK(e.file() == cut);
    CHECK(contains(e.what(), cut + ": truncated or corrupt HDF5 file (HDF5: "));
    CHECK(contains(e.what(), "truncated file"));
    // describe() reports it the same way.
    auto e2 = expect_error([&] { lmbatch::io::describe(cut); });
    CHECK(contains(e2.what(), "truncated or corrupt"));
  }
}

TEST_CASE("dataset errors", "[io][problem_file][errors]") {
  TempDir dir;
  const std::string path = dir.file("in.h5");
  write_dataset<double>(path, "/data", {10, 50}, indexed_y(10, 50));

  SECTION("missing y lists the datasets there are") {
    auto e = expect_error([&] { ProblemFile(in(path), 1); });
    CHECK(e.dataset() == "/y");
    CHECK(std::string(e.what()) == path + ": dataset /y: not found (datasets in the file: /data)");
  }
  SECTION("missing parent group") {
    auto e = expect_error([&] { ProblemFile(in(path, "/grp/y"), 1); });
    CHECK(contains(e.what(), "dataset /grp/y: not found"));
  }
  SECTION("a group, not a dataset") {
    create_group(path, "/grp");
    auto e = expect_error([&] { ProblemFile(in(path, "/grp"), 1); });
    CHECK(contains(e.what(), "dataset /grp: is a group, not a dataset"));
  }
  SECTION("string y") {
    write_string_dataset(path, "/names", {"a", "b"});
    auto e = expect_error([&] { ProblemFile(in(path, "/names"), 1); });
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /names: has type string; expected a numeric type (float32, float64 "
              "or an integer type)");
  }
  SECTION("compound y") {
    write_compound_dataset(path, "/records", 4);
    auto e = expect_error([&] { ProblemFile(in(path, "/records"), 1); });
    CHECK(contains(e.what(), "dataset /records: has type compound"));
  }
  SECTION("scalar y") {
    write_dataset<double>(path, "/scalar", {}, {1.0});
    auto e = expect_error([&] { ProblemFile(in(path, "/scalar"), 1); });
    CHECK(contains(e.what(), "dataset /scalar: is a scalar; expected an array of shape (..., m)"));
  }
  SECTION("no samples") {
    write_dataset<double>(path, "/empty", {3, 0}, {});
    auto e = expect_error([&] { ProblemFile(in(path, "/empty"), 1); });
    CHECK(contains(e.what(), "its last dimension (m, the samples per problem) is 0"));
  }
  SECTION("wrong x shape names both datasets and shapes") {
    write_dataset<double>(path, "/x", {40}, std::vector<double>(40, 1.0));
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "/x"), 1); });
    CHECK(e.dataset() == "/x");
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /x: shape (40,) does not fit /data of shape (10, 50): expected (50,) "
              "(shared by all problems) or (10, 50) (per problem); with d >= 2 predictors per "
              "sample (x1..xd), (50, d) or (10, 50, d)");
  }
  SECTION("wrong trailing predictor dimension of x") {
    write_dataset<double>(path, "/x1", {50, 1}, std::vector<double>(50, 1.0));
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "/x1"), 1); });
    CHECK(e.dataset() == "/x1");
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /x1: shape (50, 1) has a trailing predictor dimension of 1; expected "
              "(50,) (shared by all problems) or (10, 50) (per problem); with d >= 2 predictors "
              "per sample (x1..xd), (50, d) or (10, 50, d)");
    write_dataset<double>(path, "/x_per1", {10, 50, 1}, std::vector<double>(500, 1.0));
    auto e1 = expect_error([&] { ProblemFile(in(path, "/data", "/x_per1"), 1); });
    CHECK(contains(e1.what(), "shape (10, 50, 1) has a trailing predictor dimension of 1"));
    write_dataset<double>(path, "/x0d", {50, 0}, std::vector<double>{});
    auto e0 = expect_error([&] { ProblemFile(in(path, "/data", "/x0d"), 1); });
    CHECK(contains(e0.what(), "shape (50, 0) has a trailing predictor dimension of 0"));
    write_dataset<double>(path, "/x_m", {10, 49, 2}, std::vector<double>(980, 1.0));
    auto em = expect_error([&] { ProblemFile(in(path, "/data", "/x_m"), 1); });
    CHECK(contains(em.what(), "shape (10, 49, 2) does not fit /data of shape (10, 50)"));
    // the predictor forms are for x only
    write_dataset<double>(path, "/sigma2", {50, 2}, std::vector<double>(100, 1.0));
    auto es = expect_error([&] { ProblemFile(in(path, "/data", "", "/sigma2"), 1); });
    CHECK(contains(es.what(), "shape (50, 2) does not fit /data of shape (10, 50)"));
  }
  SECTION("a 1-D y names its one x shape once") {
    write_dataset<double>(path, "/y1", {50}, std::vector<double>(50, 1.0));
    write_dataset<double>(path, "/x1", {50, 1}, std::vector<double>(50, 1.0));
    auto e = expect_error([&] { ProblemFile(in(path, "/y1", "/x1"), 1); });
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /x1: shape (50, 1) has a trailing predictor dimension of 1; expected "
              "(50,); with d >= 2 predictors per sample (x1..xd), (50, d)");
  }
  SECTION("a compact x whose header holds none of its data") {
    // A compact dataset keeps its data in its layout message (version 3:
    // version, class 0, a 2-byte size, the data). A corrupt file can declare
    // size 0 while the dataspace holds 50 elements; HDF5 1.10 opens it and
    // its read copies from a null buffer (found by fuzz_problem_file).
    std::vector<double> x(50);
    std::iota(x.begin(), x.end(), 1000.25);
    {
      h5::File file = open_rw(path);
      const hsize_t m = 50;
      h5::Dataspace space(H5Screate_simple(1, &m, nullptr));
      h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
      H5Pset_layout(dcpl.get(), H5D_COMPACT);
      h5::Dataset ds(H5Dcreate2(file.get(), "/x", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                                dcpl.get(), H5P_DEFAULT));
      REQUIRE(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()) >= 0);
    }
    std::ifstream read(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(read)), {});
    read.close();
    const std::string data(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(double));
    const std::size_t at = bytes.find(data);
    REQUIRE(at != std::string::npos);
    REQUIRE(at >= 4);
    REQUIRE(bytes.compare(at - 4, 4, std::string("\x03\x00\x90\x01", 4)) == 0);  // 400 bytes
    bytes[at - 2] = bytes[at - 1] = 0;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "/x"), 1); });
    CHECK(e.dataset() == "/x");
    CHECK(std::string(e.what()) == path +
                                       ": dataset /x: is corrupt: its compact storage holds 0 "
                                       "bytes, its 50 elements of float64 need 400");
  }
  SECTION("wrong sigma shape") {
    write_dataset<double>(path, "/sigma", {50, 10}, std::vector<double>(500, 1.0));
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "", "/sigma"), 1); });
    CHECK(e.dataset() == "/sigma");
    CHECK(contains(e.what(), "shape (50, 10) does not fit /data of shape (10, 50)"));
  }
  SECTION("string x") {
    write_string_dataset(path, "/xs", {"a"});
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "/xs"), 1); });
    CHECK(contains(e.what(), "dataset /xs: has type string"));
  }
  SECTION("wrong x0 length") {
    write_dataset<double>(path, "/x0", {3}, {1, 2, 3});
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "", "", "/x0"), 4); });
    CHECK(e.dataset() == "/x0");
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /x0: shape (3,) does not fit /data of shape (10, 50) with 4 "
              "parameters: expected (4,) (shared by all problems) or (10, 4) (per problem)");
  }
  SECTION("shared x0 not finite") {
    write_dataset<double>(path, "/x0", {2}, {1, kNaN});
    auto e = expect_error([&] { ProblemFile(in(path, "/data", "", "", "/x0"), 2); });
    CHECK(!e.problem());
    CHECK(std::string(e.what()) ==
          path + ": dataset /x0: x0[1] = nan; starting values must be finite");
  }
  SECTION("a range outside the file") {
    ProblemFile f(in(path, "/data"), 1);
    Chunk chunk;
    chunk.reserve(8, 50, 1, false);
    auto e = expect_error([&] { f.read(5, 8, chunk); });
    CHECK(contains(e.what(), "problems [5, 13) requested; the file holds 10"));
  }
  SECTION("n_params = 0 (no model) is fine without x0") {
    CHECK(ProblemFile(in(path, "/data"), 0).problem_count() == 10);
    write_dataset<double>(path, "/x0", {2}, {1, 2});
    CHECK_THROWS_AS(ProblemFile(in(path, "/data", "", "", "/x0"), 0), std::invalid_argument);
    CHECK_THROWS_AS(ProblemFile(in(path, "/data"), -1), std::invalid_argument);
  }
}

TEST_CASE("sigma <= 0 and non-finite x0 report the problem index", "[io][problem_file][errors]") {
  TempDir dir;
  const std::string path = dir.file("bad.h5");
  const std::size_t m = 5;
  write_dataset<double>(path, "/y", {10, 5}, indexed_y(10, m));
  std::vector<double> sigma(10 * m, 1.0);
  sigma[7 * m + 3] = 0.0;
  write_dataset<double>(path, "/sigma", {10, 5}, sigma);
  std::vector<double> x0(10 * 2, 1.0);
  x0[4 * 2 + 1] = kNaN;
  write_dataset<double>(path, "/x0", {10, 2}, x0);  // left out ("none") but where it is tested
  Chunk chunk;
  chunk.reserve(5, 5, 2, false);

  SECTION("per-problem sigma, found in the chunk holding the problem") {
    ProblemFile f(in(path, "/y", "", "/sigma", "none"), 2);
    REQUIRE_NOTHROW(f.read(0, 5, chunk));
    auto e = expect_error([&] { f.read(5, 5, chunk); });
    CHECK(e.dataset() == "/sigma");
    REQUIRE(e.problem());
    CHECK(*e.problem() == 7);
    CHECK(std::string(e.what()) ==
          path +
              ": dataset /sigma: problem 7: sigma[7, 3] = 0; sigma must be finite and > 0 "
              "where the sample is present");
  }
  SECTION("shared sigma") {
    write_dataset<double>(path, "/sigma_shared", {5}, {1, 1, -2, 1, 1});
    ProblemFile f(in(path, "/y", "", "/sigma_shared", "none"), 2);
    auto e = expect_error([&] { f.read(3, 2, chunk); });
    CHECK(*e.problem() == 3);
    CHECK(contains(e.what(), "problem 3: sigma[2] = -2; sigma must be finite and > 0"));
  }
  SECTION("sigma = inf") {
    write_dataset<double>(path, "/sigma_inf", {5},
                          {1, 1, 1, 1, std::numeric_limits<double>::infinity()});
    ProblemFile f(in(path, "/y", "", "/sigma_inf", "none"), 2);
    auto e = expect_error([&] { f.read(0, 1, chunk); });
    CHECK(contains(e.what(), "problem 0: sigma[4] = inf"));
  }
  SECTION("per-problem x0 NaN") {
    ProblemFile f(in(path, "/y", "", "", "/x0"), 2);
    auto e = expect_error([&] { f.read(2, 5, chunk); });
    CHECK(e.dataset() == "/x0");
    CHECK(*e.problem() == 4);
    CHECK(std::string(e.what()) ==
          path + ": dataset /x0: problem 4: x0[4, 1] = nan; starting values must be finite");
  }
  SECTION("a 2-D leading shape gives the multi-index") {
    write_dataset<double>(path, "/y3", {2, 5, 5}, indexed_y(10, m));
    write_dataset<double>(path, "/sigma3", {2, 5, 5}, sigma);
    ProblemFile f(in(path, "/y3", "", "/sigma3", "none"), 2);
    auto e = expect_error([&] { f.read(6, 4, chunk); });
    CHECK(*e.problem() == 7);
    CHECK(contains(e.what(), "problem 7: sigma[1, 2, 3] = 0"));
  }
}

TEST_CASE("describe lists datasets, shapes, types and root attributes", "[io][problem_file]") {
  TempDir dir;
  const std::string path = dir.file("info.h5");
  write_dataset<float>(path, "/y", {10, 50}, std::vector<float>(500, 1.0f), {5, 50});
  write_dataset<double>(path, "/meta/x", {50}, std::vector<double>(50, 0.0));
  {
    auto file = open_rw(path);
    lmbatch::io::hdf5::write_string_attribute(file.get(), "model", {"gaussian"}, true);
    lmbatch::io::hdf5::write_number_attribute(file.get(), "ftol", 1.5e-8);
  }
  const std::string text = lmbatch::io::describe(path);
  INFO(text);
  CHECK(contains(text, path + ": 2 datasets"));
  CHECK(contains(text, "/y"));
  CHECK(contains(text, "float32"));
  CHECK(contains(text, "(10, 50)"));
  CHECK(contains(text, "chunked (5, 50), gzip 4"));
  CHECK(contains(text, "/meta/"));
  CHECK(contains(text, "/meta/x"));
  CHECK(contains(text, "(50,)"));
  CHECK(contains(text, "model = \"gaussian\""));
  CHECK(contains(text, "ftol = 1.5e-08"));
  CHECK_THROWS_AS(lmbatch::io::describe(dir.file("missing.h5")), Error);
}

namespace {
// A pass-through filter, registered only while the test file is written: the
// file then needs a filter the library does not have when it is read.
size_t identity_filter(unsigned, size_t, const unsigned[], size_t nbytes, size_t*, void**) {
  return nbytes;
}
}  // namespace

TEST_CASE("a filter HDF5 lacks is reported when the file is opened", "[io][problem_file][errors]") {
  TempDir dir;
  const std::string path = dir.file("filtered.h5");
  const H5Z_filter_t id = 32999;
  const H5Z_class2_t cls = {H5Z_CLASS_T_VERS,      id,      1,       1,
                            "lmbatch test filter", nullptr, nullptr, identity_filter};
  REQUIRE(H5Zregister(&cls) >= 0);
  {
    auto file = open_rw(path);
    const hsize_t dims[2] = {4, 3}, chunk[2] = {2, 3};
    h5::Dataspace space(H5Screate_simple(2, dims, nullptr));
    h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 2, chunk);
    H5Pset_filter(dcpl.get(), id, H5Z_FLAG_MANDATORY, 0, nullptr);
    h5::Dataset ds(H5Dcreate2(file.get(), "/y", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                              dcpl.get(), H5P_DEFAULT));
    const std::vector<double> values(12, 1.0);
    REQUIRE(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >=
            0);
  }
  REQUIRE(H5Zunregister(id) >= 0);
  auto e = expect_error([&] { ProblemFile(in(path), 1); });
  CHECK(e.dataset() == "/y");
  CHECK(contains(e.what(),
                 "is compressed with HDF5 filter 32999 (lmbatch test filter), which "
                 "this HDF5 library cannot decode"));
}

TEST_CASE("the problem writer writes ranges that straddle rows, read back by ProblemFile",
          "[io][problem_file][writer]") {
  const std::vector<std::vector<unsigned long long>> leading_shapes = {{7}, {3, 5}, {2, 3, 4}};
  const int m = 3, n = 2;
  TempDir dir;
  int file_no = 0;
  for (const auto& leading : leading_shapes) {
    const std::string path = dir.file("written" + std::to_string(file_no++) + ".h5");
    lmbatch::io::ProblemFileSpec spec;
    spec.path = path;
    spec.leading_shape = leading;
    spec.m = m;
    spec.n = n;
    spec.x = {0.5, 1.5, 2.5};
    spec.integer_attributes = {{"seed", 42}};
    lmbatch::io::ProblemFileWriter w(spec);
    const std::size_t problems = w.problem_count();
    const std::vector<double> y = indexed_y(problems, m);
    std::vector<double> truth(problems * n);
    std::iota(truth.begin(), truth.end(), 0.0);
    // Ranges of 4 problems: each crosses a row of (3, 5) and (2, 3, 4) somewhere.
    for (std::size_t first = 0; first < problems; first += 4) {
      const std::size_t count = std::min<std::size_t>(4, problems - first);
      w.write(first, std::span<const double>(y).subspan(first * m, count * m),
              std::span<const double>(truth).subspan(first * n, count * n));
    }
    CHECK_THROWS_AS(w.write(problems, std::span<const double>(y).subspan(0, m), {}), Error);
    w.finish();
    ProblemFile f(in(path, "/y"), n);
    CHECK(f.leading_shape() == leading);
    CHECK(f.x_layout() == Layout::shared);  // /x, read by default
    Chunk chunk;
    chunk.reserve(static_cast<int>(problems), m, n, false);
    f.read(0, static_cast<int>(problems), chunk);
    for (std::size_t k = 0; k < problems * m; ++k) REQUIRE(chunk.y[k] == y[k]);
    CHECK(chunk.x == std::vector<double>{0.5, 1.5, 2.5});
  }
  // An existing file is kept without overwrite.
  lmbatch::io::ProblemFileSpec again;
  again.path = dir.file("written0.h5");
  again.leading_shape = {7};
  again.m = m;
  CHECK_THROWS_WITH(lmbatch::io::ProblemFileWriter(again), Catch::Contains("--overwrite"));
}
