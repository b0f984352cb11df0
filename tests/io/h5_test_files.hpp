// Helpers for the io tests: a self-deleting temporary directory, and writing
// and reading small HDF5 datasets with the C API, so that each test builds
// exactly the file it needs and the suite stands alone.
#pragma once

#include <hdf5.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "lmbatch/io/hdf5.hpp"

namespace lmbatch::io::test {

namespace fs = std::filesystem;
namespace h5 = lmbatch::io::hdf5;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = fs::temp_directory_path() / ("lmbatch_io_test_" + std::to_string(::getpid()) + "_" +
                                         std::to_string(counter++) + "_" + std::to_string(stamp));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  if constexpr (std::is_same_v<T, std::int16_t>) return H5T_NATIVE_INT16;
  if constexpr (std::is_same_v<T, std::uint16_t>) return H5T_NATIVE_UINT16;
  if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
}

// Opens path for writing, creating it if needed.
inline h5::File open_rw(const std::string& path) {
  h5::SilenceErrors quiet;
  if (fs::exists(path)) return h5::File(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  return h5::File(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
}

// Writes `values` (row-major, dims) as dataset `name`, creating the file and
// any intermediate groups. chunk: optional chunk dims (then gzip as well).
template <class T>
void write_dataset(const std::string& path, const std::string& name,
                   const std::vector<hsize_t>& dims, const std::vector<T>& values,
                   const std::vector<hsize_t>& chunk = {}) {
  h5::File file = open_rw(path);
  if (!file) throw std::runtime_error("test: cannot open " + path);
  h5::Dataspace space(dims.empty()
                          ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
  h5::PropList lcpl(H5Pcreate(H5P_LINK_CREATE));
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  h5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
  if (!chunk.empty()) {
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl.get(), 4);
  }
  h5::Dataset ds(H5Dcreate2(file.get(), name.c_str(), native_type<T>(), space.get(), lcpl.get(),
                            dcpl.get(), H5P_DEFAULT));
  if (!ds) throw std::runtime_error("test: cannot create " + name);
  if (!values.empty() &&
      H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw std::runtime_error("test: cannot write " + name);
}

// A fixed-length string dataset (what numpy's "S" arrays become).
inline void write_string_dataset(const std::string& path, const std::string& name,
                                 const std::vector<std::string>& values) {
  h5::File file = open_rw(path);
  h5::Datatype type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.get(), 16);
  const hsize_t n = values.size();
  h5::Dataspace space(H5Screate_simple(1, &n, nullptr));
  std::vector<char> buf(16 * values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i) values[i].copy(buf.data() + 16 * i, 15);
  h5::Dataset ds(H5Dcreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT));
  H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
}

// A compound dataset of (double, int) records.
inline void write_compound_dataset(const std::string& path, const std::string& name, hsize_t n) {
  struct Rec {
    double a;
    int b;
  };
  h5::File file = open_rw(path);
  h5::Datatype type(H5Tcreate(H5T_COMPOUND, sizeof(Rec)));
  H5Tinsert(type.get(), "a", HOFFSET(Rec, a), H5T_NATIVE_DOUBLE);
  H5Tinsert(type.get(), "b", HOFFSET(Rec, b), H5T_NATIVE_INT);
  h5::Dataspace space(H5Screate_simple(1, &n, nullptr));
  std::vector<Rec> recs(n, Rec{1.0, 2});
  h5::Dataset ds(H5Dcreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT,
                            H5P_DEFAULT, H5P_DEFAULT));
  H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, recs.data());
}

inline void create_group(const std::string& path, const std::string& name) {
  h5::File file = open_rw(path);
  h5::Group g(H5Gcreate2(file.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
}

inline void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A dataset read back whole: its dims, file type and values as T.
template <class T>
struct ReadBack {
  std::vector<hsize_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;
  std::size_t type_size = 0;
  std::vector<T> values;
  std::vector<hsize_t> chunk;  // empty if not chunked
  bool gzip = false;
};

template <class T>
ReadBack<T> read_dataset(const std::string& path, const std::string& name) {
  h5::SilenceErrors quiet;
  h5::File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file) throw std::runtime_error("test: cannot open " + path);
  h5::Dataset ds(H5Dopen2(file.get(), name.c_str(), H5P_DEFAULT));
  if (!ds) throw std::runtime_error("test: no dataset " + name + " in " + path);
  ReadBack<T> r;
  h5::Dataspace space(H5Dget_space(ds.get()));
  r.dims = h5::dims_of(space.get());
  h5::Datatype type(H5Dget_type(ds.get()));
  r.type_class = H5Tget_class(type.get());
  r.type_size = H5Tget_size(type.get());
  r.values.resize(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get())));
  H5Dread(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, r.values.data());
  h5::PropList dcpl(H5Dget_create_plist(ds.get()));
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    r.chunk.resize(r.dims.size());
    H5Pget_chunk(dcpl.get(), static_cast<int>(r.chunk.size()), r.chunk.data());
    const int nf = H5Pget_nfilters(dcpl.get());
    for (int i = 0; i < nf; ++i) {
      unsigned flags = 0, config = 0;
      std::size_t nv = 0;
      if (H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &nv, nullptr, 0, nullptr,
                         &config) == H5Z_FILTER_DEFLATE)
        r.gzip = true;
    }
  }
  return r;
}

// Runs f, which must throw lmbatch::io::Error, and returns the error.
template <class F>
lmbatch::io::Error expect_error(F&& f) {
  try {
    f();
  } catch (const lmbatch::io::Error& e) {
    return e;
  }
  throw std::runtime_error("expected lmbatch::io::Error, nothing was thrown");
}

}  // namespace lmbatch::io::test
