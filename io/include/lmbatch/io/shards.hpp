// Split runs for sites without MPI (SLURM array jobs): `lmbatch fit --part
// i/N` solves the i-th of N contiguous ranges of problems into a shard (a
// result file of the full shape, holding only its range), and `lmbatch
// merge` joins the N shards into the output one run over every problem gives
// (the same bits in every result dataset). See docs/cluster.md.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace lmbatch::io {

struct Part {
  std::size_t index = 0;  // 0-based: i of "i/N"
  std::size_t count = 1;  // N
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// "i/N" with 0 <= i < N; throws std::invalid_argument naming what is wrong.
Part parse_part(const std::string& text);

// The problems of a part: [total * i / N, total * (i + 1) / N).
std::pair<std::size_t, std::size_t> part_range(std::size_t total, const Part& part);

// Root attributes a shard carries besides a normal output's.
inline constexpr const char* kPartAttribute = "part";              // "i/N"
inline constexpr const char* kPartFirstAttribute = "part_first";   // first problem
inline constexpr const char* kPartEndAttribute = "part_end";       // one past the last
// Everything that decides the results (input, model, options), as text:
// shards merge only when theirs are equal.
inline constexpr const char* kFingerprintAttribute = "run_fingerprint";

struct MergeSummary {
  std::size_t problems = 0;
  std::size_t shards = 0;
};

// Joins the shards of one split run into output (written as output.partial,
// renamed when complete; an existing output is replaced only with
// overwrite). Throws Error naming the shard and what is wrong: not a shard,
// a different run (fingerprint, shape, part count), a part missing or given
// twice. virtual_output: instead of copying, every result dataset of output
// is an HDF5 virtual dataset over the shards (instant whatever the size; the
// shards must stay where they are, paths relative to output's directory).
MergeSummary merge_shards(const std::vector<std::string>& shards, const std::string& output,
                          bool overwrite, bool virtual_output = false);

}  // namespace lmbatch::io
