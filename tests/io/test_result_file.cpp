// ResultFile: datasets, shapes, types, attributes, chunking, and the
// .partial-then-rename protocol.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <utility>

#include "h5_test_files.hpp"
#include "lmbatch/io/result_file.hpp"

using lmbatch::batch::Chunk;
using lmbatch::io::Compression;
using lmbatch::io::Error;
using lmbatch::io::OutputSpec;
using lmbatch::io::ResultFile;
using namespace lmbatch::io::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Fills a chunk's results for problems [first, first + count) with values
// that encode the problem index p and the position inside the problem.
void fill_results(Chunk& c, std::size_t first, int count) {
  c.first = first;
  c.count = count;
  const std::size_t m = static_cast<std::size_t>(c.m), n = static_cast<std::size_t>(c.n);
  for (int i = 0; i < count; ++i) {
    const double p = static_cast<double>(first + static_cast<std::size_t>(i));
    const std::size_t ii = static_cast<std::size_t>(i);
    for (std::size_t k = 0; k < n; ++k) c.x_out[ii * n + k] = p + 0.1 * k;
    for (std::size_t k = 0; k < n * n; ++k) c.cov_x[ii * n * n + k] = p + 0.01 * k;
    c.cost[ii] = p * 0.5;
    c.nfev[ii] = static_cast<std::int32_t>(p) + 1;
    c.njev[ii] = static_cast<std::int32_t>(p) + 2;
    c.ier[ii] = static_cast<std::int16_t>(static_cast<int>(p) % 9 - 3);
    c.m_valid[ii] = static_cast<std::int32_t>(p) + 3;
    if (c.full_output) {
      for (std::size_t j = 0; j < m; ++j) c.fvec[ii * m + j] = p - 0.001 * j;
      for (std::size_t k = 0; k < n * m; ++k) c.fjac[ii * n * m + k] = p + 1e-4 * k;
      for (std::size_t k = 0; k < n; ++k) c.ipvt[ii * n + k] = static_cast<std::int32_t>(k + 1);
      for (std::size_t k = 0; k < n; ++k) c.qtf[ii * n + k] = -p - k;
    }
  }
}

OutputSpec spec_for(const std::string& path, std::vector<unsigned long long> leading, int m, int n,
                    bool full) {
  OutputSpec s;
  s.path = path;
  s.full_output = full;
  s.leading_shape = std::move(leading);
  s.m = m;
  s.n = n;
  return s;
}

std::vector<hsize_t> dims(std::vector<hsize_t> lead, std::vector<hsize_t> tail) {
  lead.insert(lead.end(), tail.begin(), tail.end());
  return lead;
}

}  // namespace

TEST_CASE("results written in chunks read back with the right shapes, types and values",
          "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("out.h5");
  const std::vector<hsize_t> lead = {3, 5};  // 15 problems
  const int m = 4, n = 2;
  const std::size_t problems = 15;
  OutputSpec spec = spec_for(path, {3, 5}, m, n, true);
  spec.parameter_names = {"amplitude", "decay"};
  spec.string_attributes = {{"model", "exponential"}, {"ier_messages", "1: ok\n2: ok"}};
  spec.number_attributes = {{"ftol", 1.49012e-08}};
  {
    ResultFile out(spec);
    CHECK(out.problem_count() == problems);
    Chunk chunk;
    chunk.reserve(4, m, n, true);
    for (std::size_t first = 0; first < problems; first += 4) {  // straddles the rows of 5
      const int count = static_cast<int>(std::min<std::size_t>(4, problems - first));
      fill_results(chunk, first, count);
      out.write(chunk);
    }
    out.add_attributes({{"end_time", "2024-01-01T00:00:00Z"}}, {{"threads", 8}});
    auto e = expect_error([&] { out.add_attributes({{"model", "again"}}); });
    CHECK(contains(e.what(), "attribute 'model' is given twice"));
    out.finish();
    CHECK(out.finished());
  }

  auto x = read_dataset<double>(path, "/x");
  CHECK(x.dims == dims(lead, {2}));
  CHECK((x.type_class == H5T_FLOAT && x.type_size == 8));
  CHECK_FALSE(x.gzip);  // Compression::integers, the default
  auto cov = read_dataset<double>(path, "/cov_x");
  CHECK(cov.dims == dims(lead, {2, 2}));
  auto cost = read_dataset<double>(path, "/cost");
  CHECK(cost.dims == lead);
  auto nfev = read_dataset<std::int32_t>(path, "/nfev");
  CHECK(nfev.dims == lead);
  CHECK((nfev.type_class == H5T_INTEGER && nfev.type_size == 4));
  auto njev = read_dataset<std::int32_t>(path, "/njev");
  auto ier = read_dataset<std::int16_t>(path, "/ier");
  CHECK((ier.type_class == H5T_INTEGER && ier.type_size == 2));
  auto m_valid = read_dataset<std::int32_t>(path, "/m_valid");
  auto fvec = read_dataset<double>(path, "/fvec");
  CHECK(fvec.dims == dims(lead, {4}));
  auto fjac = read_dataset<double>(path, "/fjac");
  CHECK(fjac.dims == dims(lead, {2, 4}));
  auto ipvt = read_dataset<std::int32_t>(path, "/ipvt");
  CHECK(ipvt.dims == dims(lead, {2}));
  CHECK(ipvt.type_size == 4);
  auto qtf = read_dataset<double>(path, "/qtf");
  CHECK(qtf.dims == dims(lead, {2}));

  Chunk expect;
  expect.reserve(static_cast<int>(problems), m, n, true);
  fill_results(expect, 0, static_cast<int>(problems));
  CHECK(x.values == expect.x_out);
  CHECK(cov.values == expect.cov_x);
  CHECK(cost.values == expect.cost);
  CHECK(nfev.values == expect.nfev);
  CHECK(njev.values == expect.njev);
  CHECK(ier.values == expect.ier);
  CHECK(m_valid.values == expect.m_valid);
  CHECK(fvec.values == expect.fvec);
  CHECK(fjac.values == expect.fjac);
  CHECK(ipvt.values == expect.ipvt);
  CHECK(qtf.values == expect.qtf);

  h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  CHECK(h5::read_string_attribute(file.get(), "parameter_names") ==
        std::vector<std::string>{"amplitude", "decay"});
  CHECK(h5::read_string_attribute(file.get(), "model") == std::vector<std::string>{"exponential"});
  CHECK(h5::read_string_attribute(file.get(), "ier_messages") ==
        std::vector<std::string>{"1: ok\n2: ok"});
  CHECK(h5::read_string_attribute(file.get(), "lmbatch_format") ==
        std::vector<std::string>{"result/1"});
  CHECK(h5::read_string_attribute(file.get(), "end_time") ==
        std::vector<std::string>{"2024-01-01T00:00:00Z"});
  double ftol = 0;
  h5::Attribute a(H5Aopen(file.get(), "ftol", H5P_DEFAULT));
  REQUIRE(a);
  H5Aread(a.get(), H5T_NATIVE_DOUBLE, &ftol);
  CHECK(ftol == 1.49012e-08);
}

TEST_CASE("without full output only the main datasets exist: one problem gives scalars",
          "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("one.h5");
  {
    ResultFile out(spec_for(path, {}, 3, 2, false));
    CHECK(out.problem_count() == 1);
    Chunk chunk;
    chunk.reserve(1, 3, 2, false);
    fill_results(chunk, 0, 1);
    chunk.x_out = {1.5, 2.5};
    out.write(chunk);
    out.finish();
  }
  auto x = read_dataset<double>(path, "/x");
  CHECK(x.dims == std::vector<hsize_t>{2});
  CHECK(x.values == std::vector<double>{1.5, 2.5});
  auto nfev = read_dataset<std::int32_t>(path, "/nfev");
  CHECK(nfev.dims.empty());  // scalar
  CHECK(nfev.values == std::vector<std::int32_t>{1});
  CHECK_THROWS(read_dataset<double>(path, "/fjac"));
}

TEST_CASE("unwritten problems read as NaN in the float datasets and ier -4", "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("gaps.h5");
  {
    ResultFile out(spec_for(path, {6}, 3, 2, false));
    Chunk chunk;
    chunk.reserve(2, 3, 2, false);
    fill_results(chunk, 2, 2);
    out.write(chunk);
    out.finish();
  }
  auto x = read_dataset<double>(path, "/x");
  CHECK(std::isnan(x.values[0]));
  CHECK(x.values[4] == 2.0);
  CHECK(std::isnan(x.values[11]));
  const auto ier = read_dataset<std::int16_t>(path, "/ier");
  CHECK(ier.values == std::vector<std::int16_t>{-4, -4, -1, 0, -4, -4});  // written: p % 9 - 3
  const auto nfev = read_dataset<std::int32_t>(path, "/nfev");
  CHECK(nfev.values == std::vector<std::int32_t>{0, 0, 3, 4, 0, 0});
}

TEST_CASE("whole storage chunks written as they are agree with cut ones, edges and gaps",
          "[io][result_file]") {
  // Rows of 2500 problems cut into storage chunks of 1024 (x: 16 bytes a
  // problem): [0, 1024), [1024, 2048) whole, [2048, 2500) at the row's edge.
  // Writes of every size meet them whole (direct writes), cut at either end,
  // across rows, and leave a gap that must read as the fill value. The
  // integers are deflated, so they take the chunk cache throughout: the
  // same values either way.
  TempDir dir;
  const std::vector<unsigned long long> lead = {3, 2500};
  const std::size_t problems = 7500, gap_first = 5000, gap_end = 5100;
  for (const std::size_t step :
       {std::size_t{1024}, std::size_t{1000}, std::size_t{3000}, std::size_t{2048}, problems}) {
    INFO("writes of " << step << " problems");
    for (const Compression c : {Compression::integers, Compression::none}) {
      const std::string path = dir.file("direct" + std::to_string(step) + "_" +
                                        std::to_string(static_cast<int>(c)) + ".h5");
      OutputSpec spec = spec_for(path, lead, 3, 2, false);
      spec.compression = c;
      {
        ResultFile out(spec);
        Chunk chunk;
        chunk.reserve(static_cast<int>(step), 3, 2, false);
        for (std::size_t first = 0; first < problems; first += step) {
          // The gap: problems [gap_first, gap_end) are never written.
          const std::size_t end = std::min(first + step, problems);
          for (const auto& [a, b] : {std::pair{first, std::min(end, gap_first)},
                                     std::pair{std::max(first, gap_end), end}}) {
            if (a >= b) continue;
            fill_results(chunk, a, static_cast<int>(b - a));
            out.write(chunk);
          }
        }
        out.finish();
      }
      CHECK(read_dataset<double>(path, "/x").chunk == std::vector<hsize_t>{1, 1024, 2});
      const auto x = read_dataset<double>(path, "/x");
      const auto cov = read_dataset<double>(path, "/cov_x");
      const auto ier = read_dataset<std::int16_t>(path, "/ier");
      std::size_t wrong = 0;
      for (std::size_t p = 0; p < problems; ++p) {
        const bool gap = p >= gap_first && p < gap_end;
        const auto pd = static_cast<double>(p);
        for (std::size_t k = 0; k < 2; ++k)
          wrong += gap ? !std::isnan(x.values[p * 2 + k]) : x.values[p * 2 + k] != pd + 0.1 * k;
        for (std::size_t k = 0; k < 4; ++k)
          wrong +=
              gap ? !std::isnan(cov.values[p * 4 + k]) : cov.values[p * 4 + k] != pd + 0.01 * k;
        wrong += ier.values[p] != (gap ? -4 : static_cast<int>(p) % 9 - 3);
      }
      CHECK(wrong == 0);
    }
  }
}

TEST_CASE("compression: integers only by default, every dataset, or none", "[io][result_file]") {
  TempDir dir;
  for (const Compression c : {Compression::integers, Compression::all, Compression::none}) {
    const std::string path = dir.file("c" + std::to_string(static_cast<int>(c)) + ".h5");
    OutputSpec spec = spec_for(path, {40}, 3, 2, true);
    if (c != Compression::integers) spec.compression = c;
    {
      ResultFile out(spec);
      Chunk chunk;
      chunk.reserve(40, 3, 2, true);
      fill_results(chunk, 0, 40);
      out.write(chunk);
      out.finish();
    }
    INFO("compression " << static_cast<int>(c));
    for (const char* name : {"/x", "/cov_x", "/cost", "/stderr", "/fvec", "/fjac", "/qtf"}) {
      INFO(name);
      const auto d = read_dataset<double>(path, name);
      CHECK(d.gzip == (c == Compression::all));
    }
    for (const char* name : {"/nfev", "/njev", "/m_valid", "/ipvt"}) {
      INFO(name);
      CHECK(read_dataset<std::int32_t>(path, name).gzip == (c != Compression::none));
    }
    const auto ier = read_dataset<std::int16_t>(path, "/ier");
    CHECK(ier.gzip == (c != Compression::none));
    CHECK(ier.values[7] == 7 % 9 - 3);
    CHECK(read_dataset<std::int32_t>(path, "/nfev").values[39] == 40);
    CHECK(read_dataset<double>(path, "/x").values[3] == 1.0 + 0.1 * 1);  // problem 1, x[1]
  }
}

TEST_CASE("storage chunks are flat-contiguous runs of problems", "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("chunks.h5");
  {
    // Nothing is written: unwritten chunks are not allocated, so this is cheap.
    ResultFile out(spec_for(path, {4, 100000}, 10, 2, true));
    out.finish();
  }
  // /x: 16 bytes a problem -> 1024 problems (the cap: the pipeline's default
  // chunk) cut along the last dimension.
  CHECK(read_dataset<double>(path, "/x").chunk == std::vector<hsize_t>{1, 1024, 2});
  // /ier: 2 bytes a problem -> also capped at 1024.
  CHECK(read_dataset<std::int16_t>(path, "/ier").chunk == std::vector<hsize_t>{1, 1024});
  // /fjac: 160 bytes a problem -> 6553 problems of ~1 MiB, capped at 1024.
  CHECK(read_dataset<double>(path, "/fjac").chunk == std::vector<hsize_t>{1, 1024, 2, 10});

  const std::string path2 = dir.file("rows.h5");
  {
    ResultFile out(spec_for(path2, {1000, 30}, 10, 3, false));
    out.finish();
  }
  // /cov_x: 72 bytes a problem -> 14563 problems, capped at 1024: 34 whole rows of 30.
  CHECK(read_dataset<double>(path2, "/cov_x").chunk == std::vector<hsize_t>{34, 30, 3, 3});

  const std::string path3 = dir.file("long.h5");
  {
    ResultFile out(spec_for(path3, {4, 100000}, 1000, 2, true));
    out.finish();
  }
  // /fjac: 16000 bytes a problem -> 65 problems of ~1 MiB (under the cap).
  CHECK(read_dataset<double>(path3, "/fjac").chunk == std::vector<hsize_t>{1, 65, 2, 1000});
  CHECK(read_dataset<double>(path3, "/x").chunk == std::vector<hsize_t>{1, 1024, 2});
}

TEST_CASE("an existing file is only replaced with overwrite, and only at finish",
          "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("exists.h5");
  write_text_file(path, "old");
  auto e = expect_error([&] { ResultFile out(spec_for(path, {2}, 3, 1, false)); });
  CHECK(e.file() == path);
  CHECK(std::string(e.what()) ==
        path + ": already exists; refusing to replace it without overwrite");
  CHECK(!fs::exists(path + ".partial"));

  OutputSpec spec = spec_for(path, {2}, 3, 1, false);
  spec.overwrite = true;
  ResultFile out(spec);
  CHECK(fs::file_size(path) == 3);  // the old file stays until finish()
  out.finish();
  CHECK(fs::file_size(path) > 3);
  CHECK(!fs::exists(path + ".partial"));
}

TEST_CASE("the file is written as .partial and renamed by finish", "[io][result_file]") {
  TempDir dir;
  const std::string path = dir.file("res.h5");
  Chunk chunk;
  chunk.reserve(2, 3, 1, false);
  fill_results(chunk, 0, 2);

  SECTION("finished") {
    ResultFile out(spec_for(path, {2}, 3, 1, false));
    CHECK(out.partial_path() == path + ".partial");
    out.write(chunk);
    CHECK(fs::exists(path + ".partial"));
    CHECK(!fs::exists(path));
    out.finish();
    CHECK(fs::exists(path));
    CHECK(!fs::exists(path + ".partial"));
    CHECK_THROWS_AS(out.write(chunk), std::logic_error);
  }
  SECTION("not finished: the .partial file stays, no target appears") {
    {
      ResultFile out(spec_for(path, {2}, 3, 1, false));
      out.write(chunk);
    }
    CHECK(!fs::exists(path));
    REQUIRE(fs::exists(path + ".partial"));
    // It is a readable HDF5 file with what was written.
    CHECK(read_dataset<std::int32_t>(path + ".partial", "/nfev").values ==
          std::vector<std::int32_t>{1, 2});
  }
  SECTION("a stale .partial file from an interrupted run is replaced") {
    write_text_file(path + ".partial", "stale");
    ResultFile out(spec_for(path, {2}, 3, 1, false));
    out.write(chunk);
    out.finish();
    CHECK(read_dataset<std::int32_t>(path, "/nfev").values == std::vector<std::int32_t>{1, 2});
  }
}

TEST_CASE("an unwritable location is an Error naming the file", "[io][result_file][errors]") {
  TempDir dir;
  SECTION("missing directory") {
    const std::string path = dir.file("no/such/dir/out.h5");
    auto e = expect_error([&] { ResultFile out(spec_for(path, {2}, 3, 1, false)); });
    CHECK(e.file() == path);
    CHECK(contains(e.what(), path + ": cannot create " + path + ".partial: the directory "));
    CHECK(contains(e.what(), "does not exist"));
  }
  SECTION("a file where the directory should be") {
    write_text_file(dir.file("plain"), "x");
    const std::string path = dir.file("plain/out.h5");
    auto e = expect_error([&] { ResultFile out(spec_for(path, {2}, 3, 1, false)); });
    CHECK(contains(e.what(), "is not a directory"));
  }
  SECTION("the target is a directory") {
    fs::create_directory(dir.file("d.h5"));
    OutputSpec spec = spec_for(dir.file("d.h5"), {2}, 3, 1, false);
    spec.overwrite = true;
    auto e = expect_error([&] { ResultFile out(spec); });
    CHECK(contains(e.what(), "is a directory"));
  }
}

TEST_CASE("chunks that do not fit the file are rejected", "[io][result_file][errors]") {
  TempDir dir;
  const std::string path = dir.file("fit.h5");
  ResultFile out(spec_for(path, {4}, 3, 2, true));
  Chunk chunk;
  chunk.reserve(4, 3, 2, true);

  fill_results(chunk, 2, 3);
  auto e = expect_error([&] { out.write(chunk); });
  CHECK(contains(e.what(), "problems [2, 5) written; the file holds 4"));

  Chunk other;
  other.reserve(2, 5, 2, true);
  fill_results(other, 0, 2);
  e = expect_error([&] { out.write(other); });
  CHECK(contains(e.what(), "chunk has m = 5, n = 2; the file was created for m = 3, n = 2"));

  Chunk partial_output;
  partial_output.reserve(2, 3, 2, false);
  fill_results(partial_output, 0, 2);
  e = expect_error([&] { out.write(partial_output); });
  CHECK(contains(e.what(), "full output but the chunk carries none"));

  fill_results(chunk, 0, 4);
  chunk.qtf.resize(3);
  e = expect_error([&] { out.write(chunk); });
  CHECK(e.dataset() == "/qtf");
  CHECK(contains(e.what(), "the chunk holds 3 values for problems [0, 4); 8 are needed"));

  OutputSpec bad = spec_for(dir.file("names.h5"), {4}, 3, 2, false);
  bad.parameter_names = {"a"};
  e = expect_error([&] { ResultFile r(bad); });
  CHECK(contains(e.what(), "1 parameter names given for 2 parameters"));

  OutputSpec dup = spec_for(dir.file("dup.h5"), {4}, 3, 2, false);
  dup.string_attributes = {{"model", "a"}, {"model", "b"}};
  e = expect_error([&] { ResultFile r(dup); });
  CHECK(contains(e.what(), "attribute 'model' is given twice"));
  CHECK(!fs::exists(dir.file("dup.h5.partial")));  // a bad spec leaves nothing behind

  OutputSpec reserved = spec_for(dir.file("reserved.h5"), {4}, 3, 2, false);
  reserved.string_attributes = {{"lmbatch_format", "mine"}};
  e = expect_error([&] { ResultFile r(reserved); });
  CHECK(contains(e.what(), "attribute 'lmbatch_format' is given twice"));
}

TEST_CASE("a .partial file another run is writing is left alone", "[io][result_file][errors]") {
  TempDir dir;
  const std::string path = dir.file("busy.h5");
  write_text_file(path + ".partial", "another run's data");
  // HDF5 locks its files with flock(); a second open file description of the
  // same file conflicts with it even within one process.
  const int fd = ::open((path + ".partial").c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  auto e = expect_error([&] { ResultFile out(spec_for(path, {2}, 3, 1, false)); });
  ::close(fd);
  CHECK(contains(e.what(), "cannot create " + path + ".partial: it is in use by another process"));
  CHECK(fs::file_size(path + ".partial") == std::string("another run's data").size());
}

TEST_CASE("compression names", "[io][result_file]") {
  using lmbatch::io::parse_compression;
  CHECK(parse_compression("integers") == Compression::integers);
  CHECK(parse_compression("all") == Compression::all);
  CHECK(parse_compression("gzip") == Compression::all);
  CHECK(parse_compression("none") == Compression::none);
  CHECK_THROWS_WITH(parse_compression("lzf"), Catch::Contains("not 'lzf'"));
}

TEST_CASE("the reader reads one dataset over any range of problems, as doubles",
          "[io][result_file][reader]") {
  TempDir dir;
  const std::string path = dir.file("out.h5");
  const int m = 3, n = 2;
  const std::size_t problems = 15;  // (3, 5): ranges straddle the rows
  OutputSpec spec = spec_for(path, {3, 5}, m, n, false);
  spec.string_attributes = {{"model", "exponential"}};
  spec.number_attributes = {{"ftol", 1.5e-08}};
  {
    ResultFile out(spec);
    Chunk chunk;
    chunk.reserve(static_cast<int>(problems), m, n, false);
    fill_results(chunk, 0, static_cast<int>(problems));
    out.write(chunk);
    out.finish();
  }
  Chunk expect;
  expect.reserve(static_cast<int>(problems), m, n, false);
  fill_results(expect, 0, static_cast<int>(problems));

  lmbatch::io::ResultFileReader in(path);
  CHECK(in.values_per_problem("/x") == 2);
  CHECK(in.values_per_problem("/cov_x") == 4);
  CHECK(in.values_per_problem("/ier") == 1);
  std::vector<double> got;
  for (auto [first, count] :
       {std::pair<std::size_t, std::size_t>{0, 15}, {3, 9}, {14, 1}, {7, 0}}) {
    INFO("problems [" << first << ", " << first + count << ")");
    in.read("/x", first, count, got);
    CHECK(got == std::vector<double>(expect.x_out.begin() + first * n,
                                     expect.x_out.begin() + (first + count) * n));
    in.read("/ier", first, count, got);  // int16 in the file, exactly as doubles
    REQUIRE(got.size() == count);
    for (std::size_t k = 0; k < count; ++k) CHECK(got[k] == expect.ier[first + k]);
    in.read("/nfev", first, count, got);
    for (std::size_t k = 0; k < count; ++k) CHECK(got[k] == expect.nfev[first + k]);
  }
  auto e = expect_error([&] { in.read("/y", 0, 1, got); });
  CHECK(e.dataset() == "/y");
  CHECK(contains(e.what(), "is not a result dataset"));
  e = expect_error([&] { in.read("/x", 10, 6, got); });
  CHECK(contains(e.what(), "problems [10, 16) read; the file holds 15"));
  CHECK(h5::read_string_attribute(in.dataset("/x"), "units") == std::nullopt);

  // Root attributes as stored: strings, numbers, the layout's own.
  std::map<std::string, lmbatch::io::ResultFileReader::Attribute> attrs;
  for (auto& a : in.root_attributes()) attrs[a.name] = a;
  REQUIRE(attrs.count("model") == 1);
  CHECK(attrs["model"].type == "string");
  CHECK(attrs["model"].strings == std::vector<std::string>{"exponential"});
  CHECK(attrs["model"].numbers.empty());
  CHECK(attrs["ftol"].numbers == std::vector<double>{1.5e-08});
  CHECK(attrs["samples"].numbers == std::vector<double>{3});
  CHECK(attrs["lmbatch_format"].strings == std::vector<std::string>{"result/1"});
}

TEST_CASE("the reader reads the one problem of a scalar result file", "[io][result_file][reader]") {
  TempDir dir;
  const std::string path = dir.file("one.h5");
  {
    ResultFile out(spec_for(path, {}, 4, 3, false));
    Chunk chunk;
    chunk.reserve(1, 4, 3, false);
    fill_results(chunk, 0, 1);
    out.write(chunk);
    out.finish();
  }
  lmbatch::io::ResultFileReader in(path);
  std::vector<double> got;
  in.read("/x", 0, 1, got);
  CHECK(got == std::vector<double>{0.0, 0.1, 0.2});
  in.read("/cost", 0, 1, got);
  CHECK(got == std::vector<double>{0.0});
}
