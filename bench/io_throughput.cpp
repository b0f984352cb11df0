// lmbatch_io_bench IN.h5 [chunk_size]: how fast the serial ends of the
// pipeline move problems, with no solving: the read stage (ProblemFile: y, x,
// sigma of IN.h5) and the write stage (journal + result file, as
// `lmbatch fit` and a cluster run's rank 0 do), for n = 5 and n = 11
// parameters, without and with full output, for each --compression. What
// bounds one writer (docs/scaling.md). Prints one Markdown table; results are
// random bits of the right sizes (compression sees noisy mantissas, like
// fitted values).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "lmbatch/batch/chunk.hpp"
#include "lmbatch/io/journal.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/result_file.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void fill_random(lmbatch::batch::Chunk& c, std::mt19937_64& rng) {
  std::normal_distribution<double> g(1.0, 0.1);
  for (auto* v : {&c.x_out, &c.cov_x, &c.cost, &c.std_error, &c.fvec, &c.fjac, &c.qtf})
    for (double& d : *v) d = g(rng);
  for (auto& k : c.nfev) k = 5 + static_cast<int>(rng() % 20);
  for (auto& k : c.njev) k = 4 + static_cast<int>(rng() % 10);
  for (auto& k : c.ier) k = 1;
  for (auto& k : c.m_valid) k = c.m;
  for (auto& k : c.ipvt) k = 1 + static_cast<int>(rng() % static_cast<unsigned>(c.n));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s IN.h5 [chunk_size]\n", argv[0]);
    return 2;
  }
  const std::string in = argv[1];
  const int chunk_size = argc > 2 ? std::stoi(argv[2]) : 1024;
  namespace io = lmbatch::io;
  namespace batch = lmbatch::batch;

  io::InputSpec spec;
  spec.path = in;
  io::ProblemFile input(spec, 5);
  const std::size_t total = input.problem_count();
  const int m = input.m();
  std::printf("%zu problems of %d samples from %s, chunks of %d\n\n", total, m, in.c_str(),
              chunk_size);
  std::printf(
      "| stage | n | full output | gzip | fits/s | MB/s (uncompressed) |\n"
      "|---|---:|---|---|---:|---:|\n");

  {  // read
    batch::Chunk c;
    c.reserve(chunk_size, m, 5, false);
    const auto t = Clock::now();
    for (std::size_t first = 0; first < total; first += static_cast<std::size_t>(chunk_size)) {
      const int count = static_cast<int>(std::min<std::size_t>(chunk_size, total - first));
      input.read(first, count, c);
    }
    const double s = seconds_since(t);
    std::printf("| read y (ProblemFile) | - | - | - | %.0f | %.1f |\n", total / s,
                total * m * 8.0 / s / 1e6);
  }

  std::mt19937_64 rng(1);
  const std::string out = (std::filesystem::temp_directory_path() / "lmbatch_io_bench.h5").string();
  for (const int n : {5, 11}) {
    for (const bool full : {false, true})
      for (const io::Compression gzip :
           {io::Compression::all, io::Compression::integers, io::Compression::none}) {
        io::OutputSpec o;
        o.compression = gzip;
        o.path = out;
        o.overwrite = true;
        o.full_output = full;
        o.leading_shape = input.leading_shape();
        o.m = m;
        o.n = n;
        batch::Chunk c;
        c.reserve(chunk_size, m, n, full);
        fill_random(c, rng);
        std::filesystem::remove(io::Journal::path_for(out));
        const auto t = Clock::now();
        io::ResultFile result(o);
        io::Journal journal =
            io::Journal::create(io::Journal::path_for(out), {}, m, n, full, total);
        for (std::size_t first = 0; first < total; first += static_cast<std::size_t>(chunk_size)) {
          c.first = first;
          c.count = static_cast<int>(std::min<std::size_t>(chunk_size, total - first));
          journal.append(c);
          result.write(c);
        }
        result.finish();
        journal.remove();
        const double s = seconds_since(t);
        const double per_fit =
            (n + n * n + 1 + n) * 8.0 + 14.0 + (full ? (m + n * m + n) * 8.0 + 4.0 * n : 0.0);
        std::printf("| write (journal + result file) | %d | %s | %s | %.0f | %.1f |\n", n,
                    full ? "yes" : "no",
                    gzip == io::Compression::all        ? "all"
                    : gzip == io::Compression::integers ? "integers"
                                                        : "none",
                    total / s, total * per_fit / s / 1e6);
      }
  }
  std::filesystem::remove(out);
  return 0;
}
