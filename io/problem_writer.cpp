#include "lmbatch/io/problem_writer.hpp"

#include <algorithm>
#include <filesystem>

#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/hyperslab.hpp"

namespace lmbatch::io {

struct ProblemFileWriter::Impl {
  ProblemFileSpec spec;
  std::size_t count = 1;
  hdf5::File file;
  hdf5::Dataset y, truth;
  std::vector<Block> blocks;

  [[noreturn]] void fail(const std::string& dataset, const std::string& what) const {
    throw Error(spec.path, dataset, what);
  }

  // HDF5 chunks of about 1024 problems: whole rows of an image of up to 1024
  // columns (the innermost dimension cut beyond), the trailing dimension whole.
  std::vector<hsize_t> chunk_dims(hsize_t tail) const {
    const auto& lead = spec.leading_shape;
    std::vector<hsize_t> c(lead.size(), 1);
    if (lead.size() >= 2) {
      const hsize_t w = std::clamp<hsize_t>(lead.back(), 1, 1024);
      c[lead.size() - 1] = w;
      c[lead.size() - 2] =
          std::clamp<hsize_t>(1024 / w, 1, std::max<hsize_t>(lead[lead.size() - 2], 1));
    } else if (lead.size() == 1) {
      c[0] = std::clamp<hsize_t>(lead[0], 1, 1024);
    }
    c.push_back(tail);
    return c;
  }

  hdf5::Dataset create(const char* name, hid_t type, hsize_t tail) {
    std::vector<hsize_t> dims(spec.leading_shape.begin(), spec.leading_shape.end());
    dims.push_back(tail);
    hdf5::Dataspace space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    hdf5::PropList dcpl(H5Pcreate(H5P_DATASET_CREATE));
    if (!space || !dcpl) fail(name, "cannot be set up: " + hdf5::last_error_detail());
    if (count > 0) {  // chunking needs a non-empty array
      const auto c = chunk_dims(tail);
      if (H5Pset_chunk(dcpl.get(), static_cast<int>(c.size()), c.data()) < 0 ||
          H5Pset_shuffle(dcpl.get()) < 0 || H5Pset_deflate(dcpl.get(), 1) < 0)
        fail(name, "cannot be chunked: " + hdf5::last_error_detail());
    }
    hdf5::Dataset d(
        H5Dcreate2(file.get(), name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
    if (!d) fail(name, "cannot be created: " + hdf5::last_error_detail());
    return d;
  }

  // Problems [first, first + rows) of a (..., tail) dataset from row-major values.
  void write_rows(hid_t dataset, const char* name, std::size_t first, std::size_t rows,
                  hsize_t tail, const double* values) {
    flat_range_blocks(spec.leading_shape, first, rows, blocks);
    hdf5::Dataspace file_space(H5Dget_space(dataset));
    for (const Block& b : blocks) {
      std::vector<hsize_t> start(b.start.begin(), b.start.end()),
          extent(b.count.begin(), b.count.end());
      start.push_back(0);
      extent.push_back(tail);
      hdf5::Dataspace mem(
          H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr));
      if (!file_space || !mem ||
          H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr,
                              extent.data(), nullptr) < 0 ||
          H5Dwrite(dataset, H5T_NATIVE_DOUBLE, mem.get(), file_space.get(), H5P_DEFAULT,
                   values + b.offset * tail) < 0)
        fail(name, "writing problems [" + std::to_string(first) + ", " +
                       std::to_string(first + rows) + ") failed: " + hdf5::last_error_detail());
    }
  }
};

ProblemFileWriter::ProblemFileWriter(ProblemFileSpec spec) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.spec = std::move(spec);
  const ProblemFileSpec& s = d.spec;
  if (s.m < 1) d.fail("", "invalid samples per problem m = " + std::to_string(s.m));
  if (!s.x.empty() && s.x.size() != static_cast<std::size_t>(s.m))
    d.fail("/x", std::to_string(s.x.size()) + " values for m = " + std::to_string(s.m));
  for (auto dim : s.leading_shape) d.count *= static_cast<std::size_t>(dim);
  if (std::filesystem::exists(s.path) && !s.overwrite)
    d.fail("", "the file exists; pass --overwrite to replace it");
  hdf5::SilenceErrors quiet;
  d.file = hdf5::File(H5Fcreate(s.path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!d.file) d.fail("", "cannot create the file: " + hdf5::last_error_detail());
  d.y = d.create("/y", s.y_float32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, static_cast<hsize_t>(s.m));
  if (s.n > 0) d.truth = d.create("/truth", H5T_IEEE_F64LE, static_cast<hsize_t>(s.n));
  if (!s.x.empty()) {
    const hsize_t m = static_cast<hsize_t>(s.m);
    hdf5::Dataspace space(H5Screate_simple(1, &m, nullptr));
    hdf5::Dataset x(H5Dcreate2(d.file.get(), "/x", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT));
    if (!x || H5Dwrite(x.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s.x.data()) < 0)
      d.fail("/x", "cannot be written: " + hdf5::last_error_detail());
  }
}

ProblemFileWriter::~ProblemFileWriter() {
  hdf5::SilenceErrors quiet;
  impl_.reset();
}
ProblemFileWriter::ProblemFileWriter(ProblemFileWriter&&) noexcept = default;
ProblemFileWriter& ProblemFileWriter::operator=(ProblemFileWriter&&) noexcept = default;

std::size_t ProblemFileWriter::problem_count() const noexcept {
  return impl_->count;
}

void ProblemFileWriter::write(std::size_t first, std::span<const double> y,
                              std::span<const double> truth) {
  Impl& d = *impl_;
  const auto m = static_cast<std::size_t>(d.spec.m), n = static_cast<std::size_t>(d.spec.n);
  const std::size_t rows = y.size() / m;
  if (y.size() != rows * m || first > d.count || rows > d.count - first)
    d.fail("/y", "problems [" + std::to_string(first) + ", " + std::to_string(first + rows) +
                     ") do not fit the file's " + std::to_string(d.count));
  if (n > 0 && truth.size() != rows * n)
    d.fail("/truth", std::to_string(truth.size()) + " values for " + std::to_string(rows) +
                         " problems of " + std::to_string(n) + " parameters");
  if (rows == 0) return;
  hdf5::SilenceErrors quiet;
  d.write_rows(d.y.get(), "/y", first, rows, m, y.data());
  if (n > 0) d.write_rows(d.truth.get(), "/truth", first, rows, n, truth.data());
}

void ProblemFileWriter::finish() {
  Impl& d = *impl_;
  hdf5::SilenceErrors quiet;
  const hid_t root = d.file.get();
  auto check = [&](bool ok, const std::string& name) {
    if (!ok) d.fail("", "cannot write attribute '" + name + "': " + hdf5::last_error_detail());
  };
  for (const auto& [name, value] : d.spec.string_attributes)
    check(hdf5::write_string_attribute(root, name, {value}, true), name);
  for (const auto& [name, values] : d.spec.string_array_attributes)
    check(hdf5::write_string_attribute(root, name, values, false), name);
  for (const auto& [name, value] : d.spec.number_attributes)
    check(hdf5::write_number_attribute(root, name, value), name);
  for (const auto& [name, value] : d.spec.integer_attributes)
    check(hdf5::write_integer_attribute(root, name, value), name);
  d.y = {};
  d.truth = {};
  if (!d.file.close()) d.fail("", "closing the file failed");
}

}  // namespace lmbatch::io
