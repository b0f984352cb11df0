// Watching a running `lmbatch fit` make progress, for tests that interrupt it:
// the progress is the count of chunk records in its journal (OUT.h5.journal,
// io/journal.hpp), so a test signals the run at a point defined by work done,
// never by wall time (which lands before the journal exists on a fast machine
// and after the run ended on a slow one). Header-only: reads the journal's
// framing, not its results.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

namespace lmbatch::test {

// Counts the complete chunk records of a journal that may be growing (or be
// truncated by a resume) while it is read. The framing (io/journal.cpp):
//   header: "LMBJRNL3" (or "LMBJRNL2", an older lmbatch's), m:i32, n:i32, full:u8, total:u64,
//   first:u64,
//           text_size:u32, text, checksum:u64
//   record: magic:u32, first:u64, count:u32, size:u64, payload[size], checksum:u64
// A record counts once all its bytes are in the file and its header follows on
// from the one before; checksums are the resume's business (a torn last record
// is short, so it is never counted).
class JournalWatch {
 public:
  explicit JournalWatch(std::string path) : path_(std::move(path)) {}

  // Reads what was appended since the last call; returns the record count
  // (0 while the journal does not exist or its header is incomplete).
  std::size_t update() {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      reset();
      return 0;
    }
    struct stat st {};
    const off_t size = ::fstat(fd, &st) == 0 ? st.st_size : 0;
    if (size < end_) reset();  // a resume cut a torn tail we had not counted past
    if (end_ == 0) read_header(fd, size);
    if (end_ > 0) read_records(fd, size);
    ::close(fd);
    return records_;
  }

  std::size_t records() const { return records_; }

 private:
  static constexpr std::uint32_t kRecordMagic = 0x4C425243;
  static constexpr off_t kFixedHeader = 8 + 4 + 4 + 1 + 8 + 8 + 4;
  static constexpr off_t kRecordHeader = 4 + 8 + 4 + 8;

  void reset() {
    end_ = 0;
    records_ = 0;
  }

  static bool read_at(int fd, void* out, std::size_t bytes, off_t at) {
    return ::pread(fd, out, bytes, at) == static_cast<ssize_t>(bytes);
  }

  void read_header(int fd, off_t size) {
    unsigned char fixed[kFixedHeader];
    if (size < kFixedHeader || !read_at(fd, fixed, sizeof fixed, 0)) return;
    if (std::memcmp(fixed, "LMBJRNL3", 8) != 0 && std::memcmp(fixed, "LMBJRNL2", 8) != 0) return;
    std::uint32_t text_size = 0;
    std::memcpy(&text_size, fixed + 33, 4);
    std::memcpy(&next_first_, fixed + 25, 8);
    const off_t header_end = kFixedHeader + static_cast<off_t>(text_size) + 8;
    if (size >= header_end) end_ = header_end;
  }

  void read_records(int fd, off_t size) {
    unsigned char rh[kRecordHeader];
    while (end_ + kRecordHeader <= size && read_at(fd, rh, sizeof rh, end_)) {
      std::uint32_t magic = 0, count = 0;
      std::uint64_t first = 0, payload = 0;
      std::memcpy(&magic, rh, 4);
      std::memcpy(&first, rh + 4, 8);
      std::memcpy(&count, rh + 12, 4);
      std::memcpy(&payload, rh + 16, 8);
      const off_t record_end = end_ + kRecordHeader + static_cast<off_t>(payload) + 8;
      if (magic != kRecordMagic || first != next_first_ || count == 0 || record_end > size) return;
      end_ = record_end;
      next_first_ = first + count;
      ++records_;
    }
  }

  std::string path_;
  off_t end_ = 0;  // end of the last counted record (of the header before any)
  std::uint64_t next_first_ = 0;
  std::size_t records_ = 0;
};

// The complete records of the journal at path now (0 if it does not exist).
inline std::size_t journal_records(const std::string& path) {
  return JournalWatch(path).update();
}

// What ended a wait_for_records: the child reached the record count (it is
// still running, or has just exited: signal it and look at its status), or it
// exited before (a valid outcome: it finished, or failed).
struct Watched {
  bool exited = false;
  int status = 0;           // when exited: as wait_status reports it
  std::size_t records = 0;  // the journal's records at the last look
};

// Waits until the journal of the running child pid holds at least records
// complete records, or the child exits. It waits for either event, however
// long the run takes: no time limit decides the outcome. Between looks it
// gives up the CPU for a moment so that the child (maybe on the same core)
// runs; how long that moment is changes only how many records may be
// appended between the look that sees the target and the caller's signal.
inline Watched wait_for_records(pid_t pid, const std::string& journal, std::size_t records) {
  JournalWatch watch(journal);
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return {true, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
              watch.update()};
    if (watch.update() >= records) return {false, 0, watch.records()};
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace lmbatch::test
