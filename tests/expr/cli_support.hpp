// Running the lmbatch binary from tests: a temporary directory, the command
// with its exit status and output, and HDF5 datasets written and read back.
#pragma once

#include <hdf5.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lmbatch/io/hdf5.hpp"
#include "support/cli_support.hpp"

namespace lmbatch::test {

namespace h5 = lmbatch::io::hdf5;

// TempDir: the io tests' (tests/io/h5_test_files.hpp), through support/cli_support.hpp.

using CommandResult = lmbatch::test::CommandResult;

// Runs `lmbatch <args>` (args already quoted for the shell).
inline CommandResult run_lmbatch(const std::string& args, const TempDir& dir) {
  return run_shell(LMBATCH_EXE, args, dir);
}

// Single quotes for the shell.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// A new HDF5 file with float64 datasets (name, values, shape).
struct DatasetSpec {
  std::string name;
  std::vector<double> values;
  std::vector<hsize_t> dims;
};
inline void write_h5(const std::string& path, const std::vector<DatasetSpec>& datasets) {
  h5::File f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  REQUIRE(f.valid());
  for (const DatasetSpec& d : datasets) {
    h5::Dataspace space(H5Screate_simple(static_cast<int>(d.dims.size()), d.dims.data(), nullptr));
    REQUIRE(space.valid());
    h5::Dataset set(H5Dcreate2(f.get(), d.name.c_str(), H5T_NATIVE_DOUBLE, space.get(), H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT));
    REQUIRE(set.valid());
    REQUIRE(H5Dwrite(set.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                     d.values.data()) >= 0);
  }
}

template <class T>
std::vector<T> read_h5(const std::string& file, const std::string& name, hid_t mem_type) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  h5::Dataset d(H5Dopen2(f.get(), name.c_str(), H5P_DEFAULT));
  REQUIRE(d.valid());
  h5::Dataspace s(H5Dget_space(d.get()));
  std::size_t count = 1;
  for (const auto v : h5::dims_of(s.get())) count *= v;
  std::vector<T> out(count);
  REQUIRE(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0);
  return out;
}

inline std::vector<std::string> read_string_attribute(const std::string& file,
                                                      const std::string& name) {
  h5::File f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  REQUIRE(f.valid());
  const auto v = h5::read_string_attribute(f.get(), name);
  REQUIRE(v.has_value());
  return *v;
}

}  // namespace lmbatch::test
