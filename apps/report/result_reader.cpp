#include "result_reader.hpp"

#include <cstdio>
#include <filesystem>

#include "lmbatch/io/hyperslab.hpp"

namespace lmbatch::app::report {
namespace h5 = io::hdf5;

namespace {

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

herr_t collect_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

std::vector<RootAttribute> read_root_attributes(hid_t file) {
  std::vector<RootAttribute> out;
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names) < 0) return out;
  for (const std::string& name : names) {
    h5::Attribute attr(H5Aopen(file, name.c_str(), H5P_DEFAULT));
    if (!attr) continue;
    h5::Datatype type(H5Aget_type(attr.get()));
    h5::Dataspace space(H5Aget_space(attr.get()));
    if (!type || !space) continue;
    RootAttribute a;
    a.name = name;
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_STRING) {
      attr.close();
      const auto values = h5::read_string_attribute(file, name);
      if (!values) continue;
      for (std::size_t k = 0; k < values->size(); ++k) a.text += (k ? ", " : "") + (*values)[k];
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
      const hssize_t count = H5Sget_simple_extent_npoints(space.get());
      if (count <= 0 || count > 4096) continue;
      std::vector<double> values(static_cast<std::size_t>(count));
      if (H5Aread(attr.get(), H5T_NATIVE_DOUBLE, values.data()) < 0) continue;
      for (std::size_t k = 0; k < values.size(); ++k)
        a.text += (k ? ", " : "") + number_text(values[k]);
      if (count == 1) a.number = values[0];
    } else {
      a.text = "(" + h5::type_name(type.get()) + ")";
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

ResultReader::ResultReader(const std::string& path) : path_(path) {
  h5::SilenceErrors quiet;
  file_ = h5::open_readonly(path);
  {
    if (H5Lexists(file_.get(), "x", H5P_DEFAULT) <= 0)
      throw io::Error(path, "/x", "not found: not an lmbatch result file");
    if (H5Lexists(file_.get(), "ier", H5P_DEFAULT) <= 0)
      throw io::Error(path, "/ier", "not found: not an lmbatch result file");
    h5::Dataset ier(H5Dopen2(file_.get(), "ier", H5P_DEFAULT));
    if (!ier) throw io::Error(path, "/ier", "cannot open: " + h5::last_error_detail());
    h5::Dataspace space(H5Dget_space(ier.get()));
    for (hsize_t d : h5::dims_of(space.get())) leading_.push_back(d);
  }
  problems_ = 1;
  for (auto d : leading_) problems_ *= static_cast<std::size_t>(d);
  {
    h5::Dataset x(H5Dopen2(file_.get(), "x", H5P_DEFAULT));
    if (!x) throw io::Error(path, "/x", "cannot open: " + h5::last_error_detail());
    h5::Dataspace space(H5Dget_space(x.get()));
    const auto dims = h5::dims_of(space.get());
    if (dims.size() != leading_.size() + 1)
      throw io::Error(path, "/x",
                      "shape " + h5::shape_text(dims) + " does not fit /ier of shape " +
                          h5::shape_text({leading_.begin(), leading_.end()}) +
                          ": expected /ier's shape + (n,)");
    n_ = static_cast<int>(dims.back());
  }
  open_dataset("ier", {}, true);
  open_dataset("x", {static_cast<hsize_t>(n_)}, true);
  open_dataset("stderr", {static_cast<hsize_t>(n_)}, false);
  open_dataset("cost", {}, false);
  open_dataset("nfev", {}, false);

  attributes_ = read_root_attributes(file_.get());
  if (auto names = h5::read_string_attribute(file_.get(), "parameter_names");
      names && static_cast<int>(names->size()) == n_)
    names_ = *names;
  else
    for (int j = 0; j < n_; ++j) names_.push_back("p" + std::to_string(j));
  read_units();
}

void ResultReader::open_dataset(const std::string& name, const std::vector<hsize_t>& trailing,
                                bool required) {
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) {
    if (required) throw io::Error(path_, "/" + name, "not found");
    return;
  }
  Info info;
  info.handle = h5::Dataset(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT));
  if (!info.handle) throw io::Error(path_, "/" + name, "cannot open: " + h5::last_error_detail());
  h5::Datatype type(H5Dget_type(info.handle.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    throw io::Error(path_, "/" + name,
                    "has type " + h5::type_name(type.get()) + "; expected a numeric type");
  h5::Dataspace space(H5Dget_space(info.handle.get()));
  const auto dims = h5::dims_of(space.get());
  std::vector<hsize_t> expected(leading_.begin(), leading_.end());
  expected.insert(expected.end(), trailing.begin(), trailing.end());
  if (dims != expected)
    throw io::Error(path_, "/" + name,
                    "shape " + h5::shape_text(dims) + "; expected " + h5::shape_text(expected));
  info.rank = static_cast<int>(dims.size());
  for (hsize_t t : trailing) info.per_problem *= static_cast<std::size_t>(t);
  datasets_.emplace(name, std::move(info));
}

void ResultReader::read_units() {
  units_.assign(static_cast<std::size_t>(n_), "");
  auto take = [&](const std::optional<std::vector<std::string>>& u, const std::string& source) {
    if (!u) return false;
    if (static_cast<int>(u->size()) == n_)
      units_ = *u;
    else if (u->size() == 1)
      units_.assign(static_cast<std::size_t>(n_), u->front());
    else
      return false;
    units_source_ = source;
    return true;
  };
  if (take(h5::read_string_attribute(file_.get(), "parameter_units"),
           "the result file's parameter_units attribute"))
    return;
  if (take(h5::read_string_attribute(datasets_.at("x").handle.get(), "units"),
           "the units attribute of /x"))
    return;
  // The fit's input file, if it is still where the run found it.
  const RootAttribute* input = attribute("input_file");
  if (!input || input->text.empty()) return;
  std::filesystem::path in(input->text);
  if (in.is_relative() && !std::filesystem::exists(in))
    in = std::filesystem::path(path_).parent_path() / in;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(in, ec)) return;
  h5::SilenceErrors quiet;
  h5::File f(H5Fopen(in.string().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f) return;
  take(h5::read_string_attribute(f.get(), "parameter_units"),
       "the parameter_units attribute of the input file " + in.string());
}

std::size_t ResultReader::per_problem(const std::string& dataset) const {
  return datasets_.at(dataset).per_problem;
}

const RootAttribute* ResultReader::attribute(const std::string& name) const {
  for (const auto& a : attributes_)
    if (a.name == name) return &a;
  return nullptr;
}

void ResultReader::read(const std::string& dataset, std::size_t first, std::size_t count,
                        std::vector<double>& out) const {
  const Info& info = datasets_.at(dataset);
  out.resize(count * info.per_problem);
  if (count == 0) return;
  h5::SilenceErrors quiet;
  if (leading_.empty()) {
    if (H5Dread(info.handle.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) <
        0)
      throw io::Error(path_, "/" + dataset, "cannot read: " + h5::last_error_detail());
    return;
  }
  std::vector<io::Block> blocks;
  io::flat_range_blocks(leading_, first, count, blocks);
  h5::Dataspace fspace(H5Dget_space(info.handle.get()));
  const std::size_t lead = leading_.size();
  std::vector<hsize_t> start(static_cast<std::size_t>(info.rank)),
      size(static_cast<std::size_t>(info.rank));
  h5::Dataspace tmp(H5Dget_space(info.handle.get()));
  const auto dims = h5::dims_of(tmp.get());
  for (const io::Block& b : blocks) {
    if (b.size == 0) continue;
    for (std::size_t d = 0; d < static_cast<std::size_t>(info.rank); ++d) {
      start[d] = d < lead ? b.start[d] : 0;
      size[d] = d < lead ? b.count[d] : dims[d];
    }
    if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start.data(), nullptr, size.data(),
                            nullptr) < 0)
      throw io::Error(path_, "/" + dataset, "cannot select: " + h5::last_error_detail());
    const hsize_t elements = static_cast<hsize_t>(b.size * info.per_problem);
    h5::Dataspace mspace(H5Screate_simple(1, &elements, nullptr));
    if (H5Dread(info.handle.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT,
                out.data() + b.offset * info.per_problem) < 0)
      throw io::Error(path_, "/" + dataset,
                      "cannot read problems " + std::to_string(first) + ".." +
                          std::to_string(first + count - 1) + ": " + h5::last_error_detail());
  }
}

}  // namespace lmbatch::app::report
