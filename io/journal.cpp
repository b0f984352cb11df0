#include "lmbatch/io/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "lmbatch/batch/result_codec.hpp"
#include "lmbatch/io/hdf5.hpp"

namespace lmbatch::io {
namespace {

// Version 2: the header holds the first problem of the run (a --part shard
// starts past 0). Version 3: records are checked with record_hash, not
// fnv1a; a version 2 journal (an lmbatch from before) is still resumed, and
// appended to, with fnv1a.
constexpr char kMagic[8] = {'L', 'M', 'B', 'J', 'R', 'N', 'L', '3'};
constexpr char kMagicV2[8] = {'L', 'M', 'B', 'J', 'R', 'N', 'L', '2'};
constexpr std::uint32_t kRecordMagic = 0x4C425243;  // "CRBL"

// FNV-1a, 64 bit: detects a torn or garbled record (not an adversary).
std::uint64_t fnv1a(const unsigned char* p, std::size_t size,
                    std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

// A record's checksum since version 3: FNV-1a's step on 64-bit words in
// four lanes, each step followed by a xor-shift (so that a word's high bits
// reach the low ones), the lanes and the tail bytes folded with fnv1a's
// step. FNV-1a a byte at a time (a dependent multiply per byte) was most of
// what writing results cost: 1.5k instructions per fit of workload 1, this is
// about a tenth of that. Still a check for torn or garbled records, not
// against an adversary.
std::uint64_t record_hash(const unsigned char* p, std::size_t size, std::uint64_t seed) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t lane[4] = {seed, seed ^ 0x9E3779B97F4A7C15ULL, seed ^ 0xC2B2AE3D27D4EB4FULL,
                           seed ^ 0x165667B19E3779F9ULL};
  std::size_t i = 0;
  for (; i + 32 <= size; i += 32)
    for (int l = 0; l < 4; ++l) {
      std::uint64_t w;
      std::memcpy(&w, p + i + 8 * l, 8);
      lane[l] = (lane[l] ^ w) * kPrime;
      lane[l] ^= lane[l] >> 29;
    }
  std::uint64_t h = fnv1a(p + i, size - i, seed);
  for (const std::uint64_t v : lane) {
    h = (h ^ v) * kPrime;
    h ^= h >> 29;
  }
  return h;
}

template <class T>
void put(std::vector<unsigned char>& out, const T& v) {
  const auto* p = reinterpret_cast<const unsigned char*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}
std::string errno_text() {
  return std::strerror(errno);
}

bool write_all(int fd, const unsigned char* p, std::size_t size) {
  while (size > 0) {
    const ssize_t w = ::write(fd, p, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    size -= static_cast<std::size_t>(w);
  }
  return true;
}

// Reads exactly size bytes; false at end of file or on error.
bool read_all(int fd, unsigned char* p, std::size_t size) {
  while (size > 0) {
    const ssize_t r = ::read(fd, p, size);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    size -= static_cast<std::size_t>(r);
  }
  return true;
}

std::vector<unsigned char> header_bytes(const Fingerprint& fp, int m, int n, bool full,
                                        std::size_t total, std::size_t first) {
  std::vector<unsigned char> h(kMagic, kMagic + 8);
  put(h, static_cast<std::int32_t>(m));
  put(h, static_cast<std::int32_t>(n));
  put(h, static_cast<std::uint8_t>(full));
  put(h, static_cast<std::uint64_t>(total));
  put(h, static_cast<std::uint64_t>(first));
  const std::string text = fp.text();
  put(h, static_cast<std::uint32_t>(text.size()));
  h.insert(h.end(), text.begin(), text.end());
  put(h, fnv1a(h.data(), h.size()));
  return h;
}

std::vector<std::pair<std::string, std::string>> parse_fingerprint(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    const std::size_t end = text.find('\n', begin);
    const std::string line = text.substr(begin, end - begin);
    const std::size_t eq = line.find('=');
    out.emplace_back(line.substr(0, eq), eq == std::string::npos ? "" : line.substr(eq + 1));
    begin = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

}  // namespace

std::string Fingerprint::text() const {
  std::string t;
  for (const auto& [k, v] : entries) t += k + "=" + v + "\n";
  return t;
}

Journal::Journal(Journal&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::exchange(o.fd_, -1)),
      m_(o.m_),
      n_(o.n_),
      full_(o.full_),
      done_(o.done_),
      buffer_(std::move(o.buffer_)),
      unsynced_(std::exchange(o.unsynced_, 0)),
      byte_hash_(o.byte_hash_) {}

Journal& Journal::operator=(Journal&& o) noexcept {
  if (this != &o) {
    release();
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    m_ = o.m_;
    n_ = o.n_;
    full_ = o.full_;
    done_ = o.done_;
    buffer_ = std::move(o.buffer_);
    unsynced_ = std::exchange(o.unsynced_, 0);
    byte_hash_ = o.byte_hash_;
  }
  return *this;
}

Journal::~Journal() {
  release();
}

void Journal::release() noexcept {
  if (fd_ < 0) return;
  // An interrupted run (a stop, an error) leaves its journal to resume from:
  // make what was written durable; a failure here only means more to redo.
  if (unsynced_ > 0) ::fdatasync(fd_);
  ::close(fd_);
  fd_ = -1;
}

Journal Journal::create(const std::string& path, const Fingerprint& fp, int m, int n, bool full,
                        std::size_t total, std::size_t first) {
  Journal j;
  j.done_ = first;
  j.path_ = path;
  j.m_ = m;
  j.n_ = n;
  j.full_ = full;
  j.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (j.fd_ < 0) {
    if (errno == EEXIST)
      throw Error(path, "",
                  "an interrupted run left this journal; resume it with --resume, or start over "
                  "with --overwrite");
    throw Error(path, "", "cannot create the journal: " + errno_text());
  }
  const auto h = header_bytes(fp, m, n, full, total, first);
  if (!write_all(j.fd_, h.data(), h.size()) || ::fdatasync(j.fd_) != 0)
    throw Error(path, "", "cannot write the journal: " + errno_text());
  return j;
}

Journal Journal::resume(const std::string& path, const Fingerprint& fp, int m, int n, bool full,
                        std::size_t total, std::size_t first,
                        const std::function<void(const batch::Chunk&)>& replay) {
  Journal j;
  j.done_ = first;
  j.path_ = path;
  j.m_ = m;
  j.n_ = n;
  j.full_ = full;
  j.fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (j.fd_ < 0) {
    if (errno == ENOENT)
      throw Error(path, "", "no journal to resume from (was the run started with this output?)");
    throw Error(path, "", "cannot open the journal: " + errno_text());
  }
  // Header: compare it field by field so the message names what differs.
  unsigned char fixed[8 + 4 + 4 + 1 + 8 + 8 + 4];
  if (!read_all(j.fd_, fixed, sizeof fixed) ||
      (std::memcmp(fixed, kMagic, 8) != 0 && std::memcmp(fixed, kMagicV2, 8) != 0))
    throw Error(path, "", "not an lmbatch journal, or its header is damaged");
  j.byte_hash_ = std::memcmp(fixed, kMagicV2, 8) == 0;
  std::int32_t jm, jn;
  std::uint8_t jfull;
  std::uint64_t jtotal, jfirst;
  std::uint32_t text_size;
  std::memcpy(&jm, fixed + 8, 4);
  std::memcpy(&jn, fixed + 12, 4);
  std::memcpy(&jfull, fixed + 16, 1);
  std::memcpy(&jtotal, fixed + 17, 8);
  std::memcpy(&jfirst, fixed + 25, 8);
  std::memcpy(&text_size, fixed + 33, 4);
  if (text_size > (1u << 20)) throw Error(path, "", "the journal's header is damaged");
  std::string text(text_size, '\0');
  std::uint64_t stored_sum = 0;
  if (!read_all(j.fd_, reinterpret_cast<unsigned char*>(text.data()), text_size) ||
      !read_all(j.fd_, reinterpret_cast<unsigned char*>(&stored_sum), 8))
    throw Error(path, "", "the journal's header is truncated");
  std::vector<unsigned char> hdr(fixed, fixed + sizeof fixed);
  hdr.insert(hdr.end(), text.begin(), text.end());
  if (fnv1a(hdr.data(), hdr.size()) != stored_sum)
    throw Error(path, "", "the journal's header is damaged (checksum)");

  std::string differences;
  const auto was = parse_fingerprint(text);
  for (const auto& [key, value] : fp.entries) {
    std::string old = "(absent)";
    for (const auto& [k, v] : was)
      if (k == key) old = v;
    if (old != value) differences += "\n  " + key + ": was " + old + ", now " + value;
  }
  for (const auto& [k, v] : was) {
    bool present = false;
    for (const auto& e : fp.entries) present = present || e.first == k;
    if (!present) differences += "\n  " + k + ": was " + v + ", now (absent)";
  }
  if (jm != m || jn != n || (jfull != 0) != full || jtotal != total || jfirst != first)
    differences += "\n  sizes: was m=" + std::to_string(jm) + " n=" + std::to_string(jn) +
                   " full_output=" + std::to_string(jfull) + " problems=" + std::to_string(jtotal) +
                   " first=" + std::to_string(jfirst) + ", now m=" + std::to_string(m) +
                   " n=" + std::to_string(n) + " full_output=" + std::to_string(full) +
                   " problems=" + std::to_string(total) + " first=" + std::to_string(first);
  if (!differences.empty())
    throw Error(path, "",
                "refusing to resume: this run differs from the interrupted one:" + differences +
                    "\n(run it as before, or start over with --overwrite)");

  // Records: replay every intact one; the first bad one and all after it
  // are a torn tail (the journal is written in order; after a crash of the
  // machine any record since the last fdatasync may be lost or damaged).
  off_t good_end = ::lseek(j.fd_, 0, SEEK_CUR);
  batch::Chunk chunk;
  std::vector<unsigned char> payload;
  for (;;) {
    unsigned char rh[4 + 8 + 4 + 8];
    if (!read_all(j.fd_, rh, sizeof rh)) break;
    std::uint32_t magic, count;
    std::uint64_t first, size;
    std::memcpy(&magic, rh, 4);
    std::memcpy(&first, rh + 4, 8);
    std::memcpy(&count, rh + 12, 4);
    std::memcpy(&size, rh + 16, 8);
    if (magic != kRecordMagic || first != j.done_ || count == 0 || first + count > total) break;
    chunk.reserve(static_cast<int>(count), m, n, full);
    chunk.first = first;
    chunk.count = static_cast<int>(count);
    if (size != batch::encoded_result_bytes(count, m, n, full)) break;
    payload.resize(size);
    std::uint64_t sum = 0;
    if (!read_all(j.fd_, payload.data(), size) ||
        !read_all(j.fd_, reinterpret_cast<unsigned char*>(&sum), 8))
      break;
    if (j.record_sum(payload.data(), size, fnv1a(rh, sizeof rh)) != sum) break;
    batch::decode_results(payload.data(), size, chunk);
    replay(chunk);
    j.done_ = first + count;
    good_end = ::lseek(j.fd_, 0, SEEK_CUR);
  }
  if (::ftruncate(j.fd_, good_end) != 0 || ::lseek(j.fd_, good_end, SEEK_SET) != good_end ||
      ::fdatasync(j.fd_) != 0)
    throw Error(path, "", "cannot truncate the journal's torn tail: " + errno_text());
  return j;
}

void Journal::append(const batch::Chunk& c) {
  if (c.first != done_)
    throw Error(path_, "",
                "chunk out of order: problems from " + std::to_string(c.first) + ", expected " +
                    std::to_string(done_));
  // One allocation for the record (the inserts below would grow it step by
  // step, each step fresh memory to fault in), kept for the next chunk.
  buffer_.clear();
  buffer_.reserve(4 + 8 + 4 + 8 +
                  batch::encoded_result_bytes(static_cast<std::size_t>(c.count), m_, n_, full_) +
                  8);
  put(buffer_, kRecordMagic);
  put(buffer_, static_cast<std::uint64_t>(c.first));
  put(buffer_, static_cast<std::uint32_t>(c.count));
  const std::size_t size_at = buffer_.size();
  put(buffer_, std::uint64_t{0});
  const std::size_t payload_at = buffer_.size();
  if (c.m != m_ || c.n != n_ || c.full_output != full_)
    throw Error(path_, "", "chunk does not match the journal's sizes");
  batch::encode_results(c, buffer_);
  const std::uint64_t size = buffer_.size() - payload_at;
  std::memcpy(buffer_.data() + size_at, &size, 8);
  const std::uint64_t sum =
      record_sum(buffer_.data() + payload_at, size, fnv1a(buffer_.data(), payload_at));
  put(buffer_, sum);
  if (!write_all(fd_, buffer_.data(), buffer_.size()))
    throw Error(path_, "", "cannot write the journal (disk full?): " + errno_text());
  unsynced_ += buffer_.size();
  if (unsynced_ >= kSyncBytes) sync();
  done_ += static_cast<std::size_t>(c.count);
}

void Journal::sync() {
  if (fd_ < 0 || unsynced_ == 0) return;
  if (::fdatasync(fd_) != 0)
    throw Error(path_, "", "cannot write the journal (disk full?): " + errno_text());
  unsynced_ = 0;
}

std::uint64_t Journal::record_sum(const unsigned char* p, std::size_t size,
                                  std::uint64_t seed) const {
  return byte_hash_ ? fnv1a(p, size, seed) : record_hash(p, size, seed);
}

void Journal::remove() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
    throw Error(path_, "", "cannot remove the journal: " + errno_text());
}

}  // namespace lmbatch::io
