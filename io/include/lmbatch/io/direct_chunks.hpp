// Reading a chunked dataset's values without HDF5's filter pipeline, for the
// layout that nearly every problem file has: chunks that are runs of the
// dataset's flat order (the dimensions after one taken whole, those before it
// 1: (1024, m) of (N, m), (8, W, m) of an image, (1, 8, W, m) of a stack),
// float64, float32 or an integer type (int8 .. uint64, counts), in this machine's byte order,
// compressed with shuffle and/or deflate, or not at all. `lmbatch fit` spends
// most of what is not the solve reading its input; through H5Dread each chunk is inflated into a
// buffer grown by realloc, byte-unshuffled one byte at a time into another, then copied (or
// converted) into the caller's array. Here a chunk is read raw (H5Dread_chunk), inflated into a
// buffer of its exact size, and each read unshuffles only the elements asked for, straight into
// the caller's array (measured in bench/README.md). The values are HDF5's own: the same bytes,
// float32 and integers widened to double by the same cast as HDF5's conversions. Whatever this
// reader does not expect (a missing chunk, a filter mask, a stream that does not inflate
// to the chunk's size) makes read() return false, and the caller reads
// through H5Dread, which decides.
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace lmbatch::io {

// The inverse of HDF5's shuffle filter (H5Z_FILTER_SHUFFLE): the buffer holds
// `elements` elements of `size` bytes as `size` byte planes (byte b of element
// i at src[b * elements + i]). Writes elements [first, first + count), each
// with its bytes in order, to dst (count * size bytes).
void unshuffle(const std::uint8_t* src, std::size_t elements, std::size_t size, std::size_t first,
               std::size_t count, std::uint8_t* dst);

// Adler-32 (RFC 1950), as zlib's adler32(adler, p, len) computes it.
std::uint32_t adler32(const std::uint8_t* p, std::size_t len, std::uint32_t adler = 1);

class DirectChunks {
 public:
  // A reader for dataset `ds`, or nullptr where it does not qualify: not
  // chunked, chunks that are not runs of the flat order,
  // a type other than the native double, float or integers, a filter other than shuffle
  // (first) and deflate, or chunks over max_chunk_bytes.
  // inflater: libdeflate where the build has it (best), else zlib with the
  // SIMD Adler-32 below; zlib can be asked for (the tests run both).
  enum class Inflater { best, zlib };
  static std::unique_ptr<DirectChunks> open(hid_t ds, std::size_t max_chunk_bytes,
                                            Inflater inflater = Inflater::best);
  static bool has_libdeflate() noexcept;
  ~DirectChunks();
  DirectChunks(const DirectChunks&) = delete;
  DirectChunks& operator=(const DirectChunks&) = delete;

  // Reads the elements [first, first + count) of the dataset in its row-major
  // order into dst, as doubles. The last chunk decoded is kept, so a
  // sequential sweep decodes each chunk once. Returns false (dst perhaps
  // partly written) where a chunk touched cannot be decoded here; the caller
  // then reads the range with H5Dread.
  bool read(std::size_t first, std::size_t count, double* dst);

  std::size_t chunk_bytes() const noexcept;

 private:
  struct Impl;
  explicit DirectChunks(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lmbatch::io
