// The durable record of a run's finished chunks, beside its output
// (OUT.h5.journal): what `lmbatch fit --resume` rebuilds the output from after
// a kill at any point.
//
// Why a journal and not the HDF5 file itself: HDF5 1.10 keeps metadata in
// caches and rewrites it in place, so a process killed during a write or flush
// can leave the whole file unreadable. The journal is append-only: a header
// (the run's fingerprint and sizes), then one record per chunk, in problem
// order, each with a checksum. A killed process loses nothing the journal was
// given (the kernel holds it) and can only tear the last record, which a
// resume detects and drops. A crash of the machine loses what was not yet made
// durable: the journal calls fdatasync every kSyncBytes (and when it is closed
// unfinished), not per record, because a sync per 1024-problem chunk cost more
// wall time than the solving on small problems (measured: 21 syncs, 44 ms, for
// 20000 gaussians that solve in 130 ms). A resume keeps the intact prefix of
// the records, so after a crash it redoes at most that much work. The results
// are the exact bytes the solver produced, so a resumed output is
// bit-identical to an uninterrupted one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "lmbatch/batch/chunk.hpp"

namespace lmbatch::io {

// What makes two runs the same run: every key=value must match to resume.
struct Fingerprint {
  std::vector<std::pair<std::string, std::string>> entries;
  std::string text() const;  // "key=value\n" lines
};

class Journal {
 public:
  static std::string path_for(const std::string& output) { return output + ".journal"; }

  // Starts a new journal at path for problems [first, problem_count) (first
  // is past 0 for a --part shard); throws Error if one exists (an interrupted
  // run: resume it or remove it).
  static Journal create(const std::string& path, const Fingerprint& fingerprint, int m, int n,
                        bool full_output, std::size_t problem_count, std::size_t first = 0);

  // Opens the journal of an interrupted run: throws Error if it is missing,
  // unreadable, or its fingerprint or sizes differ from this run's (naming
  // every difference). Replays each intact record, in order, through replay
  // (the chunk holds the results of problems [first, first + count)), drops a
  // torn last record, and leaves the journal ready to append.
  static Journal resume(const std::string& path, const Fingerprint& fingerprint, int m, int n,
                        bool full_output, std::size_t problem_count, std::size_t first,
                        const std::function<void(const batch::Chunk&)>& replay);

  Journal(Journal&&) noexcept;
  Journal& operator=(Journal&&) noexcept;
  ~Journal();

  // Appends the chunk's results (durable once kSyncBytes have gathered, or at
  // sync()). Chunks must come in order: chunk.first == done().
  void append(const batch::Chunk& chunk);
  // Makes every appended record durable (fdatasync); throws Error if it cannot.
  void sync();
  // Unsynced bytes after which append() syncs.
  static constexpr std::size_t kSyncBytes = std::size_t{16} << 20;
  std::size_t done() const noexcept { return done_; }
  // Closes and deletes the journal (after the output was finished).
  void remove();

 private:
  Journal() = default;
  std::string path_;
  int fd_ = -1;
  int m_ = 0, n_ = 0;
  bool full_ = false;
  std::size_t done_ = 0;
  std::vector<unsigned char> buffer_;
  std::size_t unsynced_ = 0;  // bytes written since the last fdatasync
  bool byte_hash_ = false;    // a version 2 journal: records checked with FNV-1a bytewise
  std::uint64_t record_sum(const unsigned char* p, std::size_t size, std::uint64_t seed) const;
  // Closes the file (if open), syncing what was appended since the last sync.
  void release() noexcept;
};

}  // namespace lmbatch::io
