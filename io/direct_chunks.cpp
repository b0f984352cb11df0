#include "lmbatch/io/direct_chunks.hpp"

#include <zlib.h>
#if LMBATCH_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "lmbatch/batch/chunk.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#ifndef LMBATCH_HAVE_LIBDEFLATE
#define LMBATCH_HAVE_LIBDEFLATE 0
#endif

namespace lmbatch::io {

namespace {

// Scalar unshuffle of elements [first, first + count).
void unshuffle_scalar(const std::uint8_t* src, std::size_t elements, std::size_t size,
                      std::size_t first, std::size_t count, std::uint8_t* dst) {
  for (std::size_t b = 0; b < size; ++b) {
    const std::uint8_t* plane = src + b * elements + first;
    for (std::size_t i = 0; i < count; ++i) dst[i * size + b] = plane[i];
  }
}

#if defined(__SSE2__)
// 16 elements at a time: an 8 x 16 (or 4 x 16) byte transpose in three (two)
// rounds of interleaves, SSE2 only (the x86-64 baseline). HDF5's own filter
// moves one byte per iteration.
std::size_t unshuffle8_sse2(const std::uint8_t* src, std::size_t elements, std::size_t first,
                            std::size_t count, std::uint8_t* dst) {
  // Named registers, not arrays: GCC -O2 kept arrays on the stack and looped.
  const auto load = [](const std::uint8_t* q) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  };
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const std::uint8_t* p = src + first + i;
    const __m128i v0 = load(p), v1 = load(p + elements), v2 = load(p + 2 * elements),
                  v3 = load(p + 3 * elements), v4 = load(p + 4 * elements),
                  v5 = load(p + 5 * elements), v6 = load(p + 6 * elements),
                  v7 = load(p + 7 * elements);
    // Bytes (0,1), (2,3), (4,5), (6,7) of elements 0-7 (lo) and 8-15 (hi).
    const __m128i a0 = _mm_unpacklo_epi8(v0, v1), a1 = _mm_unpackhi_epi8(v0, v1);
    const __m128i b0 = _mm_unpacklo_epi8(v2, v3), b1 = _mm_unpackhi_epi8(v2, v3);
    const __m128i c0 = _mm_unpacklo_epi8(v4, v5), c1 = _mm_unpackhi_epi8(v4, v5);
    const __m128i d0 = _mm_unpacklo_epi8(v6, v7), d1 = _mm_unpackhi_epi8(v6, v7);
    // Bytes 0-3 (ab) and 4-7 (cd) of elements 0-3, 4-7, 8-11, 12-15; then
    // whole elements, two per register.
    auto* out = reinterpret_cast<__m128i*>(dst + i * 8);
    const auto put4 = [](__m128i* o, __m128i ab, __m128i cd) {
      _mm_storeu_si128(o, _mm_unpacklo_epi32(ab, cd));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi32(ab, cd));
    };
    put4(out + 0, _mm_unpacklo_epi16(a0, b0), _mm_unpacklo_epi16(c0, d0));
    put4(out + 2, _mm_unpackhi_epi16(a0, b0), _mm_unpackhi_epi16(c0, d0));
    put4(out + 4, _mm_unpacklo_epi16(a1, b1), _mm_unpacklo_epi16(c1, d1));
    put4(out + 6, _mm_unpackhi_epi16(a1, b1), _mm_unpackhi_epi16(c1, d1));
  }
  return i;
}

std::size_t unshuffle2_sse2(const std::uint8_t* src, std::size_t elements, std::size_t first,
                            std::size_t count, std::uint8_t* dst) {
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const std::uint8_t* p = src + first + i;
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + elements));
    auto* out = reinterpret_cast<__m128i*>(dst + i * 2);
    _mm_storeu_si128(out + 0, _mm_unpacklo_epi8(lo, hi));
    _mm_storeu_si128(out + 1, _mm_unpackhi_epi8(lo, hi));
  }
  return i;
}

std::size_t unshuffle4_sse2(const std::uint8_t* src, std::size_t elements, std::size_t first,
                            std::size_t count, std::uint8_t* dst) {
  const auto load = [](const std::uint8_t* q) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  };
  std::size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const std::uint8_t* p = src + first + i;
    const __m128i v0 = load(p), v1 = load(p + elements), v2 = load(p + 2 * elements),
                  v3 = load(p + 3 * elements);
    const __m128i a0 = _mm_unpacklo_epi8(v0, v1), a1 = _mm_unpackhi_epi8(v0, v1);
    const __m128i b0 = _mm_unpacklo_epi8(v2, v3), b1 = _mm_unpackhi_epi8(v2, v3);
    auto* out = reinterpret_cast<__m128i*>(dst + i * 4);
    _mm_storeu_si128(out + 0, _mm_unpacklo_epi16(a0, b0));
    _mm_storeu_si128(out + 1, _mm_unpackhi_epi16(a0, b0));
    _mm_storeu_si128(out + 2, _mm_unpacklo_epi16(a1, b1));
    _mm_storeu_si128(out + 3, _mm_unpackhi_epi16(a1, b1));
  }
  return i;
}

// Adler-32 (RFC 1950, zlib's adler32()) of a buffer, 16 bytes at a time in
// SSE2 lanes. Over a run of blocks starting from sums (s1, s2):
//   s1 += sum of the bytes,
//   s2 += len s1 + sum over blocks b of 16 (sum of the bytes before b)
//         + sum over bytes of (16 - k) x[k] (k: the byte's place in its block),
// the last in 16-bit multiply-adds; reduced mod 65521 after each run, in 64
// bits, so the 32-bit lanes never overflow (a run is at most 1024 blocks).
std::uint32_t adler32_sse2(std::uint32_t adler, const std::uint8_t* p, std::size_t len,
                           std::size_t* done) {
  constexpr std::uint64_t kBase = 65521;
  std::uint64_t s1 = adler & 0xFFFF, s2 = adler >> 16;
  const __m128i zero = _mm_setzero_si128();
  const __m128i w_lo = _mm_setr_epi16(16, 15, 14, 13, 12, 11, 10, 9);
  const __m128i w_hi = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
  auto hsum = [](__m128i v) {
    alignas(16) std::uint32_t lanes[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), v);
    return std::uint64_t{lanes[0]} + lanes[1] + lanes[2] + lanes[3];
  };
  std::size_t blocks = len / 16, at = 0;
  while (blocks > 0) {
    const std::size_t n = std::min<std::size_t>(blocks, 1024);
    blocks -= n;
    s2 += s1 * (n * 16);
    __m128i v_s1 = zero, v_ps = zero, v_s2 = zero;
    for (std::size_t b = 0; b < n; ++b, at += 16) {
      const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
      v_ps = _mm_add_epi32(v_ps, v_s1);
      v_s1 = _mm_add_epi32(v_s1, _mm_sad_epu8(x, zero));
      v_s2 = _mm_add_epi32(v_s2, _mm_madd_epi16(_mm_unpacklo_epi8(x, zero), w_lo));
      v_s2 = _mm_add_epi32(v_s2, _mm_madd_epi16(_mm_unpackhi_epi8(x, zero), w_hi));
    }
    s2 = (s2 + 16 * hsum(v_ps) + hsum(v_s2)) % kBase;
    s1 = (s1 + hsum(v_s1)) % kBase;
  }
  *done = at;
  return static_cast<std::uint32_t>(s2 << 16 | s1);
}
#endif

// count elements of type T (native byte order, unaligned) widened to double
// by the C cast: HDF5's hard conversions to double (H5T__conv_float_double,
// H5T__conv_ushort_double, ...) are that cast where, as here, no conversion
// exception callback is set. Exact for float and integers of up to 53 bits;
// int64 and uint64 beyond 2^53 round to nearest, as in HDF5.
template <class T>
void widen(const std::uint8_t* src, std::size_t count, double* dst) {
  for (std::size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    dst[i] = static_cast<double>(v);
  }
}

using Widen = void (*)(const std::uint8_t*, std::size_t, double*);

// The element types read here: HDF5's native ones (so this machine's byte
// order; a big-endian or odd-precision type goes to H5Dread). float64 needs
// no widening (widen null: its bytes are copied).
struct ElementType {
  std::size_t size = 0;
  Widen widen = nullptr;
};

ElementType element_type(hid_t type) {
  const struct {
    hid_t native;
    ElementType element;
  } known[] = {
      {H5T_NATIVE_DOUBLE, {sizeof(double), nullptr}},
      {H5T_NATIVE_FLOAT, {sizeof(float), widen<float>}},
      {H5T_NATIVE_INT8, {1, widen<std::int8_t>}},
      {H5T_NATIVE_UINT8, {1, widen<std::uint8_t>}},
      {H5T_NATIVE_INT16, {2, widen<std::int16_t>}},
      {H5T_NATIVE_UINT16, {2, widen<std::uint16_t>}},
      {H5T_NATIVE_INT32, {4, widen<std::int32_t>}},
      {H5T_NATIVE_UINT32, {4, widen<std::uint32_t>}},
      {H5T_NATIVE_INT64, {8, widen<std::int64_t>}},
      {H5T_NATIVE_UINT64, {8, widen<std::uint64_t>}},
  };
  for (const auto& k : known)
    if (H5Tequal(type, k.native) > 0) return k.element;
  return {};
}

// a * b, or 0 on overflow (sizes from a corrupt file's chunk dims).
std::size_t checked_mul(std::size_t a, std::size_t b) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return 0;
  return a * b;
}

}  // namespace

void unshuffle(const std::uint8_t* src, std::size_t elements, std::size_t size, std::size_t first,
               std::size_t count, std::uint8_t* dst) {
  std::size_t done = 0;
#if defined(__SSE2__)
  if (size == 8) done = unshuffle8_sse2(src, elements, first, count, dst);
  if (size == 4) done = unshuffle4_sse2(src, elements, first, count, dst);
  if (size == 2) done = unshuffle2_sse2(src, elements, first, count, dst);
#endif
  unshuffle_scalar(src, elements, size, first + done, count - done, dst + done * size);
}

std::uint32_t adler32(const std::uint8_t* p, std::size_t len, std::uint32_t adler) {
  std::size_t done = 0;
#if defined(__SSE2__)
  adler = adler32_sse2(adler, p, len, &done);
#endif
  // The rest (or all, without SSE2) as RFC 1950 writes it.
  std::uint32_t s1 = adler & 0xFFFF, s2 = adler >> 16;
  for (std::size_t i = done; i < len; ++i) {
    s1 = (s1 + p[i]) % 65521;
    s2 = (s2 + s1) % 65521;
  }
  return s2 << 16 | s1;
}

struct DirectChunks::Impl {
  hid_t ds = H5I_INVALID_HID;  // not owned: the caller's dataset outlives this reader
  // The chunks are runs of the flat order: dims after `split` whole, before it
  // 1. Element e is in "row" r = e / inner (inner: the elements of one index
  // of dimension split), r = q dims[split] + c, chunk (q, c / cdims[split]).
  std::vector<hsize_t> dims, offset;  // offset: of the chunk to read
  std::size_t split = 0, inner = 1;
  hsize_t split_dim = 0, split_chunk = 0, chunks_along = 0;
  std::size_t size = 0;   // bytes per element
  Widen widen = nullptr;  // to double; null for double itself
  std::size_t chunk_elements = 0, chunk_bytes = 0;
  // Position of the shuffle and deflate filters in the pipeline (-1: none).
  int shuffle_at = -1, deflate_at = -1;
  int filters = 0;

  // The chunk held (decoded but still shuffled where the filter applied).
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  std::size_t held = kNone;
  bool held_shuffled = false;
  // Grow-only scratch, left uninitialised: every byte read is written first
  // (zero-filling a chunk-sized vector cost half a chunk's unshuffle).
  // Buffers of a quarter of a huge page or more are rounded up to whole huge
  // pages and aligned to them, so that all of them can be transparent huge
  // pages (batch::advise_huge_pages says why). A reader holds three such
  // buffers, so the rounding costs at most a few MiB. Measured on the bench's
  // VM: lmbatch fit of workload 1 (1 MiB chunks) 8 % faster, workload 3
  // (8 MB chunks) 14 %.
  struct Buffer {
    struct Free {
      void operator()(std::uint8_t* p) const noexcept { std::free(p); }
    };
    std::unique_ptr<std::uint8_t[], Free> bytes;
    std::size_t size = 0;
    std::uint8_t* data() const { return bytes.get(); }
    // False where the memory is not to be had: H5Dread then tries.
    bool grow(std::size_t n) {
      if (n <= size) return true;
      constexpr std::size_t kHuge = std::size_t{2} << 20;
      const bool huge = n >= kHuge / 4;
      const std::size_t alloc = huge ? (n + kHuge - 1) / kHuge * kHuge : n;
      bytes.reset(
          static_cast<std::uint8_t*>(huge ? std::aligned_alloc(kHuge, alloc) : std::malloc(alloc)));
      size = bytes ? alloc : 0;
      if (huge) batch::advise_huge_pages(bytes.get(), size);
      return size != 0;
    }
  };
  Buffer raw, decoded, narrow;
  z_stream zs{};
  bool zs_ready = false;
  bool use_libdeflate = false;
#if LMBATCH_HAVE_LIBDEFLATE
  libdeflate_decompressor* ld = nullptr;
#endif

  ~Impl() {
    if (zs_ready) inflateEnd(&zs);
#if LMBATCH_HAVE_LIBDEFLATE
    if (ld) libdeflate_free_decompressor(ld);
#endif
  }

  // libdeflate (where the build found it) decodes a whole stream into a
  // buffer of known size about twice as fast as zlib's inflate, and checks
  // the zlib header and Adler-32 (in SIMD) as zlib does; the same bytes
  // whenever both succeed, deflate being one decoding.
  bool decompress(std::size_t nbytes) {
#if LMBATCH_HAVE_LIBDEFLATE
    if (use_libdeflate) {
      if (!ld && !(ld = libdeflate_alloc_decompressor())) return false;
      return libdeflate_zlib_decompress(ld, raw.data(), nbytes, decoded.data(), chunk_bytes,
                                        nullptr) == LIBDEFLATE_SUCCESS;
    }
#endif
    return inflate_chunk(nbytes);
  }

  // Inflates raw[0, nbytes), one zlib stream (RFC 1950) as HDF5's deflate
  // filter writes it, into decoded, which must come out exactly the chunk's
  // size. zlib inflates the raw deflate data and the checks zlib's own
  // inflate() would make are made here: the header's method, window and
  // check bits, no preset dictionary, and the Adler-32 of the output against
  // the trailer, with the SIMD adler32 above (zlib 1.2's, a byte at a time,
  // cost a third as much as inflating).
  bool inflate_chunk(std::size_t nbytes) {
    if (nbytes < 6 || nbytes - 2 > std::numeric_limits<uInt>::max() ||
        chunk_bytes > std::numeric_limits<uInt>::max())
      return false;
    const unsigned cmf = raw.data()[0], flg = raw.data()[1];
    if ((cmf & 0x0F) != 8 || (cmf >> 4) > 7 || (cmf << 8 | flg) % 31 != 0 || (flg & 0x20))
      return false;
    if (!zs_ready) {
      if (inflateInit2(&zs, -15) != Z_OK) return false;
      zs_ready = true;
    } else if (inflateReset(&zs) != Z_OK) {
      return false;
    }
    zs.next_in = raw.data() + 2;
    zs.avail_in = static_cast<uInt>(nbytes - 2);
    zs.next_out = decoded.data();
    zs.avail_out = static_cast<uInt>(chunk_bytes);
    if (::inflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out != chunk_bytes || zs.avail_in < 4)
      return false;
    const unsigned char* t = zs.next_in;
    const std::uint32_t stored = std::uint32_t{t[0]} << 24 | std::uint32_t{t[1]} << 16 |
                                 std::uint32_t{t[2]} << 8 | std::uint32_t{t[3]};
    return adler32(decoded.data(), chunk_bytes) == stored;
  }

  // Chunk number `chunk` = q chunks_along + (its index along dimension split).
  bool load(std::size_t chunk) {
    held = kNone;
    offset[split] = static_cast<hsize_t>(chunk % chunks_along) * split_chunk;
    for (std::size_t k = split, q = chunk / chunks_along; k-- > 0; q /= dims[k])
      offset[k] = q % dims[k];
    hsize_t nbytes = 0;
    if (H5Dget_chunk_storage_size(ds, offset.data(), &nbytes) < 0 || nbytes == 0) return false;
    // A stored chunk is at most a little larger than its data (deflate's
    // worst case); anything more is a damaged index, left to HDF5.
    if (nbytes > chunk_bytes + chunk_bytes / 8 + 4096) return false;
    if (!raw.grow(nbytes)) return false;
    std::uint32_t mask = 0;
    if (H5Dread_chunk(ds, H5P_DEFAULT, offset.data(), &mask, raw.data()) < 0) return false;
    // Bit k of the mask: filter k was skipped for this chunk (an optional
    // filter that failed when it was written).
    if (filters < 32 && (mask >> filters) != 0) return false;
    const auto applied = [&](int at) { return at >= 0 && !(mask & (std::uint32_t{1} << at)); };
    if (!decoded.grow(chunk_bytes)) return false;
    if (applied(deflate_at)) {
      if (!decompress(static_cast<std::size_t>(nbytes))) return false;
    } else {
      if (nbytes != chunk_bytes) return false;
      std::memcpy(decoded.data(), raw.data(), chunk_bytes);
    }
    held = chunk;
    held_shuffled = applied(shuffle_at);
    return true;
  }

  // Elements [at, at + count) of the held chunk into dst as doubles.
  bool copy_out(std::size_t at, std::size_t count, double* dst) {
    const std::uint8_t* src = decoded.data();
    if (!widen) {  // double: the bytes themselves
      auto* out = reinterpret_cast<std::uint8_t*>(dst);
      if (held_shuffled)
        unshuffle(src, chunk_elements, size, at, count, out);
      else
        std::memcpy(out, src + at * size, count * size);
      return true;
    }
    const std::uint8_t* values = src + at * size;
    if (held_shuffled) {
      if (!narrow.grow(count * size)) return false;
      unshuffle(src, chunk_elements, size, at, count, narrow.data());
      values = narrow.data();
    }
    widen(values, count, dst);
    return true;
  }
};

DirectChunks::DirectChunks(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DirectChunks::~DirectChunks() = default;

std::size_t DirectChunks::chunk_bytes() const noexcept {
  return impl_->chunk_bytes;
}

bool DirectChunks::has_libdeflate() noexcept {
  return LMBATCH_HAVE_LIBDEFLATE;
}

std::unique_ptr<DirectChunks> DirectChunks::open(hid_t ds, std::size_t max_chunk_bytes,
                                                 Inflater inflater) {
  auto d = std::make_unique<Impl>();
  d->ds = ds;
  d->use_libdeflate = inflater == Inflater::best && has_libdeflate();
  const hid_t dcpl = H5Dget_create_plist(ds);
  const hid_t space = H5Dget_space(ds);
  const hid_t type = H5Dget_type(ds);
  const auto qualifies = [&]() -> bool {
    if (dcpl < 0 || space < 0 || type < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED) return false;
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 1 || H5Pget_chunk(dcpl, 0, nullptr) != rank) return false;
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), cdims(dims.size());
    if (H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0 ||
        H5Pget_chunk(dcpl, rank, cdims.data()) < 0)
      return false;
    // A chunk is a run of the flat order when the dimensions after some
    // `split` are whole and those before it 1: (1024, m) of (N, m), (8, W, m)
    // of an image (H, W, m), (1, 8, W, m) of a stack, (1, 1024, m) of an
    // image wider than 1024. An edge chunk is stored whole, its tail unused.
    std::size_t split = dims.size() - 1;
    while (split > 0 && cdims[split] == dims[split]) --split;
    for (std::size_t k = 0; k < split; ++k)
      if (cdims[k] != 1 || dims[k] == 0) return false;
    if (cdims[split] == 0 || dims[split] == 0) return false;
    std::size_t inner = 1;
    for (std::size_t k = split + 1; k < dims.size(); ++k)
      inner = checked_mul(inner, static_cast<std::size_t>(dims[k]));
    if (inner == 0) return false;
    d->dims = dims;
    d->split = split;
    d->inner = inner;
    d->split_dim = dims[split];
    d->split_chunk = cdims[split];
    d->chunks_along = (dims[split] + cdims[split] - 1) / cdims[split];
    const ElementType element = element_type(type);
    if (element.size == 0) return false;
    d->size = element.size;
    d->widen = element.widen;
    std::size_t elements = 1;
    for (const hsize_t c : cdims) elements = checked_mul(elements, static_cast<std::size_t>(c));
    d->chunk_elements = elements;
    d->chunk_bytes = checked_mul(elements, d->size);
    if (elements == 0 || d->chunk_bytes == 0 || d->chunk_bytes > max_chunk_bytes) return false;
    d->offset.assign(dims.size(), 0);
    d->filters = H5Pget_nfilters(dcpl);
    if (d->filters < 0) return false;
    for (int k = 0; k < d->filters; ++k) {
      unsigned flags = 0, values[8] = {};
      std::size_t nvalues = 8;
      const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &nvalues,
                                             values, 0, nullptr, nullptr);
      if (id == H5Z_FILTER_SHUFFLE && k == 0 && nvalues >= 1 && values[0] == d->size)
        d->shuffle_at = k;
      else if (id == H5Z_FILTER_DEFLATE && d->deflate_at < 0)
        d->deflate_at = k;
      else
        return false;
    }
    return true;
  };
  const bool ok = qualifies();
  if (type >= 0) H5Tclose(type);
  if (space >= 0) H5Sclose(space);
  if (dcpl >= 0) H5Pclose(dcpl);
  if (!ok) return nullptr;
  return std::unique_ptr<DirectChunks>(new DirectChunks(std::move(d)));
}

bool DirectChunks::read(std::size_t first, std::size_t count, double* dst) {
  Impl& d = *impl_;
  const std::size_t end = first + count;
  for (std::size_t e = first; e < end;) {
    const std::size_t row = e / d.inner, q = row / d.split_dim, c = row % d.split_dim;
    const std::size_t along = c / d.split_chunk, c0 = along * d.split_chunk;
    const std::size_t chunk = q * d.chunks_along + along;
    const std::size_t at = (c - c0) * d.inner + e % d.inner;
    const std::size_t rows = std::min<std::size_t>(d.split_chunk, d.split_dim - c0);
    const std::size_t n = std::min(rows * d.inner - at, end - e);
    if (d.held != chunk && !d.load(chunk)) return false;
    if (!d.copy_out(at, n, dst + (e - first))) return false;
    e += n;
  }
  return true;
}

}  // namespace lmbatch::io
