// Split runs without MPI: `lmbatch fit --part i/N` shards joined by `lmbatch
// merge` give the output of one run over every problem, bit for bit; merge
// refuses shards that do not make one whole run.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/h5_test_files.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/shards.hpp"
#include "support/cli_support.hpp"

namespace fs = std::filesystem;
using lmbatch::test::read_text;

namespace {

int run(const std::vector<std::string>& args, const std::string& log) {
  return lmbatch::test::run_program(LMBATCH_EXE, args, log);
}

std::vector<std::string> fit(const std::string& in, const std::string& out,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> a{"fit", in,       "-o", out, "-m", "gaussian+linear", "--threads", "2",
                             "--progress-interval", "0"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace

TEST_CASE("part ranges tile the problems", "[split]") {
  using lmbatch::io::Part;
  for (std::size_t total : {0u, 1u, 7u, 1000u, 1001u}) {
    for (std::size_t parts : {1u, 2u, 3u, 7u, 13u}) {
      std::size_t expected_first = 0;
      for (std::size_t i = 0; i < parts; ++i) {
        const auto [first, end] = lmbatch::io::part_range(total, Part{i, parts});
        CHECK(first == expected_first);
        CHECK(end >= first);
        CHECK(end - first <= total / parts + 1);  // balanced within one problem
        expected_first = end;
      }
      CHECK(expected_first == total);
    }
  }
  // No overflow for a billion problems in many parts.
  const auto [f, e] = lmbatch::io::part_range(std::size_t{3} << 40, Part{999, 1000});
  CHECK(e == std::size_t{3} << 40);
  CHECK(f == (std::size_t{3} << 40) / 1000 * 999 + (std::size_t{3} << 40) % 1000 * 999 / 1000);
  CHECK_THROWS_WITH(lmbatch::io::parse_part("3/3"), Catch::Contains("i must be in 0..2"));
  CHECK_THROWS_WITH(lmbatch::io::parse_part("1/0"), Catch::Contains("N must be"));
  CHECK_THROWS_WITH(lmbatch::io::parse_part("a/2"), Catch::Contains("not a whole number"));
  CHECK_THROWS_WITH(lmbatch::io::parse_part("2"), Catch::Contains("expected i/N"));
  CHECK(lmbatch::io::parse_part("2/5").index == 2);
}

TEST_CASE("shards of --part i/N merge into the single run's output, bit for bit", "[split]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--shape", "37,29", "-s", "48"}, log) == 0);
  for (const bool full : {false, true}) {
    INFO("full output: " << full);
    const std::vector<std::string> extra =
        full ? std::vector<std::string>{"--full-output", "--overwrite", "--compression", "all"}
             : std::vector<std::string>{"--overwrite"};
    const std::string single = dir.file("single.h5");
    auto with = [&](std::vector<std::string> more) {
      more.insert(more.end(), extra.begin(), extra.end());
      return more;
    };
    REQUIRE(run(fit(in, single, with({"--chunk-size", "100"})), log) == 0);
    // Three parts of 357/358 problems, chunk sizes that do not divide them.
    std::vector<std::string> shards;
    for (int i = 0; i < 3; ++i) {
      shards.push_back(dir.file("part" + std::to_string(i) + ".h5"));
      REQUIRE(run(fit(in, shards.back(), with({"--part", std::to_string(i) + "/3", "--chunk-size",
                                               "64"})),
                  log) == 0);
    }
    {
      // Outside its own range a shard holds the fill values: ier -4 (never
      // written, not scipy's 0), x NaN; inside it, what the solve wrote.
      using lmbatch::io::test::read_dataset;
      const auto ier = read_dataset<std::int32_t>(shards[1], "/ier");
      const auto x = read_dataset<double>(shards[1], "/x");
      const auto [first, end] = lmbatch::io::part_range(37 * 29, lmbatch::io::Part{1, 3});
      REQUIRE(ier.values.size() == 37 * 29);
      const std::size_t n = x.dims.back();
      std::size_t outside_unwritten = 0, inside_solved = 0;
      for (std::size_t p = 0; p < ier.values.size(); ++p) {
        const bool x_nan = std::isnan(x.values[p * n]);
        if (p < first || p >= end)
          outside_unwritten += ier.values[p] == -4 && x_nan;
        else
          inside_solved += ier.values[p] >= -3 && ier.values[p] <= 8 && !x_nan;
      }
      CHECK(end - first == 358);
      // ... and its ier_messages attribute says what -4 means.
      namespace h5 = lmbatch::io::hdf5;
      const h5::File file(H5Fopen(shards[1].c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
      const auto messages = h5::read_string_attribute(file.get(), "ier_messages");
      REQUIRE(messages);
      CHECK_THAT((*messages)[0], Catch::Contains("-4: Never written") &&
                                     Catch::Contains("-3: Fewer valid samples"));
      CHECK(inside_solved == end - first);
      CHECK(outside_unwritten == ier.values.size() - (end - first));
    }
    const std::string merged = dir.file("merged.h5");
    REQUIRE(run({"merge", shards[2], shards[0], shards[1], "-o", merged, "--overwrite"}, log) ==
            0);
    INFO(read_text(log));
    lmbatch::test::check_identical_results(single, merged, full);
    // The copy is compressed as the shards were: integers only by default, or all.
    CHECK(lmbatch::io::test::read_dataset<double>(merged, "/x").gzip == full);
    CHECK(lmbatch::io::test::read_dataset<std::int32_t>(merged, "/nfev").gzip);
    // --virtual copies nothing: HDF5 virtual datasets over the shards, found
    // relative to the output's directory (this process runs elsewhere).
    const std::string mapped = dir.file("mapped.h5");
    REQUIRE(run({"merge", shards[1], shards[2], shards[0], "-o", mapped, "--overwrite",
                 "--virtual"},
                log) == 0);
    CHECK(fs::file_size(mapped) < fs::file_size(merged) / 4);
    lmbatch::test::check_identical_results(single, mapped, full);
  }
}

TEST_CASE("merge refuses shards that do not make one whole run", "[split]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "300", "-s", "32"}, log) == 0);
  const std::string p0 = dir.file("p0.h5"), p1 = dir.file("p1.h5"), other = dir.file("o1.h5"),
                    single = dir.file("single.h5"), out = dir.file("out.h5");
  REQUIRE(run(fit(in, p0, {"--part", "0/2"}), log) == 0);
  REQUIRE(run(fit(in, p1, {"--part", "1/2"}), log) == 0);
  REQUIRE(run(fit(in, other, {"--part", "1/2", "--ftol", "1e-6"}), log) == 0);
  REQUIRE(run(fit(in, single), log) == 0);

  struct Case {
    std::vector<std::string> shards;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{p0}, "part(s) 1 of 2 not given"},
      {{p0, p0}, "already given"},
      {{p0, other}, "not from the same run"},
      {{p0, single}, "is not a --part shard"},
      {{p0, dir.file("missing.h5")}, "missing.h5"},
  };
  for (const Case& c : cases) {
    fs::remove(log);
    std::vector<std::string> args{"merge"};
    args.insert(args.end(), c.shards.begin(), c.shards.end());
    args.insert(args.end(), {"-o", out});
    INFO(c.message);
    CHECK(run(args, log) == 1);
    CHECK_THAT(read_text(log), Catch::Contains(c.message));
    CHECK_FALSE(fs::exists(out));
  }
  // A bad --part is a command-line error.
  fs::remove(log);
  CHECK(run(fit(in, out, {"--part", "2/2"}), log) == 2);
  CHECK_THAT(read_text(log), Catch::Contains("i must be in 0..1"));
}

TEST_CASE("a shard whose run failed resumes its own part", "[split]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "2000", "-s", "32"}, log) == 0);
  const std::string single = dir.file("single.h5"), p0 = dir.file("p0.h5"), p1 = dir.file("p1.h5");
  REQUIRE(run(fit(in, single), log) == 0);
  REQUIRE(run(fit(in, p0, {"--part", "0/2"}), log) == 0);
  // Part 1 fails after 3 chunks (an injected full disk), then resumes.
  setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "3", 1);
  const int failed = run(fit(in, p1, {"--part", "1/2", "--chunk-size", "100"}), log);
  unsetenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER");
  REQUIRE(failed == 1);
  REQUIRE(fs::exists(p1 + ".journal"));
  // A resume must be of the same part.
  CHECK(run(fit(in, p1, {"--part", "0/2", "--chunk-size", "100", "--resume"}), log) == 1);
  CHECK_THAT(read_text(log), Catch::Contains("part: was 1/2, now 0/2"));
  fs::remove(log);
  REQUIRE(run(fit(in, p1, {"--part", "1/2", "--chunk-size", "100", "--resume"}), log) == 0);
  CHECK_THAT(read_text(log), Catch::Contains("resuming: 300 of 1000 problems recovered"));
  const std::string merged = dir.file("merged.h5");
  REQUIRE(run({"merge", p0, p1, "-o", merged}, log) == 0);
  lmbatch::test::check_identical_results(single, merged);
}

TEST_CASE("x0_from and starts: shards and a resumed shard give the single run's bits",
          "[split][seeding]") {
  // Every shard fits the aggregate of the whole input, not of its part: were
  // it its part's, the shards' starts and so their results would differ.
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "1200", "-s", "40", "--noise",
               "0.3"},
              log) == 0);
  const std::vector<std::string> seeding{"--x0-from", "mean", "--starts", "3"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), seeding.begin(), seeding.end());
    return more;
  };
  const std::string single = dir.file("single.h5"), p0 = dir.file("p0.h5"), p1 = dir.file("p1.h5");
  REQUIRE(run(fit(in, single, with({"--chunk-size", "128"})), log) == 0);
  REQUIRE(run(fit(in, p0, with({"--part", "0/2", "--chunk-size", "37"})), log) == 0);
  setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "2", 1);
  const int failed = run(fit(in, p1, with({"--part", "1/2", "--chunk-size", "100"})), log);
  unsetenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER");
  REQUIRE(failed == 1);
  // A resume must use the same seeding.
  CHECK(run(fit(in, p1, {"--part", "1/2", "--chunk-size", "100", "--resume"}), log) == 1);
  REQUIRE(run(fit(in, p1, with({"--part", "1/2", "--chunk-size", "100", "--resume"})), log) == 0);
  const std::string merged = dir.file("merged.h5");
  REQUIRE(run({"merge", p0, p1, "-o", merged}, log) == 0);
  lmbatch::test::check_identical_results(single, merged);
  const auto start = lmbatch::io::test::read_dataset<std::int32_t>(single, "/start");
  std::size_t from_mean = 0, perturbed = 0, estimate = 0;
  for (const std::int32_t code : start.values) {
    from_mean += code == 2;
    perturbed += code == 11 || code == 12;
    estimate += code == 0;
  }
  CHECK(from_mean + perturbed + estimate == 1200);
  CHECK(from_mean > 0);
  CHECK(perturbed > 0);
}

TEST_CASE("refine neighbours: shards cut mid-row and a resumed shard give the single run's bits",
          "[split][seeding]") {
  // Each shard refines its range and a halo of refine_passes rows: without
  // the halo, the pixels at a shard's edges would miss neighbours the single
  // run gives them.
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian*2+linear", "--shape", "24,30", "-s", "64", "--noise",
               "0.3"},
              log) == 0);
  auto refit = [&](const std::string& out, std::vector<std::string> more) {
    std::vector<std::string> a{"fit",
                               in,
                               "-o",
                               out,
                               "-m",
                               "gaussian*2+linear",
                               "--threads",
                               "2",
                               "--refine",
                               "neighbours",
                               "--refine-passes",
                               "2",
                               "--progress-interval",
                               "0"};
    a.insert(a.end(), more.begin(), more.end());
    return run(a, log);
  };
  const std::string single = dir.file("single.h5");
  REQUIRE(refit(single, {"--chunk-size", "50"}) == 0);
  std::vector<std::string> shards;
  for (int i = 0; i < 7; ++i) {  // 720 / 7: every shard starts and ends mid-row
    shards.push_back(dir.file("part" + std::to_string(i) + ".h5"));
    const std::vector<std::string> part{"--part", std::to_string(i) + "/7", "--chunk-size", "16"};
    if (i == 3) setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "2", 1);
    const int status = refit(shards.back(), part);
    unsetenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER");
    if (i == 3) {
      REQUIRE(status == 1);
      std::vector<std::string> again = part;
      again.push_back("--resume");
      REQUIRE(refit(shards.back(), again) == 0);
    } else {
      REQUIRE(status == 0);
    }
  }
  const std::string merged = dir.file("merged.h5");
  std::vector<std::string> merge{"merge"};
  merge.insert(merge.end(), shards.begin(), shards.end());
  merge.insert(merge.end(), {"-o", merged});
  REQUIRE(run(merge, log) == 0);
  lmbatch::test::check_identical_results(single, merged);
  const auto start = lmbatch::io::test::read_dataset<std::int32_t>(single, "/start");
  std::size_t refined = 0;
  for (const std::int32_t code : start.values) refined += code == 3;
  CHECK(refined > 0);
}

#ifdef LMBATCH_WITHOUT_MPI
TEST_CASE("a build without MPI refuses to run as several mpirun ranks", "[split]") {
  lmbatch::test::TempDir dir;
  const std::string in = dir.file("in.h5"), log = dir.file("log.txt");
  REQUIRE(run({"generate", in, "-m", "gaussian+linear", "--count", "10", "-s", "16"}, log) == 0);
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  const int status = run(fit(in, dir.file("out.h5")), log);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  CHECK(status == 1);
  CHECK_THAT(read_text(log), Catch::Contains("built without MPI"));
  CHECK_FALSE(fs::exists(dir.file("out.h5")));
}
#endif
