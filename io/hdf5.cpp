#include "lmbatch/io/hdf5.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>

namespace lmbatch::io {

// The public headers spell HDF5 sizes as unsigned long long so that they need
// not include hdf5.h; this keeps the two spellings interchangeable.
static_assert(std::is_same_v<hsize_t, unsigned long long>,
              "lmbatch::io assumes hsize_t is unsigned long long");

namespace {

std::string compose(const std::string& file, const std::string& dataset, const std::string& message,
                    std::optional<std::size_t> problem) {
  std::string s;
  auto part = [&s](const std::string& text) { s += (s.empty() ? "" : ": ") + text; };
  if (!file.empty()) part(file);
  if (!dataset.empty()) part("dataset " + dataset);
  if (problem) part("problem " + std::to_string(*problem));
  part(message);
  return s;
}

}  // namespace

Error::Error(std::string file, std::string dataset, std::string message,
             std::optional<std::size_t> problem)
    : std::runtime_error(compose(file, dataset, message, problem)),
      file_(std::move(file)),
      dataset_(std::move(dataset)),
      message_(std::move(message)),
      problem_(problem) {}

namespace hdf5 {

SilenceErrors::SilenceErrors() noexcept {
  saved_ = H5Eget_auto2(H5E_DEFAULT, &func_, &data_) >= 0;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

SilenceErrors::~SilenceErrors() {
  if (saved_) H5Eset_auto2(H5E_DEFAULT, func_, data_);
}

std::string last_error_detail() {
  std::string detail;
  // Walking downward goes from the API call to the innermost function, whose
  // description is the specific one ("truncated file: eof = ...").
  auto visit = [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
    if (e->desc && *e->desc) *static_cast<std::string*>(data) = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, visit, &detail);
  return detail;
}

File open_readonly(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  // Checked before HDF5 sees the name: its own message for all of these is
  // "unable to open file", which does not say which problem the user has.
  if (!fs::exists(st)) throw Error(path, "", "no such file");
  if (fs::is_directory(st)) throw Error(path, "", "is a directory, not an HDF5 file");
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(path, "", std::string("cannot be read: ") + std::strerror(errno));
  }
  SilenceErrors quiet;
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) {
    const auto size = fs::file_size(path, ec);
    throw Error(path, "",
                !ec && size == 0 ? "not an HDF5 file (the file is empty)"
                                 : "not an HDF5 file (no HDF5 signature found)");
  }
  if (is_hdf5 < 0)
    throw Error(path, "", "cannot be checked for an HDF5 signature: " + last_error_detail());
  File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file) {
    // The signature is there but the file does not open: it was cut short
    // (an interrupted copy or write) or damaged, or a writer holds its lock.
    const std::string detail = last_error_detail();
    if (detail.find("unable to lock") != std::string::npos)
      throw Error(path, "",
                  "is locked by another process, perhaps one still writing it (HDF5: " + detail +
                      "; HDF5_USE_FILE_LOCKING=FALSE skips the check)");
    throw Error(path, "", "truncated or corrupt HDF5 file (HDF5: " + detail + ")");
  }
  return file;
}

std::string type_name(hid_t type) {
  const std::size_t bits = H5Tget_size(type) * 8;
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      return "float" + std::to_string(bits);
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "vlen";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_REFERENCE:
      return "reference";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

std::vector<hsize_t> dims_of(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string s = "(";
  for (std::size_t k = 0; k < dims.size(); ++k) {
    if (k) s += ", ";
    s += std::to_string(dims[k]);
  }
  if (dims.size() == 1) s += ",";
  return s + ")";
}

bool write_string_attribute(hid_t obj, const std::string& name,
                            const std::vector<std::string>& values, bool scalar) {
  Datatype type(H5Tcopy(H5T_C_S1));
  if (!type || H5Tset_size(type.get(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.get(), H5T_CSET_UTF8) < 0)
    return false;
  const hsize_t n = values.size();
  Dataspace space(scalar && n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr));
  if (!space) return false;
  Attribute attr(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  if (!attr) return false;
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& v : values) ptrs.push_back(v.c_str());
  // An empty array has nothing to write; H5Awrite would still want a buffer.
  if (ptrs.empty()) return true;
  return H5Awrite(attr.get(), type.get(), ptrs.data()) >= 0;
}

bool write_number_attribute(hid_t obj, const std::string& name, double value) {
  Dataspace space(H5Screate(H5S_SCALAR));
  if (!space) return false;
  Attribute attr(
      H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  return attr && H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, &value) >= 0;
}

bool write_integer_attribute(hid_t obj, const std::string& name, long long value) {
  Dataspace space(H5Screate(H5S_SCALAR));
  if (!space) return false;
  Attribute attr(
      H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  return attr && H5Awrite(attr.get(), H5T_NATIVE_LLONG, &value) >= 0;
}

std::optional<std::vector<std::string>> read_string_attribute(hid_t obj, const std::string& name) {
  SilenceErrors quiet;
  if (H5Aexists(obj, name.c_str()) <= 0) return std::nullopt;
  Attribute attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr) return std::nullopt;
  Datatype ftype(H5Aget_type(attr.get()));
  Dataspace space(H5Aget_space(attr.get()));
  if (!ftype || !space || H5Tget_class(ftype.get()) != H5T_STRING) return std::nullopt;
  const hssize_t count = H5Sget_simple_extent_npoints(space.get());
  if (count < 0) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(count));
  if (H5Tis_variable_str(ftype.get()) > 0) {
    Datatype mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), H5T_VARIABLE);
    H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()));
    std::vector<char*> ptrs(static_cast<std::size_t>(count), nullptr);
    if (count > 0 && H5Aread(attr.get(), mtype.get(), ptrs.data()) < 0) return std::nullopt;
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    // HDF5 allocated the strings; give them back through its own allocator.
    if (count > 0) H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, ptrs.data());
  } else {
    const std::size_t size = H5Tget_size(ftype.get());
    Datatype mtype(H5Tcopy(H5T_C_S1));
    H5Tset_size(mtype.get(), size);
    H5Tset_strpad(mtype.get(), H5T_STR_NULLPAD);
    std::vector<char> buf(size * static_cast<std::size_t>(count) + 1, '\0');
    if (count > 0 && H5Aread(attr.get(), mtype.get(), buf.data()) < 0) return std::nullopt;
    for (hssize_t i = 0; i < count; ++i) {
      const char* p = buf.data() + static_cast<std::size_t>(i) * size;
      std::size_t len = 0;
      while (len < size && p[len] != '\0') ++len;
      out.emplace_back(p, len);
    }
  }
  return out;
}

namespace {

// A scalar numeric attribute read as mem_type, if it exists and its type
// class is one of the accepted ones.
template <class T>
std::optional<T> read_scalar_attribute(hid_t obj, const std::string& name, hid_t mem_type,
                                       bool accept_float) {
  SilenceErrors quiet;
  if (H5Aexists(obj, name.c_str()) <= 0) return std::nullopt;
  Attribute attr(H5Aopen(obj, name.c_str(), H5P_DEFAULT));
  if (!attr) return std::nullopt;
  Datatype ftype(H5Aget_type(attr.get()));
  Dataspace space(H5Aget_space(attr.get()));
  if (!ftype || !space) return std::nullopt;
  const H5T_class_t cls = H5Tget_class(ftype.get());
  if ((cls != H5T_INTEGER && !(accept_float && cls == H5T_FLOAT)) ||
      H5Sget_simple_extent_npoints(space.get()) != 1)
    return std::nullopt;
  T value{};
  if (H5Aread(attr.get(), mem_type, &value) < 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<double> read_number_attribute(hid_t obj, const std::string& name) {
  return read_scalar_attribute<double>(obj, name, H5T_NATIVE_DOUBLE, true);
}

std::optional<long long> read_integer_attribute(hid_t obj, const std::string& name) {
  return read_scalar_attribute<long long>(obj, name, H5T_NATIVE_LLONG, false);
}

std::vector<std::string> attribute_names(hid_t obj) {
  SilenceErrors quiet;
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  hsize_t at = 0;
  if (H5Aiterate2(obj, H5_INDEX_CRT_ORDER, H5_ITER_INC, &at, collect, &names) < 0) {
    names.clear();
    at = 0;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &at, collect, &names);
  }
  return names;
}

}  // namespace hdf5
}  // namespace lmbatch::io
