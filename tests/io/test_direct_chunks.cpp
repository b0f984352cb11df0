// DirectChunks: chunks read raw and decoded by lmbatch (io/direct_chunks.cpp)
// must give HDF5's own values, bit for bit, and hand back to H5Dread whatever
// they do not expect. The reference is HDF5: each file is written through its
// filter pipeline (shuffle, deflate) and read back whole with H5Dread.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "../support/check.hpp"
#include "h5_test_files.hpp"
#include "lmbatch/io/direct_chunks.hpp"
#include "lmbatch/io/problem_file.hpp"

using lmbatch::batch::Chunk;
using lmbatch::io::DirectChunks;
using lmbatch::io::Error;
using lmbatch::io::InputSpec;
using lmbatch::io::ProblemFile;
using namespace lmbatch::io::test;
using lmbatch::test::same_bits;

namespace {

enum Filters { kNone = 0, kShuffle = 1, kDeflate = 2 };

// A dataset of `type` with the given filters, written from doubles by HDF5
// (which converts to float32 where asked). Values: noisy, with NaN and -0.
// Integers: uniform over the type's whole range, with its two ends and 0;
// for 64 bits most values lie beyond 2^53 and round when widened.
template <class T>
std::vector<T> test_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> v(n);
  if constexpr (std::is_integral_v<T>) {
    std::uniform_int_distribution<std::int64_t> any(std::numeric_limits<std::int64_t>::min());
    for (T& x : v) x = static_cast<T>(any(rng));  // modulo 2^bits: uniform over T
    if (n > 3) {
      v[1] = std::numeric_limits<T>::min();
      v[2] = std::numeric_limits<T>::max();
      v[n - 1] = 0;
    }
  } else {
    std::normal_distribution<double> normal(1.0, 0.3);
    for (T& x : v) x = static_cast<T>(normal(rng));
    if (n > 3) {
      v[1] = std::numeric_limits<T>::quiet_NaN();
      v[2] = -T(0);
      v[n - 1] = std::numeric_limits<T>::infinity();
    }
  }
  return v;
}

template <class T>
void write_filtered(const std::string& path, const std::string& name,
                    const std::vector<hsize_t>& dims, const std::vector<hsize_t>& chunk,
                    int filters, const std::vector<T>& values) {
  h5::File file = open_rw(path);
  h5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  if (filters & kShuffle) H5Pset_shuffle(dcpl.get());
  if (filters & kDeflate) H5Pset_deflate(dcpl.get(), 1);
  h5::Dataset ds(H5Dcreate2(file.get(), name.c_str(), native_type<T>(), space.get(), H5P_DEFAULT,
                            dcpl.get(), H5P_DEFAULT));
  REQUIRE(ds);
  REQUIRE(H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) >= 0);
}

struct Opened {
  h5::File file;
  h5::Dataset ds;
};

Opened open_dataset(const std::string& path, const std::string& name) {
  Opened o;
  o.file = h5::File(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  o.ds = h5::Dataset(H5Dopen2(o.file.get(), name.c_str(), H5P_DEFAULT));
  return o;
}

// The whole dataset as doubles, through HDF5's pipeline and conversion.
std::vector<double> hdf5_values(hid_t ds) {
  h5::Dataspace space(H5Dget_space(ds));
  std::vector<double> v(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  REQUIRE(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
  return v;
}

std::size_t product(const std::vector<hsize_t>& d) {
  return std::accumulate(d.begin(), d.end(), std::size_t{1}, std::multiplies<>());
}

}  // namespace

TEST_CASE("unshuffle inverts the byte planes of HDF5's shuffle filter", "[io][direct_chunks]") {
  std::mt19937 rng(7);
  for (const std::size_t size : {1, 2, 4, 8}) {
    for (const std::size_t elements : {1, 15, 16, 17, 31, 32, 33, 100}) {
      std::vector<std::uint8_t> plain(elements * size);
      for (auto& b : plain) b = static_cast<std::uint8_t>(rng());
      std::vector<std::uint8_t> shuffled(plain.size());
      for (std::size_t i = 0; i < elements; ++i)
        for (std::size_t b = 0; b < size; ++b) shuffled[b * elements + i] = plain[i * size + b];
      for (std::size_t first = 0; first < elements; first += 7)
        for (std::size_t count = 0; first + count <= elements; count += 5) {
          std::vector<std::uint8_t> out(count * size + 1, 0xAB);
          lmbatch::io::unshuffle(shuffled.data(), elements, size, first, count, out.data());
          INFO("size " << size << " elements " << elements << " first " << first << " count "
                       << count);
          REQUIRE(std::memcmp(out.data(), plain.data() + first * size, count * size) == 0);
          REQUIRE(out.back() == 0xAB);  // nothing written past the range
        }
    }
  }
}

TEST_CASE("adler32 is zlib's, at every length and on the bytes that overflow",
          "[io][direct_chunks]") {
  std::mt19937 rng(11);
  std::vector<std::uint8_t> random(300000);
  for (auto& b : random) b = static_cast<std::uint8_t>(rng());
  std::vector<std::uint8_t> ones(3 << 20, 0xFF);  // the largest sums, 3 MiB
  for (const std::vector<std::uint8_t>* buf : {&random, &ones}) {
    std::vector<std::size_t> lengths;
    for (std::size_t n = 0; n <= 70; ++n) lengths.push_back(n);
    for (std::size_t n : {16383, 16384, 16385, 16400, 65536 + 5, 299999})
      lengths.push_back(std::min(n, buf->size()));
    lengths.push_back(buf->size());
    for (const std::size_t n : lengths)
      for (const std::uint32_t start : {1u, 0xFFF0FFF0u % 65521u, 0x1234ABCDu % (65521u << 16)}) {
        INFO("length " << n << " start " << start << " all 0xFF " << (buf == &ones));
        REQUIRE(lmbatch::io::adler32(buf->data(), n, start) ==
                ::adler32(start, buf->data(), static_cast<uInt>(n)));
      }
  }
}

TEST_CASE("direct reads give HDF5's values for every filter combination, type and shape",
          "[io][direct_chunks]") {
  struct Shape {
    std::vector<hsize_t> dims, chunk;
  };
  // Chunks that are runs of the flat order: every dimension but the first
  // whole, or those after one whole and those before it 1 (a stack of
  // images, an image row cut in pieces); edge chunks partly outside the
  // extent; a rank-1 dataset (one problem).
  const std::vector<Shape> shapes = {{{37, 5}, {8, 5}},
                                     {{40, 3}, {40, 3}},
                                     {{3, 7, 6}, {2, 7, 6}},
                                     {{11, 4, 2}, {3, 4, 2}},
                                     {{50}, {16}},
                                     {{3, 5, 7, 4}, {1, 2, 7, 4}},
                                     {{4, 23, 3}, {1, 8, 3}},
                                     {{2, 3, 9, 2}, {1, 1, 4, 2}},
                                     {{2, 6, 5}, {1, 6, 5}}};
  // Every type the reader takes, written natively (HDF5 is the reference
  // for its own conversion to double).
  const auto write_type = [](int type, const std::string& path, const Shape& s, int filters,
                             unsigned seed) {
    const auto write = [&](auto zero) {
      using T = decltype(zero);
      write_filtered<T>(path, "/v", s.dims, s.chunk, filters,
                        test_values<T>(product(s.dims), seed));
    };
    switch (type) {
      case 0:
        return write(double{});
      case 1:
        return write(float{});
      case 2:
        return write(std::int8_t{});
      case 3:
        return write(std::uint8_t{});
      case 4:
        return write(std::int16_t{});
      case 5:
        return write(std::uint16_t{});
      case 6:
        return write(std::int32_t{});
      case 7:
        return write(std::uint32_t{});
      case 8:
        return write(std::int64_t{});
      default:
        return write(std::uint64_t{});
    }
  };
  TempDir dir;
  int no = 0;
  for (const int filters : {0, 1, 2, 3})  // none, shuffle, deflate, both
    for (int type = 0; type < 10; ++type)
      for (const Shape& s : shapes) {
        const std::string path = dir.file("d" + std::to_string(no++) + ".h5");
        const std::size_t n = product(s.dims);
        write_type(type, path, s, filters, static_cast<unsigned>(no));
        Opened o = open_dataset(path, "/v");
        const std::vector<double> want = hdf5_values(o.ds.get());
        for (const auto inflater : {DirectChunks::Inflater::best, DirectChunks::Inflater::zlib}) {
          auto direct = DirectChunks::open(o.ds.get(), std::size_t{1} << 20, inflater);
          INFO("zlib " << (inflater == DirectChunks::Inflater::zlib) << " filters " << filters
                       << " type " << type << " rank " << s.dims.size() << " dims[0] "
                       << s.dims[0]);
          REQUIRE(direct);
          // Ranges of several lengths, in order (the engine's sweep) and then
          // backwards (a resumed run, another chunk held each time).
          for (const std::size_t len : {std::size_t{1}, std::size_t{7}, std::size_t{64}, n}) {
            std::vector<double> got(n, -1.0);
            for (std::size_t first = 0; first < n; first += len) {
              const std::size_t count = std::min(len, n - first);
              REQUIRE(direct->read(first, count, got.data() + first));
            }
            REQUIRE(same_bits(got, want));
            std::vector<double> back(n, -1.0);
            for (std::size_t end = n; end > 0;) {
              const std::size_t first = end > len ? end - len : 0;
              REQUIRE(direct->read(first, end - first, back.data() + first));
              end = first;
            }
            REQUIRE(same_bits(back, want));
          }
        }
      }
}

TEST_CASE("direct reads decline what they do not decode", "[io][direct_chunks]") {
  TempDir dir;
  const std::string path = dir.file("declined.h5");
  const std::vector<double> v = test_values<double>(60, 1);
  write_filtered<double>(path, "/part_row", {10, 6}, {5, 3}, kDeflate, v);    // rows split
  write_filtered<double>(path, "/tiles", {2, 5, 6}, {2, 2, 6}, kDeflate, v);  // 2x2 tiles
  {
    // Integers in the other byte order: HDF5 swaps them.
    h5::File file = open_rw(path);
    const hsize_t dims[2] = {10, 6}, chunk[2] = {5, 6};
    h5::Dataspace space(H5Screate_simple(2, dims, nullptr));
    h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 2, chunk);
    H5Pset_deflate(dcpl.get(), 1);
    const hid_t other_order =
        H5Tget_order(H5T_NATIVE_INT32) == H5T_ORDER_LE ? H5T_STD_I32BE : H5T_STD_I32LE;
    h5::Dataset ds(H5Dcreate2(file.get(), "/int_swapped", other_order, space.get(), H5P_DEFAULT,
                              dcpl.get(), H5P_DEFAULT));
    const std::vector<std::int32_t> three(60, 3);
    REQUIRE(H5Dwrite(ds.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, three.data()) >= 0);
  }
  write_dataset<double>(path, "/contiguous", {10, 6}, v);
  {
    h5::File file = open_rw(path);
    const hsize_t dims[2] = {10, 6}, chunk[2] = {5, 6};
    h5::Dataspace space(H5Screate_simple(2, dims, nullptr));
    h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 2, chunk);
    H5Pset_fletcher32(dcpl.get());
    h5::Dataset ds(H5Dcreate2(file.get(), "/fletcher", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                              dcpl.get(), H5P_DEFAULT));
    REQUIRE(H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
  }
  write_filtered<double>(path, "/ok", {10, 6}, {5, 6}, kShuffle | kDeflate, v);
  h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  for (const char* name : {"/part_row", "/tiles", "/int_swapped", "/contiguous", "/fletcher"}) {
    h5::Dataset ds(H5Dopen2(file.get(), name, H5P_DEFAULT));
    INFO(name);
    CHECK_FALSE(DirectChunks::open(ds.get(), std::size_t{1} << 20));
  }
  h5::Dataset ok(H5Dopen2(file.get(), "/ok", H5P_DEFAULT));
  CHECK(DirectChunks::open(ok.get(), std::size_t{1} << 20));
  CHECK_FALSE(DirectChunks::open(ok.get(), 5 * 6 * 8 - 1));  // chunks over the cap
}

TEST_CASE("a skipped filter, a missing chunk and a corrupt chunk", "[io][direct_chunks]") {
  TempDir dir;
  const std::string path = dir.file("raw.h5");
  const std::vector<double> v = test_values<double>(4 * 3, 2);
  const hsize_t dims[2] = {12, 3}, cdims[2] = {4, 3};
  {
    h5::File file = open_rw(path);
    h5::Dataspace space(H5Screate_simple(2, dims, nullptr));
    h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 2, cdims);
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), 1);
    h5::Dataset ds(H5Dcreate2(file.get(), "/y", H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                              dcpl.get(), H5P_DEFAULT));
    // Chunk 0: stored with deflate skipped (filter mask bit 1), shuffled.
    std::vector<std::uint8_t> shuffled(v.size() * 8);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(v.data());
    for (std::size_t i = 0; i < v.size(); ++i)
      for (std::size_t b = 0; b < 8; ++b) shuffled[b * v.size() + i] = bytes[i * 8 + b];
    const hsize_t at0[2] = {0, 0}, at2[2] = {8, 0};
    REQUIRE(H5Dwrite_chunk(ds.get(), H5P_DEFAULT, 0x2, at0, shuffled.size(), shuffled.data()) >= 0);
    // Chunk 1 (rows 4-7) never written: HDF5 reads the fill value, 0.
    // Chunk 2: bytes that are no zlib stream.
    std::vector<std::uint8_t> junk(40, 0x5A);
    REQUIRE(H5Dwrite_chunk(ds.get(), H5P_DEFAULT, 0, at2, junk.size(), junk.data()) >= 0);
  }
  h5::SilenceErrors quiet;
  Opened o = open_dataset(path, "/y");
  for (const auto inflater : {DirectChunks::Inflater::best, DirectChunks::Inflater::zlib}) {
    auto direct = DirectChunks::open(o.ds.get(), std::size_t{1} << 20, inflater);
    REQUIRE(direct);
    std::vector<double> got(12 * 3, -1.0);
    REQUIRE(direct->read(0, 12, got.data()));
    CHECK(same_bits(got.data(), v.data(), 12));
    CHECK_FALSE(direct->read(12, 12, got.data()));  // missing: left to HDF5
    CHECK_FALSE(direct->read(24, 12, got.data()));  // corrupt: left to HDF5
  }

  // Through ProblemFile: HDF5 fills the missing chunk and reports the corrupt one.
  ProblemFile f(InputSpec{path, "/y", "none", "none", "none", "", "", ""}, 1);
  Chunk chunk;
  chunk.reserve(8, 3, 1, false);
  f.read(0, 8, chunk);
  CHECK(same_bits(chunk.y.data(), v.data(), 12));
  CHECK(std::all_of(chunk.y.begin() + 12, chunk.y.begin() + 24, [](double x) { return x == 0; }));
  auto e = expect_error([&] { f.read(6, 4, chunk); });
  CHECK(e.dataset() == "/y");
  CHECK(std::string(e.what()).find("reading problems [6, 10) failed") != std::string::npos);
}

TEST_CASE("ProblemFile reads large chunks and multi-dimensional leading shapes directly",
          "[io][problem_file][direct_chunks]") {
  // Chunks of 4096 problems x 160 samples (5 MiB, five times HDF5's default
  // chunk cache) and reads of 1000 problems that straddle them; then a (6, 50)
  // leading shape with chunks of (4, 50) problems, and per-problem x0.
  TempDir dir;
  const std::string path = dir.file("large.h5");
  const std::size_t problems = 9000, m = 160;
  std::vector<double> y(problems * m);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(i % 977) * 0.25 + (i / m);
  write_filtered<double>(path, "/y", {problems, m}, {4096, m}, kShuffle | kDeflate, y);
  std::vector<float> x0 = test_values<float>(problems * 2, 3);
  for (float& v : x0) v = std::isfinite(v) ? v : 0.5f;  // starting values must be finite
  write_filtered<float>(path, "/x0", {problems, 2}, {4096, 2}, kShuffle | kDeflate, x0);
  {
    Opened o = open_dataset(path, "/y");
    CHECK(DirectChunks::open(o.ds.get(), std::size_t{256} << 20));
  }
  ProblemFile f(InputSpec{path, "/y", "none", "none", "/x0", "", "", ""}, 2);
  Chunk chunk;
  chunk.reserve(1000, static_cast<int>(m), 2, false);
  for (std::size_t first = 0; first < problems; first += 1000) {
    f.read(first, 1000, chunk);
    INFO("first " << first);
    REQUIRE(same_bits(chunk.y.data(), y.data() + first * m, 1000 * m));
    for (std::size_t k = 0; k < 2000; ++k)
      REQUIRE(chunk.x0[k] == static_cast<double>(x0[first * 2 + k]));
  }

  const std::string path2 = dir.file("grid.h5");
  const std::vector<double> g = test_values<double>(6 * 50 * 9, 4);
  write_filtered<double>(path2, "/y", {6, 50, 9}, {4, 50, 9}, kShuffle | kDeflate, g);
  ProblemFile f2(InputSpec{path2, "/y", "none", "none", "none", "", "", ""}, 2);
  Chunk c2;
  c2.reserve(37, 9, 2, false);
  for (std::size_t first = 0; first < 300; first += 37) {
    const int count = static_cast<int>(std::min<std::size_t>(37, 300 - first));
    f2.read(first, count, c2);
    REQUIRE(same_bits(c2.y.data(), g.data() + first * 9, static_cast<std::size_t>(count) * 9));
  }

  // A stack of images, (3, 5, 7) problems, chunked as lmbatch generate does
  // past two leading dimensions: (1, 2, 7) problems per chunk.
  const std::string path3 = dir.file("stack.h5");
  const std::vector<double> st = test_values<double>(3 * 5 * 7 * 4, 5);
  write_filtered<double>(path3, "/y", {3, 5, 7, 4}, {1, 2, 7, 4}, kShuffle | kDeflate, st);
  {
    Opened o = open_dataset(path3, "/y");
    CHECK(DirectChunks::open(o.ds.get(), std::size_t{1} << 20));
  }
  ProblemFile f3(InputSpec{path3, "/y", "none", "none", "none", "", "", ""}, 2);
  Chunk c3;
  c3.reserve(13, 4, 2, false);
  for (std::size_t first = 0; first < 105; first += 13) {
    const int count = static_cast<int>(std::min<std::size_t>(13, 105 - first));
    f3.read(first, count, c3);
    REQUIRE(same_bits(c3.y.data(), st.data() + first * 4, static_cast<std::size_t>(count) * 4));
  }
}
