// Journal: the record checksum of version 3 journals, and resuming (and
// appending to) a version 2 journal, whose records are checked with FNV-1a
// a byte at a time. The version 2 file is made here from the framing
// (io/journal.cpp) with the textbook FNV-1a, independently of the journal's
// own code.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>

#include "h5_test_files.hpp"
#include "lmbatch/batch/result_codec.hpp"
#include "lmbatch/io/journal.hpp"

using lmbatch::batch::Chunk;
using lmbatch::io::Fingerprint;
using lmbatch::io::Journal;
using namespace lmbatch::io::test;

namespace {

constexpr int kM = 6, kN = 3;
constexpr std::size_t kTotal = 30;

// FNV-1a, 64 bit, as published (Fowler, Noll, Vo).
std::uint64_t fnv1a(const unsigned char* p, std::size_t size,
                    std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

// A chunk of `count` problems from `first` with arbitrary result bytes.
Chunk results(std::size_t first, int count, unsigned seed) {
  Chunk c;
  c.reserve(count, kM, kN, false);
  c.first = first;
  c.count = count;
  c.m = kM;
  c.n = kN;
  std::vector<unsigned char> bytes(
      lmbatch::batch::encoded_result_bytes(static_cast<std::size_t>(count), kM, kN, false));
  std::mt19937 rng(seed);
  for (auto& b : bytes) b = static_cast<unsigned char>(rng() % 7);  // small values, no NaN
  lmbatch::batch::decode_results(bytes.data(), bytes.size(), c);
  return c;
}

std::vector<unsigned char> encoded(const Chunk& c) {
  std::vector<unsigned char> out;
  lmbatch::batch::encode_results(c, out);
  return out;
}

std::vector<unsigned char> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

const Fingerprint kPrint{{{"model", "gaussian"}, {"ftol", "1e-8"}}};

std::vector<std::vector<unsigned char>> replayed(const std::string& path) {
  std::vector<std::vector<unsigned char>> got;
  Journal::resume(path, kPrint, kM, kN, false, kTotal, 0,
                  [&](const Chunk& c) { got.push_back(encoded(c)); });
  return got;
}

}  // namespace

TEST_CASE("a journal replays its records bit for bit and drops a garbled one",
          "[io][journal][resume]") {
  TempDir dir;
  const std::string path = dir.file("out.h5.journal");
  const Chunk a = results(0, 10, 1), b = results(10, 10, 2);
  {
    Journal j = Journal::create(path, kPrint, kM, kN, false, kTotal);
    j.append(a);
    j.append(b);
  }
  auto got = replayed(path);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == encoded(a));
  CHECK(got[1] == encoded(b));

  // One bit of the second record's payload flipped (its last 8 bytes are the
  // checksum; a payload double sits before them): the record is dropped.
  auto bytes = file_bytes(path);
  bytes[bytes.size() - 8 - 13] ^= 0x10;
  write_bytes(path, bytes);
  got = replayed(path);
  REQUIRE(got.size() == 1);
  CHECK(got[0] == encoded(a));
}

TEST_CASE("a version 2 journal (records checked with FNV-1a) is resumed and appended to",
          "[io][journal][resume]") {
  TempDir dir;
  const std::string path = dir.file("out.h5.journal");
  const Chunk a = results(0, 10, 3), b = results(10, 10, 4), c = results(20, 10, 5);
  {
    Journal j = Journal::create(path, kPrint, kM, kN, false, kTotal);
    j.append(a);
    j.append(b);
  }
  // Rewrite it as version 2: the magic, the header's checksum and each
  // record's, with FNV-1a bytewise.
  auto bytes = file_bytes(path);
  REQUIRE(std::memcmp(bytes.data(), "LMBJRNL3", 8) == 0);
  bytes[7] = '2';
  std::uint32_t text_size = 0;
  std::memcpy(&text_size, bytes.data() + 33, 4);
  std::size_t at = 37 + text_size;
  const std::uint64_t header_sum = fnv1a(bytes.data(), at);
  std::memcpy(bytes.data() + at, &header_sum, 8);
  at += 8;
  for (int r = 0; r < 2; ++r) {
    std::uint64_t size = 0;
    std::memcpy(&size, bytes.data() + at + 16, 8);
    const std::uint64_t sum = fnv1a(bytes.data() + at + 24, size, fnv1a(bytes.data() + at, 24));
    std::uint64_t v3_sum = 0;
    std::memcpy(&v3_sum, bytes.data() + at + 24 + size, 8);
    CHECK(v3_sum != sum);  // the two versions' checksums differ
    std::memcpy(bytes.data() + at + 24 + size, &sum, 8);
    at += 24 + size + 8;
  }
  REQUIRE(at == bytes.size());
  write_bytes(path, bytes);

  std::vector<std::vector<unsigned char>> got;
  {
    Journal j = Journal::resume(path, kPrint, kM, kN, false, kTotal, 0,
                                [&](const Chunk& ch) { got.push_back(encoded(ch)); });
    REQUIRE(got.size() == 2);
    CHECK(got[0] == encoded(a));
    CHECK(got[1] == encoded(b));
    CHECK(j.done() == 20);
    j.append(c);  // still version 2: checked with FNV-1a
  }
  bytes = file_bytes(path);
  CHECK(bytes[7] == '2');
  std::uint64_t size = 0, sum = 0;
  std::memcpy(&size, bytes.data() + at + 16, 8);
  std::memcpy(&sum, bytes.data() + at + 24 + size, 8);
  CHECK(sum == fnv1a(bytes.data() + at + 24, size, fnv1a(bytes.data() + at, 24)));
  got = replayed(path);
  REQUIRE(got.size() == 3);
  CHECK(got[2] == encoded(c));
}
