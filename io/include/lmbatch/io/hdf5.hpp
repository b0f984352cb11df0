// Small RAII types over the HDF5 C API, and the io layer's error type.
//
// Why the C API and not HDF5's C++ wrapper: the C++ bindings are a separate
// (and on some platforms absent) library, throw their own exception types
// without the file name, and print the error stack by default. A handle here
// is just an hid_t with a close function: move-only, closed exactly once, and
// closing never throws (a destructor may run while another exception unwinds).
//
// HDF5 is not thread-safe in Debian's serial build: everything in this layer
// must be called from one thread at a time (the pipeline's serial stages).
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lmbatch::io {

// Every failure of the io layer: carries the file, the dataset (empty when the
// failure concerns the whole file) and, where one problem is at fault, its
// flat row-major index over the leading dimensions of y. what() reads
//   "input.h5: dataset /y: <message>"
//   "input.h5: dataset /sigma: problem 1234: <message>"
//   "input.h5: <message>"                      (no dataset)
class Error : public std::runtime_error {
 public:
  Error(std::string file, std::string dataset, std::string message,
        std::optional<std::size_t> problem = std::nullopt);

  const std::string& file() const noexcept { return file_; }
  const std::string& dataset() const noexcept { return dataset_; }
  std::optional<std::size_t> problem() const noexcept { return problem_; }
  // The message without the "file: dataset: problem:" prefix.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string file_, dataset_, message_;
  std::optional<std::size_t> problem_;
};

namespace hdf5 {

// A move-only owner of one hid_t, closed with Close. Close errors are ignored:
// there is nothing useful a destructor can do with them, and the operations
// whose failure matters (flushing a written file) are checked explicitly
// before the handles go away (ResultFile::finish).
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() noexcept = default;
  // Takes ownership of id; a negative id (HDF5's failure value) yields an
  // empty handle, so callers check valid() rather than the raw value.
  explicit Handle(hid_t id) noexcept : id_(id < 0 ? H5I_INVALID_HID : id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      close();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { close(); }

  hid_t get() const noexcept { return id_; }
  bool valid() const noexcept { return id_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }

  // Closes now; returns false if HDF5 reported an error (never throws).
  bool close() noexcept {
    if (id_ < 0) return true;
    const herr_t status = Close(std::exchange(id_, H5I_INVALID_HID));
    return status >= 0;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Handle<&H5Fclose>;
using Group = Handle<&H5Gclose>;
using Dataset = Handle<&H5Dclose>;
using Dataspace = Handle<&H5Sclose>;
using Datatype = Handle<&H5Tclose>;  // only for types we own, never H5T_NATIVE_* etc.
using Attribute = Handle<&H5Aclose>;
using PropList = Handle<&H5Pclose>;
using Object = Handle<&H5Oclose>;  // a group or dataset opened with H5Oopen

// Turns off HDF5's automatic printing of its error stack to stderr for the
// guard's lifetime, and restores the previous handler afterwards. Every entry
// point of the io layer holds one: our failures become Error exceptions with
// the file and dataset, and the stack would otherwise be printed for expected
// failures such as probing whether a dataset exists or a file is HDF5.
class SilenceErrors {
 public:
  SilenceErrors() noexcept;
  ~SilenceErrors();
  SilenceErrors(const SilenceErrors&) = delete;
  SilenceErrors& operator=(const SilenceErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
  bool saved_ = false;
};

// The innermost message of HDF5's current error stack, e.g. "truncated file:
// eof = 1024, sblock->base_addr = 0, stored_eof = 4096" (empty if none). Call
// right after a failed HDF5 call, before the next one clears the stack.
std::string last_error_detail();

// Opens an existing file read-only, with a clear Error for each way that can
// fail: missing, a directory, unreadable, not HDF5, truncated or corrupt.
File open_readonly(const std::string& path);

// Element type name in numpy's spelling: "float32", "float64", "int16",
// "uint8", ..., or the class for non-numeric types: "string", "compound",
// "enum", "array", "vlen", "opaque", "reference", "bitfield", "time".
std::string type_name(hid_t type);

// Dimensions of a simple dataspace (empty for a scalar one).
std::vector<hsize_t> dims_of(hid_t space);

// Python-style shape text: "(100, 50)", "(50,)", "()".
std::string shape_text(const std::vector<hsize_t>& dims);

// Attributes. Strings are stored variable-length UTF-8, which h5py reads back
// as str; a single value can be a scalar attribute, several a 1-D array. The
// writers return false on failure (the caller knows the file name for the
// Error); the reader returns nullopt if the attribute is missing or not a
// string, and accepts fixed-length strings too.
bool write_string_attribute(hid_t obj, const std::string& name,
                            const std::vector<std::string>& values, bool scalar);
bool write_number_attribute(hid_t obj, const std::string& name, double value);
// A count (m, maxfev, threads, ...) as a 64-bit integer: h5py reads an int.
bool write_integer_attribute(hid_t obj, const std::string& name, long long value);
std::optional<std::vector<std::string>> read_string_attribute(hid_t obj, const std::string& name);
// A numeric scalar attribute as double; nullopt if missing or not a number.
std::optional<double> read_number_attribute(hid_t obj, const std::string& name);
// An integer scalar attribute; nullopt if missing or not of an integer type.
std::optional<long long> read_integer_attribute(hid_t obj, const std::string& name);
// The names of an object's attributes, in creation order where tracked (else by name).
std::vector<std::string> attribute_names(hid_t obj);

}  // namespace hdf5
}  // namespace lmbatch::io
