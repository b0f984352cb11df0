#include "lmbatch/io/result_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <stdexcept>
#include <type_traits>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/result_fields.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/hyperslab.hpp"

namespace lmbatch::io {

namespace {

namespace fs = std::filesystem;

// ---- storage layout of the result datasets ----
//
// Each dataset is chunked over the problems so that one storage chunk is a
// contiguous run of the flat problem numbering: the innermost leading
// dimensions whole, then one dimension cut, the outer ones 1 (for (H, W) with
// W <= P: (P / W, W); with W > P: (1, P)). Writing consecutive chunks of
// problems therefore fills storage chunks one after another, and only the
// one storage chunk that a write leaves half-filled must wait in the chunk
// cache for the next write: no chunk is ever compressed, evicted and read
// back to be completed. P is chosen so that a storage chunk holds about
// kTargetChunkBytes of uncompressed data (HDF5's advice is 10 KiB..1 MiB),
// at most kMaxChunkProblems problems and at least one problem; the trailing
// dimensions (n, n x n, m, n x m) are never split. Memory stays bounded by
// the chunk caches: kCacheChunks chunks per dataset.
//
// kMaxChunkProblems is the pipeline's default chunk: a write of a whole
// pipeline chunk then covers whole storage chunks, which HDF5 writes without
// first filling them with the fill value. With 65536 (a megabyte of x or
// cov_x per storage chunk) every storage chunk was filled with NaN on its
// first write, in fresh memory: 7 % of lmbatch fit's time on workload 1
// (perf), and the run took 5 % longer than with 1024.
constexpr std::size_t kTargetChunkBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxChunkProblems = batch::kDefaultChunkSize;
constexpr std::size_t kCacheChunks = 4;
// gzip level 1 after byte shuffling. Fitted values have noisy mantissas that
// no level compresses much: on such data level 4 saved ~1.5% of the size for
// ~15% more time, and compression runs in the pipeline's serial write stage
// (which is why Compression::integers, the default, leaves float64 plain).
constexpr unsigned kGzipLevel = 1;

std::vector<hsize_t> chunk_dims(const std::vector<hsize_t>& leading,
                                const std::vector<hsize_t>& trailing, std::size_t elem_bytes) {
  std::size_t per_problem = elem_bytes;
  for (hsize_t t : trailing) per_problem *= static_cast<std::size_t>(t);
  std::size_t budget = std::clamp<std::size_t>(
      kTargetChunkBytes / std::max<std::size_t>(per_problem, 1), 1, kMaxChunkProblems);
  std::vector<hsize_t> dims(leading.size(), 1);
  for (std::size_t k = leading.size(); k-- > 0;) {
    if (leading[k] <= budget) {  // whole dimension
      dims[k] = leading[k];
      budget /= static_cast<std::size_t>(leading[k]);
    } else {  // cut here; every outer dimension stays 1
      dims[k] = std::max<std::size_t>(budget, 1);
      break;
    }
  }
  dims.insert(dims.end(), trailing.begin(), trailing.end());
  return dims;
}

// One result dataset: a row of batch::kResultFields with its HDF5 types and
// its trailing dimensions for this file's m and n, for writing (ResultFile)
// and reading back (ResultFileReader).
struct Field {
  std::string name;  // "/x"
  hid_t mem_type;
  hid_t file_type;
  std::size_t elem_bytes;
  std::vector<hsize_t> trailing;
  // The field's buffer in a chunk: its bytes and how many values it holds.
  std::function<std::pair<unsigned char*, std::size_t>(batch::Chunk&)> buffer;
  std::size_t per_problem() const {
    std::size_t p = 1;
    for (hsize_t t : trailing) p *= static_cast<std::size_t>(t);
    return p;
  }
};

// The HDF5 types of a field's element type, in memory and in the file.
template <class T>
std::pair<hid_t, hid_t> hdf5_types() {
  if constexpr (std::is_same_v<T, double>) return {H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE};
  if constexpr (std::is_same_v<T, std::int32_t>) return {H5T_NATIVE_INT32, H5T_STD_I32LE};
  if constexpr (std::is_same_v<T, std::int16_t>) return {H5T_NATIVE_INT16, H5T_STD_I16LE};
  if constexpr (std::is_same_v<T, std::int8_t>) return {H5T_NATIVE_INT8, H5T_STD_I8LE};
}

std::vector<Field> result_fields(int m, int n, bool full_output) {
  std::vector<Field> fields;
  batch::for_each_result_field(full_output, [&](const auto& row) {
    using T = typename std::remove_cvref_t<decltype(row.fill)>;
    const auto [mem, file] = hdf5_types<T>();
    std::vector<hsize_t> trailing;
    for (std::size_t d : batch::trailing_dims(row.extent, m, n)) trailing.push_back(d);
    const auto member = row.in_chunk;
    fields.push_back({"/" + std::string(row.name), mem, file, sizeof(T), std::move(trailing),
                      [member](batch::Chunk& c) {
                        auto& v = c.*member;
                        return std::pair{reinterpret_cast<unsigned char*>(v.data()), v.size()};
                      }});
  });
  return fields;
}

// A result dataset of an open file.
struct Output {
  Field field;
  hdf5::Dataset ds;
  hdf5::Dataspace space;
  // The leading part of the storage chunk's dims, where a whole storage
  // chunk's stored bytes are the chunk buffer's bytes (chunked, no filter,
  // the file's byte order the machine's); empty otherwise. Such chunks are
  // written with H5Dwrite_chunk (ResultFile::write says why).
  std::vector<hsize_t> raw_chunk;
};

// The storage chunk of a chunked dataset (leading dims `leading`, chunk
// dims `cdims` over them, as chunk_dims makes them) that holds flat problem
// p: a run of problems [first, first + count) (chunk_dims makes every
// storage chunk a flat run) and whether it lies wholly inside the dataset;
// the coordinates of its origin into `origin`.
struct StorageChunk {
  std::size_t first = 0, count = 1;
  bool whole = true;
};
StorageChunk storage_chunk(const std::vector<unsigned long long>& leading,
                           const std::vector<hsize_t>& cdims, std::size_t p,
                           std::vector<hsize_t>& origin) {
  StorageChunk c;
  origin.assign(leading.size(), 0);
  for (std::size_t k = leading.size(); k-- > 0;) {
    const std::size_t along = p % leading[k];
    p /= leading[k];
    origin[k] = along / cdims[k] * cdims[k];
  }
  for (std::size_t k = 0; k < leading.size(); ++k) {
    const std::size_t extent = std::min<std::size_t>(cdims[k], leading[k] - origin[k]);
    c.whole = c.whole && extent == cdims[k];
    c.first = c.first * leading[k] + origin[k];
    c.count *= extent;
  }
  return c;
}

// Moves the values of problems [first, first + count) between a chunk's
// buffer and a dataset, one hyperslab per block of the flat range. Same
// decomposition for writing and reading, so the two agree by construction.
template <class Transfer>
void for_each_block(const std::vector<unsigned long long>& leading, const Field& f,
                    const std::vector<Block>& blocks, std::vector<hsize_t>& start,
                    std::vector<hsize_t>& extent, hid_t file_space, Transfer&& transfer) {
  for (const Block& blk : blocks) {
    const std::size_t offset_bytes = blk.offset * f.per_problem() * f.elem_bytes;
    if (leading.empty() && f.trailing.empty()) {  // one problem, scalar dataset
      transfer(offset_bytes, H5S_ALL, H5S_ALL);
      continue;
    }
    start.assign(blk.start.begin(), blk.start.end());
    extent.assign(blk.count.begin(), blk.count.end());
    start.insert(start.end(), f.trailing.size(), 0);
    extent.insert(extent.end(), f.trailing.begin(), f.trailing.end());
    // Same shape as the file selection: HDF5 1.10 otherwise maps memory
    // onto the storage chunks one element at a time.
    hdf5::Dataspace mem(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
    if (!mem || H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr,
                                    extent.data(), nullptr) < 0)
      transfer(offset_bytes, -1, -1);
    else
      transfer(offset_bytes, mem.get(), file_space);
  }
}

// "error message = 'Permission denied'" out of HDF5's open failure text.
std::string os_reason(const std::string& detail) {
  const std::string key = "error message = '";
  const auto at = detail.find(key);
  if (at == std::string::npos) return detail;
  const auto end = detail.find('\'', at + key.size());
  return detail.substr(at + key.size(), end == std::string::npos ? end : end - at - key.size());
}

// Whether another process holds HDF5's lock on an existing file. HDF5 1.10
// truncates a file before it takes the lock, so creating over the .partial
// file of a run still writing would wreck that run's file; ask first.
bool locked_by_another_process(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // also drops our lock if we got it
  return busy;
}

}  // namespace

struct ResultFile::Impl {
  OutputSpec spec;
  std::string partial;
  std::size_t count = 0;
  hdf5::File file;  // declared before the datasets: destroyed after them
  std::vector<Output> outputs;
  std::vector<Block> blocks;  // scratch reused by every write
  std::vector<hsize_t> start, extent, origin;
  bool finished = false;

  [[noreturn]] void fail(const std::string& dataset, const std::string& message) const {
    throw Error(spec.path, dataset, message);
  }

  void create_contents();  // every dataset and attribute

  void create(Output& o) {
    const Field& f = o.field;
    const std::vector<hsize_t> leading(spec.leading_shape.begin(), spec.leading_shape.end());
    std::vector<hsize_t> dims = leading;
    dims.insert(dims.end(), f.trailing.begin(), f.trailing.end());
    o.space = hdf5::Dataspace(
        dims.empty() ? H5Screate(H5S_SCALAR)
                     : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    hdf5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    hdf5::PropList dapl(H5Pcreate(H5P_DATASET_ACCESS));
    if (!o.space || !dcpl || !dapl) fail(f.name, "cannot be set up: " + hdf5::last_error_detail());
    // Unwritten floats read as NaN: a problem that was never solved (an
    // interrupted run) then looks unsolved rather than solved at zero.
    if (f.mem_type == H5T_NATIVE_DOUBLE) {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      H5Pset_fill_value(dcpl.get(), H5T_NATIVE_DOUBLE, &nan);
    }
    // Likewise an unwritten /ier reads -4 (never written), not 0 (scipy's
    // "improper input parameters"); the other integers read 0 (no evaluation).
    if (f.name == "/ier") {
      const auto never = static_cast<std::int16_t>(batch::ProblemStatus::never_written);
      H5Pset_fill_value(dcpl.get(), H5T_NATIVE_INT16, &never);
    }
    // Chunking needs a non-empty array: a scalar (one problem) or an empty
    // leading shape stays contiguous and uncompressed.
    const bool chunkable =
        !dims.empty() && std::none_of(dims.begin(), dims.end(), [](hsize_t d) { return d == 0; });
    if (!spec.virtual_sources.empty()) {
      map_virtual(f, dims, dcpl.get());
    } else if (chunkable) {
      const auto cdims = chunk_dims(leading, f.trailing, f.elem_bytes);
      std::size_t chunk_bytes = f.elem_bytes;
      for (hsize_t c : cdims) chunk_bytes *= static_cast<std::size_t>(c);
      if (H5Pset_chunk(dcpl.get(), static_cast<int>(cdims.size()), cdims.data()) < 0)
        fail(f.name, "cannot be chunked: " + hdf5::last_error_detail());
      const bool deflate =
          spec.compression == Compression::all ||
          (spec.compression == Compression::integers && f.mem_type != H5T_NATIVE_DOUBLE);
      if (deflate && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        H5Pset_shuffle(dcpl.get());
        H5Pset_deflate(dcpl.get(), kGzipLevel);
      } else if (H5Tequal(f.mem_type, f.file_type) > 0) {
        o.raw_chunk.assign(cdims.begin(), cdims.begin() + static_cast<long>(leading.size()));
      }
      // Room for kCacheChunks chunks (HDF5 bypasses the cache for a chunk
      // larger than it). w0 stays at HDF5's 0.75: with 1.0 (evict fully
      // written chunks first) HDF5 1.10.8 kept growing its memory with every
      // chunk written (measured: 250 MB after 200k full-output problems).
      const std::size_t nbytes = std::max(kCacheChunks * chunk_bytes, std::size_t{1} << 20);
      H5Pset_chunk_cache(dapl.get(), 521, nbytes, 0.75);
    }
    o.ds = hdf5::Dataset(H5Dcreate2(file.get(), f.name.c_str(), f.file_type, o.space.get(),
                                    H5P_DEFAULT, dcpl.get(), dapl.get()));
    if (!o.ds)
      fail(f.name,
           "cannot be created in " + partial + " (HDF5: " + hdf5::last_error_detail() + ")");
  }

  // A virtual dataset: each source's problems [first, end), block by block
  // of the flat range, map onto the same problems of the source's dataset.
  void map_virtual(const Field& f, const std::vector<hsize_t>& dims, hid_t dcpl) {
    if (dims.empty()) fail(f.name, "a single problem cannot be a virtual dataset");
    std::vector<Block> mapped;
    for (const VirtualSource& source : spec.virtual_sources) {
      if (source.first > source.end || source.end > count)
        fail(f.name, "virtual source " + source.path + " maps problems outside the file");
      flat_range_blocks(spec.leading_shape, source.first, source.end - source.first, mapped);
      for (const Block& blk : mapped) {
        std::vector<hsize_t> b_start(blk.start.begin(), blk.start.end());
        std::vector<hsize_t> b_count(blk.count.begin(), blk.count.end());
        b_start.insert(b_start.end(), f.trailing.size(), 0);
        b_count.insert(b_count.end(), f.trailing.begin(), f.trailing.end());
        hdf5::Dataspace vspace(
            H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
        hdf5::Dataspace sspace(
            H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
        if (!vspace || !sspace ||
            H5Sselect_hyperslab(vspace.get(), H5S_SELECT_SET, b_start.data(), nullptr,
                                b_count.data(), nullptr) < 0 ||
            H5Sselect_hyperslab(sspace.get(), H5S_SELECT_SET, b_start.data(), nullptr,
                                b_count.data(), nullptr) < 0 ||
            H5Pset_virtual(dcpl, vspace.get(), source.path.c_str(), f.name.c_str(), sspace.get()) <
                0)
          fail(f.name, "cannot map " + source.path + " (HDF5: " + hdf5::last_error_detail() + ")");
      }
    }
  }

  // Before anything is created: a bad spec should not leave a .partial file.
  void check_attribute_names() const {
    std::set<std::string> seen = {"lmbatch_format", "samples"};
    if (!spec.parameter_names.empty()) seen.insert("parameter_names");
    auto claim = [&](const std::string& name) {
      if (name.empty()) fail("", "an attribute has an empty name");
      if (!seen.insert(name).second)
        fail("", "attribute '" + name + "' is given twice (or is one lmbatch writes itself)");
    };
    for (const auto& a : spec.string_attributes) claim(a.first);
    for (const auto& a : spec.number_attributes) claim(a.first);
    for (const auto& a : spec.integer_attributes) claim(a.first);
  }

  void attributes() {
    auto check = [&](bool ok, const std::string& name) {
      if (!ok)
        fail("", "cannot write attribute '" + name + "' (HDF5: " + hdf5::last_error_detail() + ")");
    };
    const hid_t root = file.get();
    check(hdf5::write_string_attribute(root, "lmbatch_format", {"result/1"}, true),
          "lmbatch_format");
    // m: what a reader needs to read the file back without full output.
    check(hdf5::write_integer_attribute(root, "samples", spec.m), "samples");
    if (!spec.parameter_names.empty()) {
      check(hdf5::write_string_attribute(root, "parameter_names", spec.parameter_names, false),
            "parameter_names");
    }
    for (const auto& [name, value] : spec.string_attributes) {
      check(hdf5::write_string_attribute(root, name, {value}, true), name);
    }
    for (const auto& [name, value] : spec.number_attributes) {
      check(hdf5::write_number_attribute(root, name, value), name);
    }
    for (const auto& [name, value] : spec.integer_attributes) {
      check(hdf5::write_integer_attribute(root, name, value), name);
    }
  }
};

ResultFile::ResultFile(OutputSpec spec) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.spec = std::move(spec);
  const OutputSpec& s = d.spec;
  if (s.path.empty()) throw Error("", "", "no output file name given");
  if (s.m < 1 || s.n < 1)
    d.fail("", "invalid sizes m = " + std::to_string(s.m) + ", n = " + std::to_string(s.n));
  if (!s.parameter_names.empty() && s.parameter_names.size() != static_cast<std::size_t>(s.n))
    d.fail("", std::to_string(s.parameter_names.size()) + " parameter names given for " +
                   std::to_string(s.n) + " parameters");
  d.count = 1;
  for (auto dim : s.leading_shape) d.count *= static_cast<std::size_t>(dim);
  d.partial = s.path + ".partial";
  d.check_attribute_names();

  std::error_code ec;
  const auto st = fs::status(s.path, ec);
  if (fs::is_directory(st)) d.fail("", "is a directory");
  if (fs::exists(st) && !s.overwrite)
    d.fail("", "already exists; refusing to replace it without overwrite");

  if (locked_by_another_process(d.partial))
    d.fail("", "cannot create " + d.partial +
                   ": it is in use by another process (another run writing " + s.path + "?)");

  hdf5::SilenceErrors quiet;
  // STRONG: closing the file closes every object still open in it, so that
  // finish() really has the whole file on disk before renaming it.
  hdf5::PropList fapl(H5Pcreate(H5P_FILE_ACCESS));
  if (!fapl || H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG) < 0)
    d.fail("", "cannot set up file access (HDF5: " + hdf5::last_error_detail() + ")");
  // A .partial file left by an earlier, interrupted run is replaced.
  d.file = hdf5::File(H5Fcreate(d.partial.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
  if (!d.file) {
    const std::string detail = hdf5::last_error_detail();
    const fs::path dir = fs::absolute(fs::path(d.partial), ec).parent_path();
    std::string reason;
    if (detail.find("unable to lock") != std::string::npos)
      reason = "it is in use by another process (another run writing " + s.path + "?)";
    else if (!fs::exists(dir, ec))
      reason = "the directory " + dir.string() + " does not exist";
    else if (!fs::is_directory(dir, ec))
      reason = dir.string() + " is not a directory";
    else
      reason = os_reason(detail);
    d.fail("", "cannot create " + d.partial + ": " + reason);
  }

  try {
    d.create_contents();
  } catch (...) {
    // Nothing useful is in the file yet: remove it rather than leave a
    // .partial that looks like an interrupted run.
    d.outputs.clear();
    d.file.close();
    std::error_code rm;
    fs::remove(d.partial, rm);
    throw;
  }
}

void ResultFile::Impl::create_contents() {
  const OutputSpec& s = spec;
  Impl& d = *this;
  for (Field& f : result_fields(s.m, s.n, s.full_output))
    d.outputs.push_back({std::move(f), {}, {}, {}});
  for (Output& o : d.outputs) d.create(o);
  d.attributes();
}

ResultFile::~ResultFile() {
  // Closing can fail (e.g. a full disk on a last flush); nothing can be done
  // about it here, so HDF5 must not print its error stack either.
  hdf5::SilenceErrors quiet;
  impl_.reset();
}
ResultFile::ResultFile(ResultFile&&) noexcept = default;
ResultFile& ResultFile::operator=(ResultFile&&) noexcept = default;

const OutputSpec& ResultFile::spec() const noexcept {
  return impl_->spec;
}
std::size_t ResultFile::problem_count() const noexcept {
  return impl_->count;
}
const std::string& ResultFile::partial_path() const noexcept {
  return impl_->partial;
}
bool ResultFile::finished() const noexcept {
  return impl_->finished;
}

void ResultFile::write(const batch::Chunk& chunk) {
  Impl& d = *impl_;
  if (d.finished) throw std::logic_error("ResultFile::write after finish");
  if (!d.spec.virtual_sources.empty())
    throw std::logic_error("ResultFile::write to a virtual result file");
  const OutputSpec& s = d.spec;
  if (chunk.m != s.m || chunk.n != s.n)
    d.fail("", "chunk has m = " + std::to_string(chunk.m) + ", n = " + std::to_string(chunk.n) +
                   "; the file was created for m = " + std::to_string(s.m) +
                   ", n = " + std::to_string(s.n));
  const auto c = static_cast<std::size_t>(std::max(chunk.count, 0));
  if (chunk.count < 0 || chunk.first > d.count || c > d.count - chunk.first)
    d.fail("", "problems [" + std::to_string(chunk.first) + ", " + std::to_string(chunk.first + c) +
                   ") written; the file holds " + std::to_string(d.count));
  if (s.full_output && !chunk.full_output)
    d.fail("", "the file has full output but the chunk carries none");
  if (c == 0) return;

  hdf5::SilenceErrors quiet;
  const std::vector<unsigned long long>& leading = s.leading_shape;
  const std::string range =
      "[" + std::to_string(chunk.first) + ", " + std::to_string(chunk.first + c) + ")";
  for (Output& o : d.outputs) {
    const Field& f = o.field;
    // The write only reads the chunk's buffer (the accessor serves reading too).
    const auto buffer = f.buffer(const_cast<batch::Chunk&>(chunk));
    const unsigned char* base = buffer.first;
    const std::size_t have = buffer.second;
    const std::size_t need = c * f.per_problem();
    if (have < need)
      d.fail(f.name, "the chunk holds " + std::to_string(have) + " values for problems " + range +
                         "; " + std::to_string(need) + " are needed");
    const auto failed = [&] {
      d.fail(f.name, "writing problems " + range + " to " + d.partial +
                         " failed (HDF5: " + hdf5::last_error_detail() + ")");
    };
    const std::size_t problem_bytes = f.per_problem() * f.elem_bytes;
    // Problems [first, first + count) through HDF5's chunk cache.
    const auto cached = [&](std::size_t first, std::size_t count) {
      flat_range_blocks(leading, first, count, d.blocks);
      for_each_block(
          leading, f, d.blocks, d.start, d.extent, o.space.get(),
          [&](std::size_t offset, hid_t mem, hid_t file_space) {
            if (mem < 0 || H5Dwrite(o.ds.get(), f.mem_type, mem, file_space, H5P_DEFAULT,
                                    base + (first - chunk.first) * problem_bytes + offset) < 0)
              failed();
          });
    };
    if (o.raw_chunk.empty()) {
      cached(chunk.first, c);
      continue;
    }
    // The storage chunks the write covers whole go to the file as they are
    // (H5Dwrite_chunk): through the cache HDF5 would allocate each, zero it,
    // copy the values in and write it out on eviction, a third of the write
    // stage (perf, workload 1). The others, cut by the write's ends or by
    // the dataset's edge, take the cache, which keeps a cut chunk's other
    // problems at the fill value until their write.
    const std::size_t end = chunk.first + c;
    std::size_t p = chunk.first, run = chunk.first;  // [run, p): waits for the cache
    while (p < end) {
      const StorageChunk sc = storage_chunk(leading, o.raw_chunk, p, d.origin);
      const std::size_t chunk_end = sc.first + sc.count;
      if (sc.whole && sc.first == p && chunk_end <= end) {
        if (run < p) cached(run, p - run);
        d.origin.insert(d.origin.end(), f.trailing.size(), 0);
        if (H5Dwrite_chunk(o.ds.get(), H5P_DEFAULT, 0, d.origin.data(), sc.count * problem_bytes,
                           base + (p - chunk.first) * problem_bytes) < 0)
          failed();
        run = chunk_end;
      }
      p = std::min(chunk_end, end);
    }
    if (run < end) cached(run, end - run);
  }
}

void ResultFile::add_attributes(const std::vector<std::pair<std::string, std::string>>& strings,
                                const std::vector<std::pair<std::string, double>>& numbers,
                                const std::vector<std::pair<std::string, long long>>& integers) {
  Impl& d = *impl_;
  if (d.finished) throw std::logic_error("ResultFile::add_attributes after finish");
  hdf5::SilenceErrors quiet;
  const hid_t root = d.file.get();
  std::set<std::string> seen;
  auto claim = [&](const std::string& name) {
    if (name.empty()) d.fail("", "an attribute has an empty name");
    if (!seen.insert(name).second || H5Aexists(root, name.c_str()) != 0)
      d.fail("", "attribute '" + name + "' is given twice (or is one lmbatch writes itself)");
  };
  // All names first, so that a clash writes none of them.
  for (const auto& a : strings) claim(a.first);
  for (const auto& a : numbers) claim(a.first);
  for (const auto& a : integers) claim(a.first);
  auto check = [&](bool ok, const std::string& name) {
    if (!ok)
      d.fail("", "cannot write attribute '" + name + "' to " + d.partial +
                     " (HDF5: " + hdf5::last_error_detail() + ")");
  };
  for (const auto& [name, value] : strings)
    check(hdf5::write_string_attribute(root, name, {value}, true), name);
  for (const auto& [name, value] : numbers)
    check(hdf5::write_number_attribute(root, name, value), name);
  for (const auto& [name, value] : integers)
    check(hdf5::write_integer_attribute(root, name, value), name);
}

void ResultFile::finish() {
  Impl& d = *impl_;
  if (d.finished) throw std::logic_error("ResultFile::finish called twice");
  hdf5::SilenceErrors quiet;
  // Flush and close explicitly: this is where a full disk shows up, and it
  // must show up before the file gets its real name.
  if (H5Fflush(d.file.get(), H5F_SCOPE_LOCAL) < 0)
    d.fail("", "flushing " + d.partial + " failed (HDF5: " + hdf5::last_error_detail() + ")");
  for (Output& o : d.outputs) {
    o.space.close();
    if (!o.ds.close())
      d.fail(o.field.name,
             "closing it in " + d.partial + " failed (HDF5: " + hdf5::last_error_detail() + ")");
  }
  if (!d.file.close())
    d.fail("", "closing " + d.partial + " failed (HDF5: " + hdf5::last_error_detail() + ")");
  // The rename is atomic, but without fsync a crash soon after could leave
  // the new name pointing at data still in the page cache.
  const int fd = ::open(d.partial.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    d.fail("", "syncing " + d.partial + " failed: " + std::strerror(err));
  }
  ::close(fd);

  std::error_code ec;
  // The constructor checked this too; it is checked again in case the file
  // appeared while the fit ran.
  if (!d.spec.overwrite && fs::exists(d.spec.path, ec))
    d.fail("",
           "appeared while the results were written; refusing to replace it without "
           "overwrite (the results are in " +
               d.partial + ")");
  fs::rename(d.partial, d.spec.path, ec);
  if (ec) d.fail("", "renaming " + d.partial + " to " + d.spec.path + " failed: " + ec.message());
  d.finished = true;
}

struct ResultFileReader::Impl {
  std::string path;
  hdf5::File file;
  std::vector<unsigned long long> leading;
  std::size_t count = 1;
  int m = 0, n = 0;
  bool full = false;
  std::vector<Output> outputs;
  std::vector<Block> blocks;
  std::vector<hsize_t> start, extent;

  [[noreturn]] void fail(const std::string& dataset, const std::string& message) const {
    throw Error(path, dataset, message);
  }
  hdf5::Dataset open(const std::string& name) const {
    if (H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) <= 0) fail(name, "is missing");
    hdf5::Dataset ds(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT));
    if (!ds) fail(name, "cannot be opened (HDF5: " + hdf5::last_error_detail() + ")");
    return ds;
  }
  bool without_pegged = false;  // an older file: /pegged reads as 0
  Output& output(const std::string& name) {
    for (Output& o : outputs)
      if (o.field.name == name) return o;
    fail(name, "is not a result dataset of this file");
  }
};

ResultFileReader::ResultFileReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.path = path;
  hdf5::SilenceErrors quiet;
  d.file = hdf5::open_readonly(path);
  const auto format = hdf5::read_string_attribute(d.file.get(), "lmbatch_format");
  if (!format || format->size() != 1 || (*format)[0] != "result/1")
    d.fail("", "is not an lmbatch result file (no lmbatch_format = result/1)");
  const auto samples = hdf5::read_number_attribute(d.file.get(), "samples");
  if (!samples || *samples < 1 || *samples > 1e9 || *samples != std::floor(*samples))
    d.fail("", "has no valid `samples` attribute ");
  d.m = static_cast<int>(*samples);
  {
    const hdf5::Dataset x = d.open("/x");
    const hdf5::Dataspace space(H5Dget_space(x.get()));
    const auto dims = hdf5::dims_of(space.get());
    if (dims.empty() || dims.back() < 1 || dims.back() > 100000)
      d.fail("/x", "has shape " + hdf5::shape_text(dims) + "; expected (..., n)");
    d.n = static_cast<int>(dims.back());
    d.leading.assign(dims.begin(), dims.end() - 1);
  }
  for (auto dim : d.leading) d.count *= static_cast<std::size_t>(dim);
  d.full = H5Lexists(d.file.get(), "/fvec", H5P_DEFAULT) > 0;
  for (Field& f : result_fields(d.m, d.n, d.full)) {
    // Files written before constraints (issue #16) have no /pegged: read as
    // 0, every parameter free, which is what those runs were.
    if (f.name == "/pegged" && H5Lexists(d.file.get(), "/pegged", H5P_DEFAULT) <= 0) {
      d.without_pegged = true;
      continue;
    }
    // /start came after the format's first files: a file without it reads
    // as never written there (-1).
    if (f.name == "/start" && H5Lexists(d.file.get(), "/start", H5P_DEFAULT) <= 0) continue;
    Output o{std::move(f), {}, {}, {}};
    o.ds = d.open(o.field.name);
    o.space = hdf5::Dataspace(H5Dget_space(o.ds.get()));
    std::vector<hsize_t> want(d.leading.begin(), d.leading.end());
    want.insert(want.end(), o.field.trailing.begin(), o.field.trailing.end());
    const auto dims = hdf5::dims_of(o.space.get());
    if (dims != want)
      d.fail(o.field.name,
             "has shape " + hdf5::shape_text(dims) + "; expected " + hdf5::shape_text(want));
    d.outputs.push_back(std::move(o));
  }
}

ResultFileReader::~ResultFileReader() = default;
ResultFileReader::ResultFileReader(ResultFileReader&&) noexcept = default;
ResultFileReader& ResultFileReader::operator=(ResultFileReader&&) noexcept = default;
const std::string& ResultFileReader::path() const noexcept {
  return impl_->path;
}
const std::vector<unsigned long long>& ResultFileReader::leading_shape() const noexcept {
  return impl_->leading;
}
std::size_t ResultFileReader::problem_count() const noexcept {
  return impl_->count;
}
int ResultFileReader::m() const noexcept {
  return impl_->m;
}
int ResultFileReader::n() const noexcept {
  return impl_->n;
}
bool ResultFileReader::full_output() const noexcept {
  return impl_->full;
}
hid_t ResultFileReader::root() const noexcept {
  return impl_->file.get();
}

void ResultFileReader::read(std::size_t first, int count, batch::Chunk& chunk) {
  Impl& d = *impl_;
  if (count < 0 || first > d.count || static_cast<std::size_t>(count) > d.count - first)
    d.fail("", "problems [" + std::to_string(first) + ", " + std::to_string(first + count) +
                   ") read; the file holds " + std::to_string(d.count));
  chunk.reserve(count, d.m, d.n, d.full);
  chunk.first = first;
  chunk.count = count;
  if (d.without_pegged) std::fill(chunk.pegged.begin(), chunk.pegged.end(), std::int8_t{0});
  std::fill(chunk.start.begin(), chunk.start.end(),
            static_cast<std::int8_t>(batch::StartCode::never_written));
  if (count == 0) return;
  hdf5::SilenceErrors quiet;
  flat_range_blocks(d.leading, first, static_cast<std::size_t>(count), d.blocks);
  const std::string range =
      "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")";
  for (Output& o : d.outputs) {
    const Field& f = o.field;
    unsigned char* base = f.buffer(chunk).first;
    for_each_block(d.leading, f, d.blocks, d.start, d.extent, o.space.get(),
                   [&](std::size_t offset, hid_t mem, hid_t file_space) {
                     if (mem < 0 || H5Dread(o.ds.get(), f.mem_type, mem, file_space, H5P_DEFAULT,
                                            base + offset) < 0)
                       d.fail(f.name, "reading problems " + range +
                                          " failed (HDF5: " + hdf5::last_error_detail() + ")");
                   });
  }
}

std::size_t ResultFileReader::values_per_problem(const std::string& dataset) const {
  return impl_->output(dataset).field.per_problem();
}

hid_t ResultFileReader::dataset(const std::string& name) const {
  return impl_->output(name).ds.get();
}

void ResultFileReader::read(const std::string& dataset, std::size_t first, std::size_t count,
                            std::vector<double>& out) {
  Impl& d = *impl_;
  Output& o = d.output(dataset);
  if (first > d.count || count > d.count - first)
    d.fail(dataset, "problems [" + std::to_string(first) + ", " + std::to_string(first + count) +
                        ") read; the file holds " + std::to_string(d.count));
  // The same blocks as read(chunk), into doubles: HDF5 converts the integer
  // datasets exactly (every int16 and int32 is a double).
  Field f = o.field;
  f.mem_type = H5T_NATIVE_DOUBLE;
  f.elem_bytes = sizeof(double);
  out.resize(count * f.per_problem());
  if (count == 0) return;
  hdf5::SilenceErrors quiet;
  flat_range_blocks(d.leading, first, count, d.blocks);
  auto* base = reinterpret_cast<unsigned char*>(out.data());
  for_each_block(d.leading, f, d.blocks, d.start, d.extent, o.space.get(),
                 [&](std::size_t offset, hid_t mem, hid_t file_space) {
                   if (mem < 0 || H5Dread(o.ds.get(), f.mem_type, mem, file_space, H5P_DEFAULT,
                                          base + offset) < 0)
                     d.fail(f.name, "reading problems [" + std::to_string(first) + ", " +
                                        std::to_string(first + count) +
                                        ") failed (HDF5: " + hdf5::last_error_detail() + ")");
                 });
}

std::vector<ResultFileReader::Attribute> ResultFileReader::root_attributes() const {
  const hid_t root = impl_->file.get();
  hdf5::SilenceErrors quiet;
  std::vector<Attribute> out;
  for (const std::string& name : hdf5::attribute_names(root)) {
    const hdf5::Attribute attr(H5Aopen(root, name.c_str(), H5P_DEFAULT));
    if (!attr) continue;
    const hdf5::Datatype type(H5Aget_type(attr.get()));
    const hdf5::Dataspace space(H5Aget_space(attr.get()));
    if (!type || !space) continue;
    Attribute a{name, hdf5::type_name(type.get()), {}, {}};
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_STRING) {
      auto values = hdf5::read_string_attribute(root, name);
      if (!values) continue;
      a.strings = std::move(*values);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
      const hssize_t points = H5Sget_simple_extent_npoints(space.get());
      // A bound on what is worth showing; no attribute lmbatch writes comes near.
      constexpr hssize_t kMaxShown = 4096;
      if (points < 0 || points > kMaxShown) continue;
      a.numbers.resize(static_cast<std::size_t>(points));
      if (points > 0 && H5Aread(attr.get(), H5T_NATIVE_DOUBLE, a.numbers.data()) < 0) continue;
    }
    out.push_back(std::move(a));
  }
  return out;
}

Compression parse_compression(const std::string& name) {
  if (name == "integers") return Compression::integers;
  if (name == "all" || name == "gzip") return Compression::all;
  if (name == "none") return Compression::none;
  throw std::invalid_argument("compression must be integers, all (or gzip) or none, not '" + name +
                              "'");
}

}  // namespace lmbatch::io
