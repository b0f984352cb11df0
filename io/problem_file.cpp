#include "lmbatch/io/problem_file.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "lmbatch/io/direct_chunks.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/hyperslab.hpp"

namespace lmbatch::io {

namespace {

using batch::Layout;
using hdf5::shape_text;

// Shortest round-trip text of a double, as Python prints it ("0.1", "nan").
std::string number_text(double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// "(50, d)": a shape with a trailing predictor dimension, for messages.
std::string shape_with_d(const std::vector<hsize_t>& dims) {
  std::string s = "(";
  for (const hsize_t dim : dims) s += std::to_string(dim) + ", ";
  return s + "d)";
}

// Whether an integer or float type's bit fields fit its bytes. HDF5 1.10 trusts them
// when converting, and a corrupt file's (precision 0, say) crashes the conversion.
bool bit_fields_fit(hid_t type) {
  const std::size_t bits = H5Tget_size(type) * 8, precision = H5Tget_precision(type);
  const int offset = H5Tget_offset(type);
  if (bits == 0 || precision == 0 || offset < 0 ||
      precision > bits - std::min(bits, static_cast<std::size_t>(offset)))
    return false;
  if (H5Tget_class(type) != H5T_FLOAT) return true;
  std::size_t spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0;
  if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return esize > 0 && msize > 0 && spos < bits && epos + esize <= bits && mpos + msize <= bits;
}

std::vector<hsize_t> with_last(std::vector<hsize_t> dims, hsize_t last) {
  dims.push_back(last);
  return dims;
}

// Names of up to `limit` datasets in the file, for "not found" messages: the
// most common mistake is a different name (/data, /Y, /group/y).
std::string dataset_names(hid_t file, std::size_t limit) {
  struct Acc {
    std::vector<std::string> names;
    std::size_t total = 0;
  } acc;
  auto visit = [](hid_t group, const char* name, const H5L_info_t* info, void* data) -> herr_t {
    if (info->type != H5L_TYPE_HARD) return 0;
    hdf5::Object obj(H5Oopen(group, name, H5P_DEFAULT));
    if (obj && H5Iget_type(obj.get()) == H5I_DATASET) {
      auto* a = static_cast<Acc*>(data);
      a->names.push_back(std::string("/") + name);
      ++a->total;
    }
    return 0;
  };
  H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, &acc);
  if (acc.names.empty()) return "the file has no datasets";
  std::string s = "datasets in the file: ";
  for (std::size_t i = 0; i < acc.names.size() && i < limit; ++i)
    s += (i ? ", " : "") + acc.names[i];
  if (acc.total > limit) s += ", ... (" + std::to_string(acc.total) + " in all)";
  return s;
}

// A prime >= n, for the chunk cache's hash table (HDF5 asks for a prime).
std::size_t prime_at_least(std::size_t n) {
  auto is_prime = [](std::size_t v) {
    if (v < 2) return false;
    for (std::size_t d = 2; d * d <= v; ++d)
      if (v % d == 0) return false;
    return true;
  };
  while (!is_prime(n)) ++n;
  return n;
}

// The most memory one input's decoded chunks may take (HDF5's chunk cache or
// the direct reader's chunk); beyond it reads stay correct, only slower.
constexpr std::size_t kMaxCacheBytes = std::size_t{256} << 20;

// One input dataset (y, x, sigma or x0) as opened and checked.
struct Input {
  std::string name;  // path in the file; empty: absent
  hdf5::Dataset ds;
  hdf5::Dataspace file_space;  // reused for every hyperslab selection
  std::vector<hsize_t> dims;
  std::string type;
  Layout layout = Layout::absent;
  std::vector<double> shared;  // the values when layout == shared
  // Chunks decoded here rather than by H5Dread, where the layout allows
  // (direct_chunks.hpp); null otherwise.
  std::unique_ptr<DirectChunks> direct;
};

}  // namespace

struct ProblemFile::Impl {
  InputSpec spec;  // resolved (see resolve_defaults)
  DefaultedInputs defaulted;
  int n = 0;
  hdf5::File file;  // declared first: destroyed after the datasets
  Input y, x, sigma, x0, lower, upper, fixed;
  std::vector<hsize_t> leading;
  std::size_t count = 0;
  int m = 0;
  int d = 1;  // predictors per sample in x (x1..xd when >= 2)
  // Scratch reused by every read (no allocation per chunk once grown).
  std::vector<Block> blocks;
  std::vector<hsize_t> start, extent;

  [[noreturn]] void fail(const std::string& dataset, const std::string& message,
                         std::optional<std::size_t> problem = std::nullopt) const {
    // An input nobody named must not fail a run without saying why it was read.
    const auto hint = [&](const std::string& which, const std::string& name, bool by_default) {
      return by_default && !dataset.empty() && dataset == name
                 ? " (read as " + which + " by default because the file has it; name another " +
                       "dataset, or \"" + kNoDataset + "\" to leave " + which + " out)"
                 : std::string();
    };
    throw Error(spec.path, dataset,
                message + hint("x", spec.x, defaulted.x) +
                    hint("sigma", spec.sigma, defaulted.sigma) + hint("x0", spec.x0, defaulted.x0),
                problem);
  }

  // Whether the file's root has a link named `name` ("/x"): a default input
  // is taken when it exists, whatever it is (a group or a string dataset is
  // then reported, with the hint above, rather than silently ignored).
  bool has_link(const std::string& name) const {
    return H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) > 0;
  }

  // "" -> the default dataset if the file has it, else absent; "none" ->
  // absent. Leaves every field a dataset path or empty. A default that is
  // already named for another input (--y /x) is not taken again: y's samples
  // would silently become their own positions.
  void resolve_defaults() {
    const auto named_elsewhere = [&](const std::string& name) {
      return name == spec.y || name == spec.x || name == spec.sigma || name == spec.x0 ||
             name == spec.lower || name == spec.upper || name == spec.fixed;
    };
    const auto resolve = [&](std::string& field, const char* default_name, bool& by_default) {
      if (field == kNoDataset) {
        field.clear();
      } else if (field.empty() && !named_elsewhere(default_name) && has_link(default_name)) {
        field = default_name;
        by_default = true;
      }
    };
    resolve(spec.x, "/x", defaulted.x);
    resolve(spec.sigma, "/sigma", defaulted.sigma);
    resolve(spec.x0, "/x0", defaulted.x0);
  }

  // y's last dimension is m, the leading ones number the problems.
  void set_shape() {
    const hsize_t last = y.dims.back();
    if (last == 0)
      fail(y.name, "has shape " + shape_text(y.dims) +
                       ": its last dimension (m, the samples per problem) is 0");
    if (last > static_cast<hsize_t>(INT_MAX))
      fail(y.name, "has " + std::to_string(last) + " samples per problem; at most " +
                       std::to_string(INT_MAX) + " are supported");
    m = static_cast<int>(last);
    leading.assign(y.dims.begin(), y.dims.end() - 1);
    count = 1;
    for (hsize_t dim : leading) count *= static_cast<std::size_t>(dim);
  }

  // Opens `name` and checks that it is a dataset of a numeric type with a
  // simple dataspace. Fills everything but the layout.
  void open_input(Input& in, const std::string& name) {
    in.name = name;
    // Walk the path one link at a time: H5Lexists on "/a/b" fails (rather
    // than answering no) when "/a" itself is missing.
    std::string prefix;
    std::size_t pos = 0;
    while (pos < name.size()) {
      const std::size_t next = name.find('/', pos);
      const std::size_t end = next == std::string::npos ? name.size() : next;
      if (end > pos) {
        prefix += (prefix.empty() && name[0] != '/') ? "" : "/";
        prefix += name.substr(pos, end - pos);
        if (H5Lexists(file.get(), prefix.c_str(), H5P_DEFAULT) <= 0)
          fail(name, "not found (" + dataset_names(file.get(), 8) + ")");
      }
      pos = end + 1;
    }
    {
      hdf5::Object obj(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT));
      if (!obj) fail(name, "cannot be opened (HDF5: " + hdf5::last_error_detail() + ")");
      if (H5Iget_type(obj.get()) != H5I_DATASET)
        fail(name, "is a group, not a dataset (" + dataset_names(file.get(), 8) + ")");
    }
    in.ds = hdf5::Dataset(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT));
    if (!in.ds) fail(name, "cannot be opened (HDF5: " + hdf5::last_error_detail() + ")");

    hdf5::Datatype type(H5Dget_type(in.ds.get()));
    in.type = hdf5::type_name(type.get());
    const H5T_class_t cls = H5Tget_class(type.get());
    // Floats are converted exactly (float32 -> double) and integers as the
    // nearest double; anything else has no meaning as samples.
    if (cls != H5T_FLOAT && cls != H5T_INTEGER)
      fail(name, "has type " + in.type +
                     "; expected a numeric type (float32, float64 or an integer type)");
    // A corrupt type message (precision 0, bits outside the type's bytes) crashes HDF5
    // 1.10's conversion to double (SIGBUS in H5T__bit_copy; found by fuzz_problem_file).
    if (!bit_fields_fit(type.get()))
      fail(name, "has a corrupt datatype (" + in.type + " with inconsistent bit fields)");
    // A type declaring more bytes than any float or integer has (a corrupt
    // file's 1032-byte "float64") makes HDF5 1.10's conversion to double read
    // size x count bytes past its own buffer (heap overflow in H5VM_memcpyvv;
    // found by fuzz_problem_file, kept as regression_hdf5_1032_byte_float.h5).
    if (const std::size_t bytes = H5Tget_size(type.get()); bytes > (cls == H5T_FLOAT ? 16 : 8))
      fail(name, "has type " + in.type + " of " + std::to_string(bytes) +
                     " bytes; samples must be floats of at most 16 bytes or integers of at most 8");

    in.file_space = hdf5::Dataspace(H5Dget_space(in.ds.get()));
    const H5S_class_t space_class = H5Sget_simple_extent_type(in.file_space.get());
    if (space_class == H5S_NULL) fail(name, "is empty (null dataspace)");
    if (space_class == H5S_SCALAR)
      fail(name,
           "is a scalar; expected an array" + std::string(&in == &y ? " of shape (..., m)" : ""));
    in.dims = hdf5::dims_of(in.file_space.get());

    check_compact_size(in);
    check_filters(in);
    in.direct = DirectChunks::open(in.ds.get(), kMaxCacheBytes);
    // H5Dread then only reads the chunks the direct reader declines: HDF5's
    // default cache will do, rather than a second copy of every chunk.
    if (!in.direct) tune_chunk_cache(in);
  }

  // A compact dataset keeps its data in its header; a corrupt header can
  // declare fewer bytes there than the dataspace holds (none at all), and
  // HDF5 1.10's read then copies from a null buffer (SIGSEGV in H5Dread;
  // h5py crashes the same way; found by fuzz_problem_file, kept as
  // regression_hdf5_compact_without_data.h5).
  void check_compact_size(const Input& in) {
    hdf5::PropList dcpl(H5Dget_create_plist(in.ds.get()));
    if (H5Pget_layout(dcpl.get()) != H5D_COMPACT) return;
    hdf5::Datatype type(H5Dget_type(in.ds.get()));
    const auto elements = static_cast<hsize_t>(H5Sget_simple_extent_npoints(in.file_space.get()));
    const hsize_t needed = elements * H5Tget_size(type.get()),
                  stored = H5Dget_storage_size(in.ds.get());
    if (stored < needed)
      fail(in.name, "is corrupt: its compact storage holds " + std::to_string(stored) +
                        " bytes, its " + std::to_string(elements) + " elements of " + in.type +
                        " need " + std::to_string(needed));
  }

  // A dataset written with a filter this HDF5 lacks (blosc, lz4, ... from
  // hdf5plugin) opens fine and fails at the first read; say so up front.
  void check_filters(const Input& in) {
    hdf5::PropList dcpl(H5Dget_create_plist(in.ds.get()));
    const int nfilters = H5Pget_nfilters(dcpl.get());
    for (int i = 0; i < nfilters; ++i) {
      unsigned flags = 0, config = 0;
      std::size_t nvalues = 0;
      char fname[64] = {};
      const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues,
                                             nullptr, sizeof fname, fname, &config);
      // An optional filter may have been skipped when writing; only a
      // mandatory one is certain to be needed.
      if (id >= 0 && !(flags & H5Z_FLAG_OPTIONAL) && H5Zfilter_avail(id) <= 0)
        fail(in.name, "is compressed with HDF5 filter " + std::to_string(id) +
                          (fname[0] ? std::string(" (") + fname + ")" : std::string()) +
                          ", which this HDF5 library cannot decode; rewrite it with gzip or "
                          "no compression where the filter is installed (e.g. h5py with "
                          "hdf5plugin)");
    }
  }

  // Reading a flat range sweeps the first leading dimension slowest, so every
  // storage chunk of one "slab" of chunks along that dimension is touched
  // before the sweep moves on. If the cache holds such a slab each chunk is
  // decompressed once; HDF5's default (1 MiB) would decompress a large chunk
  // again for every read that touches it. Capped so memory stays bounded;
  // beyond the cap reads stay correct, only slower.
  void tune_chunk_cache(Input& in) {
    hdf5::PropList dcpl(H5Dget_create_plist(in.ds.get()));
    if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED || in.dims.empty()) return;
    std::vector<hsize_t> cdims(in.dims.size());
    if (H5Pget_chunk(dcpl.get(), static_cast<int>(cdims.size()), cdims.data()) < 0) return;
    hdf5::Datatype type(H5Dget_type(in.ds.get()));
    std::size_t chunk_bytes = H5Tget_size(type.get());
    for (hsize_t c : cdims) chunk_bytes *= static_cast<std::size_t>(c);
    std::size_t slab_chunks = 1;
    for (std::size_t k = 1; k < in.dims.size(); ++k)
      slab_chunks *= static_cast<std::size_t>((in.dims[k] + cdims[k] - 1) / cdims[k]);
    constexpr std::size_t min_bytes = std::size_t{1} << 20, max_bytes = kMaxCacheBytes;
    const std::size_t want = (slab_chunks + 1) * chunk_bytes;
    const std::size_t nbytes = std::clamp(want, min_bytes, max_bytes);
    if (nbytes == min_bytes && chunk_bytes < min_bytes) return;  // the default will do
    const std::size_t nslots = prime_at_least(std::max<std::size_t>(521, 10 * (slab_chunks + 1)));
    hdf5::PropList dapl(H5Pcreate(H5P_DATASET_ACCESS));
    if (!dapl || H5Pset_chunk_cache(dapl.get(), nslots, nbytes, 0.75) < 0) return;
    // Close first: HDF5 shares one dataset object (and its cache) among all
    // open handles, so a second open while the first is alive would ignore
    // the new access properties.
    dcpl.close();
    type.close();
    in.ds.close();
    in.ds = hdf5::Dataset(H5Dopen2(file.get(), in.name.c_str(), dapl.get()));
    if (!in.ds) fail(in.name, "cannot be opened (HDF5: " + hdf5::last_error_detail() + ")");
  }

  // Reads a whole (small, shared) dataset as doubles.
  void read_all(Input& in) {
    std::size_t total = 1;
    for (hsize_t d : in.dims) total *= static_cast<std::size_t>(d);
    in.shared.resize(total);
    if (H5Dread(in.ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, in.shared.data()) <
        0)
      fail(in.name, "read failed (HDF5: " + hdf5::last_error_detail() + ")");
  }

  // x or sigma: (m) shared or y's shape per problem.
  void classify_samples(Input& in) {
    const auto shared_shape = std::vector<hsize_t>{static_cast<hsize_t>(m)};
    if (in.dims == shared_shape) {
      in.layout = Layout::shared;
      read_all(in);
    } else if (in.dims == y.dims) {
      in.layout = Layout::per_problem;
    } else {
      fail(in.name, "shape " + shape_text(in.dims) + " does not fit " + y.name + " of shape " +
                        shape_text(y.dims) + ": expected " + shape_text(shared_shape) +
                        " (shared by all problems) or " + shape_text(y.dims) + " (per problem)");
    }
  }

  // x: (m) shared or y's shape per problem, one predictor per sample; or with
  // a trailing predictor dimension d >= 2, (m, d) shared or y's shape + (d)
  // per problem. y's own shape is always one predictor per problem (it wins
  // over (m, d) when the two coincide).
  void classify_x(Input& in) {
    const auto shared_shape = std::vector<hsize_t>{static_cast<hsize_t>(m)};
    const bool trailing = in.dims.size() >= 2;
    const hsize_t last = trailing ? in.dims.back() : 0;
    const std::vector<hsize_t> head =
        trailing ? std::vector<hsize_t>(in.dims.begin(), in.dims.end() - 1) : in.dims;
    const bool shared_head = head == shared_shape, per_head = head == y.dims;
    if (in.dims == shared_shape || in.dims == y.dims) {
      classify_samples(in);
      return;
    }
    if (trailing && (shared_head || per_head) && last >= 2) {
      if (last > static_cast<hsize_t>(INT_MAX))
        fail(in.name, "has " + std::to_string(last) + " predictors per sample; at most " +
                          std::to_string(INT_MAX) + " are supported");
      d = static_cast<int>(last);
      if (shared_head) {
        in.layout = Layout::shared;
        read_all(in);
      } else {
        in.layout = Layout::per_problem;
      }
      return;
    }
    // A 1-D y is one problem: its shared and per-problem forms are the same.
    const std::string expected =
        y.dims == shared_shape
            ? "expected " + shape_text(shared_shape) +
                  "; with d >= 2 predictors per sample (x1..xd), " + shape_with_d(shared_shape)
            : "expected " + shape_text(shared_shape) + " (shared by all problems) or " +
                  shape_text(y.dims) + " (per problem); with d >= 2 predictors per sample " +
                  "(x1..xd), " + shape_with_d(shared_shape) + " or " + shape_with_d(y.dims);
    if (trailing && (shared_head || per_head))
      fail(in.name, "shape " + shape_text(in.dims) + " has a trailing predictor dimension of " +
                        std::to_string(last) + "; " + expected);
    fail(in.name, "shape " + shape_text(in.dims) + " does not fit " + y.name + " of shape " +
                      shape_text(y.dims) + ": " + expected);
  }

  // x0: (n) shared or leading shape + (n) per problem. The constraint inputs
  // (lower, upper, fixed) take the same shapes; what must be finite is
  // checked by the caller (check_finite false: bounds, where NaN means none).
  void classify_x0(Input& in, bool check_finite = true) {
    const auto shared_shape = std::vector<hsize_t>{static_cast<hsize_t>(n)};
    const auto per_shape = with_last(leading, static_cast<hsize_t>(n));
    if (in.dims == shared_shape) {
      in.layout = Layout::shared;
      read_all(in);
      for (std::size_t k = 0; k < in.shared.size() && check_finite; ++k)
        if (!std::isfinite(in.shared[k]))
          fail(in.name, "x0[" + std::to_string(k) + "] = " + number_text(in.shared[k]) +
                            "; starting values must be finite");
    } else if (in.dims == per_shape) {
      in.layout = Layout::per_problem;
    } else {
      fail(in.name, "shape " + shape_text(in.dims) + " does not fit " + y.name + " of shape " +
                        shape_text(y.dims) + " with " + std::to_string(n) +
                        " parameters: expected " + shape_text(shared_shape) +
                        " (shared by all problems) or " + shape_text(per_shape) + " (per problem)");
    }
  }

  // Reads problems [first, first + count) of a per-problem input whose rows
  // hold `row` values, into dst (count x row), one hyperslab per block. The
  // row is the dataset's last dimension, or its last two (m x d) when
  // `predictors` > 1.
  void read_rows(Input& in, std::size_t first, std::size_t n_problems, std::size_t row, double* dst,
                 int predictors = 1) {
    // Problem p's values are the elements [p row, (p + 1) row) of the
    // dataset's flat order, whatever the leading shape.
    if (in.direct && in.direct->read(first * row, n_problems * row, dst)) return;
    flat_range_blocks(leading, first, n_problems, blocks);
    for (const Block& blk : blocks) {
      start.assign(blk.start.begin(), blk.start.end());
      extent.assign(blk.count.begin(), blk.count.end());
      start.push_back(0);
      if (predictors > 1) {
        extent.push_back(static_cast<hsize_t>(row / static_cast<std::size_t>(predictors)));
        start.push_back(0);
        extent.push_back(static_cast<hsize_t>(predictors));
      } else {
        extent.push_back(static_cast<hsize_t>(row));
      }
      // The memory space has the block's own shape, not a flat (size * row):
      // HDF5 1.10 maps memory onto chunks element by element unless the two
      // selections have the same shape, which made reads several times slower.
      hdf5::Dataspace mem(
          H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
      if (!mem ||
          H5Sselect_hyperslab(in.file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                              extent.data(), nullptr) < 0 ||
          H5Dread(in.ds.get(), H5T_NATIVE_DOUBLE, mem.get(), in.file_space.get(), H5P_DEFAULT,
                  dst + blk.offset * row) < 0)
        fail(in.name, "reading problems [" + std::to_string(first) + ", " +
                          std::to_string(first + n_problems) +
                          ") failed (HDF5: " + hdf5::last_error_detail() + ")");
    }
  }

  // Index text into a dataset for messages: "12, 34, 7" (per problem) or "7".
  std::string element_index(const Input& in, std::size_t problem, std::size_t j) const {
    if (in.layout == Layout::shared || leading.empty()) return std::to_string(j);
    return index_text(leading, problem) + ", " + std::to_string(j);
  }
};

ProblemFile::ProblemFile(InputSpec spec, int n_params) : impl_(std::make_unique<Impl>()) {
  if (n_params < 0) throw std::invalid_argument("ProblemFile: n_params must be >= 0");
  if (n_params == 0 && !spec.x0.empty() && spec.x0 != kNoDataset)
    throw std::invalid_argument("ProblemFile: x0 cannot be checked without a parameter count");
  Impl& d = *impl_;
  d.spec = std::move(spec);
  d.n = n_params;
  if (d.spec.y.empty() || d.spec.y == kNoDataset) d.fail("", "no dataset named for y");
  d.file = hdf5::open_readonly(d.spec.path);
  hdf5::SilenceErrors quiet;
  d.resolve_defaults();

  d.open_input(d.y, d.spec.y);
  d.set_shape();
  if (!d.spec.x.empty()) {
    d.open_input(d.x, d.spec.x);
    d.classify_x(d.x);
  }
  if (!d.spec.sigma.empty()) {
    d.open_input(d.sigma, d.spec.sigma);
    d.classify_samples(d.sigma);
  }
  if (!d.spec.x0.empty() && d.n > 0) {  // n = 0: a default /x0 is only recorded
    d.open_input(d.x0, d.spec.x0);
    d.classify_x0(d.x0);
  }
  for (auto [input, name] : {std::pair{&d.lower, &d.spec.lower}, std::pair{&d.upper, &d.spec.upper},
                             std::pair{&d.fixed, &d.spec.fixed}}) {
    if (name->empty() || *name == kNoDataset) {
      name->clear();
      continue;
    }
    if (d.n <= 0)
      throw std::invalid_argument(
          "ProblemFile: constraints cannot be checked without a "
          "parameter count");
    d.open_input(*input, *name);
    d.classify_x0(*input, false);
    // The mask holds a parameter where it is non-zero; NaN says nothing.
    for (std::size_t k = 0; input == &d.fixed && k < input->shared.size(); ++k)
      if (std::isnan(input->shared[k]))
        d.fail(input->name, "fixed[" + std::to_string(k) +
                                "] is NaN; the mask must be 0 (free) "
                                "or non-zero (held)");
  }
}

ProblemFile::~ProblemFile() {
  // Closing can fail (e.g. a full disk on a last flush); nothing can be done
  // about it here, so HDF5 must not print its error stack either.
  hdf5::SilenceErrors quiet;
  impl_.reset();
}
ProblemFile::ProblemFile(ProblemFile&&) noexcept = default;
ProblemFile& ProblemFile::operator=(ProblemFile&&) noexcept = default;

const InputSpec& ProblemFile::spec() const noexcept {
  return impl_->spec;
}
const DefaultedInputs& ProblemFile::defaulted() const noexcept {
  return impl_->defaulted;
}

std::string ProblemFile::inputs_text() const {
  const Impl& d = *impl_;
  const auto text = [](const std::string& name, bool by_default, const char* absent) {
    return name.empty() ? std::string(absent) : name + (by_default ? " (default)" : "");
  };
  std::string s = "x: " + text(d.spec.x, d.defaulted.x, "absent (0..m-1)") +
                  ", sigma: " + text(d.spec.sigma, d.defaulted.sigma, "absent (1)");
  if (!d.spec.x0.empty()) s += ", x0: " + text(d.spec.x0, d.defaulted.x0, "");
  if (!d.spec.lower.empty()) s += ", lower: " + d.spec.lower;
  if (!d.spec.upper.empty()) s += ", upper: " + d.spec.upper;
  if (!d.spec.fixed.empty()) s += ", fixed: " + d.spec.fixed;
  return s;
}

const std::vector<unsigned long long>& ProblemFile::leading_shape() const noexcept {
  return impl_->leading;
}
std::size_t ProblemFile::problem_count() const noexcept {
  return impl_->count;
}
int ProblemFile::m() const noexcept {
  return impl_->m;
}
int ProblemFile::n() const noexcept {
  return impl_->n;
}
int ProblemFile::predictors() const noexcept {
  return impl_->d;
}
batch::Layout ProblemFile::x_layout() const noexcept {
  return impl_->x.layout;
}
batch::Layout ProblemFile::sigma_layout() const noexcept {
  return impl_->sigma.layout;
}
batch::Layout ProblemFile::x0_layout() const noexcept {
  return impl_->x0.layout;
}
const std::string& ProblemFile::y_type() const noexcept {
  return impl_->y.type;
}

void ProblemFile::read(std::size_t first, int count, batch::Chunk& chunk) {
  Impl& d = *impl_;
  if (count < 0 || first > d.count || static_cast<std::size_t>(count) > d.count - first)
    d.fail(d.y.name, "problems [" + std::to_string(first) + ", " +
                         std::to_string(first + static_cast<std::size_t>(std::max(count, 0))) +
                         ") requested; the file holds " + std::to_string(d.count));
  hdf5::SilenceErrors quiet;
  const auto c = static_cast<std::size_t>(count);
  const auto m = static_cast<std::size_t>(d.m), n = static_cast<std::size_t>(d.n);
  chunk.first = first;
  chunk.count = count;
  chunk.m = d.m;
  chunk.n = d.n;
  chunk.predictors = d.d;
  // Grow only: a chunk reserved for the largest count never reallocates.
  auto grow = [](std::vector<double>& v, std::size_t size) {
    if (v.size() < size) batch::resize_buffer(v, size);
  };

  grow(chunk.y, c * m);
  if (c > 0) d.read_rows(d.y, first, c, m, chunk.y.data());

  auto fill = [&](Input& in, batch::Layout& layout, std::vector<double>& dst, std::size_t row,
                  int predictors) {
    layout = in.layout;
    if (in.layout == Layout::shared) {
      dst.assign(in.shared.begin(), in.shared.end());
    } else if (in.layout == Layout::per_problem) {
      grow(dst, c * row);
      if (c > 0) d.read_rows(in, first, c, row, dst.data(), predictors);
    }
  };
  const auto dd = static_cast<std::size_t>(d.d);
  fill(d.x, chunk.x_layout, chunk.x, m * dd, d.d);
  fill(d.sigma, chunk.sigma_layout, chunk.sigma, m, 1);
  fill(d.x0, chunk.x0_layout, chunk.x0, n, 1);
  fill(d.lower, chunk.lower_layout, chunk.lower, n, 1);
  fill(d.upper, chunk.upper_layout, chunk.upper, n, 1);
  fill(d.fixed, chunk.fixed_layout, chunk.fixed, n, 1);

  // Validation. A sample is present when y (and every predictor of x, if
  // given) is finite, as the engine decides (solve_problem: NaN or +-Inf
  // marks a missing sample); sigma only matters there, so a NaN sigma at a
  // missing sample is fine.
  const bool per_x = d.x.layout == Layout::per_problem;
  const bool per_sigma = d.sigma.layout == Layout::per_problem;
  for (std::size_t i = 0; i < c; ++i) {
    const std::size_t problem = first + i;
    if (d.sigma.layout != Layout::absent) {
      const double* yi = chunk.y.data() + i * m;
      const double* xi =
          d.x.layout == Layout::absent ? nullptr : chunk.x.data() + (per_x ? i * m * dd : 0);
      const double* si = chunk.sigma.data() + (per_sigma ? i * m : 0);
      const auto x_missing = [&](std::size_t j) {
        if (!xi) return false;
        for (std::size_t v = 0; v < dd; ++v)
          if (!std::isfinite(xi[j * dd + v])) return true;
        return false;
      };
      for (std::size_t j = 0; j < m; ++j) {
        if (!std::isfinite(yi[j]) || x_missing(j)) continue;
        if (!(std::isfinite(si[j]) && si[j] > 0))
          d.fail(d.sigma.name,
                 "sigma[" + d.element_index(d.sigma, problem, j) + "] = " + number_text(si[j]) +
                     "; sigma must be finite and > 0 where the sample is present",
                 problem);
      }
    }
    if (d.fixed.layout == Layout::per_problem) {
      const double* fi = chunk.fixed.data() + i * n;
      for (std::size_t k = 0; k < n; ++k)
        if (std::isnan(fi[k]))
          d.fail(d.fixed.name,
                 "fixed[" + d.element_index(d.fixed, problem, k) +
                     "] is NaN; the mask must be 0 (free) or non-zero (held)",
                 problem);
    }
    if (d.x0.layout == Layout::per_problem) {
      const double* pi = chunk.x0.data() + i * n;
      for (std::size_t k = 0; k < n; ++k)
        if (!std::isfinite(pi[k]))
          d.fail(d.x0.name,
                 "x0[" + d.element_index(d.x0, problem, k) + "] = " + number_text(pi[k]) +
                     "; starting values must be finite",
                 problem);
    }
  }
}

// ---- describe ----

namespace {

std::string storage_text(hid_t ds) {
  hdf5::PropList dcpl(H5Dget_create_plist(ds));
  std::string s;
  switch (H5Pget_layout(dcpl.get())) {
    case H5D_CHUNKED: {
      const int rank = H5Pget_chunk(dcpl.get(), 0, nullptr);
      std::vector<hsize_t> cdims(static_cast<std::size_t>(std::max(rank, 0)));
      if (rank > 0) H5Pget_chunk(dcpl.get(), rank, cdims.data());
      s = "chunked " + shape_text(cdims);
      break;
    }
    case H5D_CONTIGUOUS:
      s = "contiguous";
      break;
    case H5D_COMPACT:
      s = "compact";
      break;
    default:
      s = "other layout";
  }
  const int nfilters = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < nfilters; ++i) {
    unsigned flags = 0, config = 0, values[8] = {};
    std::size_t nvalues = 8;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nvalues,
                                           values, sizeof name, name, &config);
    if (id == H5Z_FILTER_DEFLATE)
      s += ", gzip " + std::to_string(nvalues > 0 ? values[0] : 0);
    else if (id == H5Z_FILTER_SHUFFLE)
      s += ", shuffle";
    else if (id == H5Z_FILTER_FLETCHER32)
      s += ", fletcher32";
    else if (id == H5Z_FILTER_SZIP)
      s += ", szip";
    else
      s += ", filter " + std::to_string(id) + (name[0] ? std::string(" (") + name + ")" : "");
  }
  return s;
}

// A short rendering of a root attribute's value (strings quoted, long arrays
// elided), so that `lmbatch info` shows the model and parameter names.
std::string attribute_text(hid_t obj, const char* name) {
  hdf5::Attribute attr(H5Aopen(obj, name, H5P_DEFAULT));
  if (!attr) return "?";
  hdf5::Datatype type(H5Aget_type(attr.get()));
  hdf5::Dataspace space(H5Aget_space(attr.get()));
  const auto dims = hdf5::dims_of(space.get());
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  constexpr hssize_t max_shown = 12;
  auto quote = [](const std::string& v) {
    // One line per attribute: newlines (the ier message table has them) are
    // shown escaped.
    std::string e;
    for (char ch : v) e += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    return "\"" + (e.size() > 60 ? e.substr(0, 57) + "..." : e) + "\"";
  };
  std::string s;
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_STRING) {
    auto values = hdf5::read_string_attribute(obj, name);
    if (!values) return "string (unreadable)";
    if (dims.empty() && values->size() == 1) return quote(values->front());
    s = "[";
    for (std::size_t i = 0; i < values->size() && i < max_shown; ++i)
      s += (i ? ", " : "") + quote((*values)[i]);
    if (values->size() > max_shown) s += ", ...";
    return s + "]";
  }
  if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && count >= 0 && count <= 1024) {
    std::vector<double> v(static_cast<std::size_t>(count));
    if (count > 0 && H5Aread(attr.get(), H5T_NATIVE_DOUBLE, v.data()) < 0) return "?";
    if (dims.empty() && v.size() == 1) return number_text(v[0]);
    s = "[";
    for (std::size_t i = 0; i < v.size() && i < max_shown; ++i)
      s += (i ? ", " : "") + number_text(v[i]);
    if (v.size() > max_shown) s += ", ...";
    return s + "]";
  }
  return hdf5::type_name(type.get()) + " " + shape_text(dims);
}

}  // namespace

std::string describe(const std::string& path) {
  hdf5::File file = hdf5::open_readonly(path);
  hdf5::SilenceErrors quiet;

  struct Row {
    std::string name, type, shape, storage;
  };
  struct Acc {
    std::vector<Row> rows;
    std::size_t datasets = 0;
  } acc;
  auto visit = [](hid_t group, const char* name, const H5L_info_t* info, void* data) -> herr_t {
    auto* a = static_cast<Acc*>(data);
    const std::string full = std::string("/") + name;
    if (info->type != H5L_TYPE_HARD) {
      a->rows.push_back({full, "link", "", info->type == H5L_TYPE_SOFT ? "soft" : "external"});
      return 0;
    }
    hdf5::Object obj(H5Oopen(group, name, H5P_DEFAULT));
    if (!obj) {
      a->rows.push_back({full, "?", "", "cannot be opened"});
    } else if (H5Iget_type(obj.get()) == H5I_GROUP) {
      a->rows.push_back({full + "/", "group", "", ""});
    } else if (H5Iget_type(obj.get()) == H5I_DATASET) {
      hdf5::Datatype type(H5Dget_type(obj.get()));
      hdf5::Dataspace space(H5Dget_space(obj.get()));
      a->rows.push_back({full, hdf5::type_name(type.get()), shape_text(hdf5::dims_of(space.get())),
                         storage_text(obj.get())});
      ++a->datasets;
    } else {
      a->rows.push_back({full, "named type", "", ""});
    }
    return 0;
  };
  if (H5Lvisit(file.get(), H5_INDEX_NAME, H5_ITER_INC, visit, &acc) < 0)
    throw Error(path, "",
                "cannot list the file's contents (HDF5: " + hdf5::last_error_detail() + ")");

  std::size_t wn = 0, wt = 0, ws = 0;
  for (const Row& r : acc.rows) {
    wn = std::max(wn, r.name.size());
    wt = std::max(wt, r.type.size());
    ws = std::max(ws, r.shape.size());
  }
  std::ostringstream out;
  out << path << ": " << acc.datasets << (acc.datasets == 1 ? " dataset" : " datasets") << "\n";
  for (const Row& r : acc.rows) {
    std::string line = "  " + r.name + std::string(wn - r.name.size() + 2, ' ') + r.type;
    if (!r.shape.empty() || !r.storage.empty())
      line += std::string(wt - r.type.size() + 2, ' ') + r.shape +
              std::string(ws - r.shape.size() + 2, ' ') + r.storage;
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }

  std::vector<std::string> attrs;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  hsize_t idx = 0;
  H5Aiterate2(file.get(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &attrs);
  if (!attrs.empty()) {
    out << "attributes of /:\n";
    for (const std::string& a : attrs)
      out << "  " << a << " = " << attribute_text(file.get(), a.c_str()) << "\n";
  }
  return out.str();
}

}  // namespace lmbatch::io
