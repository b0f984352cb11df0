// Reads an lmbatch result file (docs/format.md) for the report: its shape,
// parameter names and units, root attributes, and any dataset as doubles for a
// range of consecutive problems (so that no dataset is ever read whole).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lmbatch/io/hdf5.hpp"

namespace lmbatch::app::report {

// One root attribute: text is its value as shown in the report (numbers in
// %g); number is set for numeric scalars.
struct RootAttribute {
  std::string name;
  std::string text;
  std::optional<double> number;
};

class ResultReader {
 public:
  // Opens the file read-only and checks that it is a result file: /x of shape
  // (..., n) and /ier of shape (...), and, when present, /stderr (..., n),
  // /cost, /nfev (...). Throws io::Error naming the file and dataset.
  explicit ResultReader(const std::string& path);

  const std::string& path() const { return path_; }
  const std::vector<unsigned long long>& leading_shape() const { return leading_; }
  std::size_t problem_count() const { return problems_; }
  int n() const { return n_; }
  // The parameter names (the parameter_names attribute, else "p0", "p1", ...).
  const std::vector<std::string>& parameter_names() const { return names_; }
  // Units per parameter ("" where unknown): the root attribute
  // parameter_units (n strings), else the attribute units of /x (n strings,
  // or one for all), else parameter_units in the input file named by the
  // input_file attribute when that file can be opened.
  const std::vector<std::string>& parameter_units() const { return units_; }
  // Where the units came from ("" when none).
  const std::string& units_source() const { return units_source_; }

  bool has(const std::string& dataset) const { return datasets_.count(dataset) > 0; }
  // Values per problem of a dataset (1 for /ier, n for /x).
  std::size_t per_problem(const std::string& dataset) const;

  // Problems [first, first + count) of the dataset, row-major, converted to
  // double: count * per_problem(dataset) values in out (resized).
  void read(const std::string& dataset, std::size_t first, std::size_t count,
            std::vector<double>& out) const;

  const std::vector<RootAttribute>& attributes() const { return attributes_; }
  const RootAttribute* attribute(const std::string& name) const;

 private:
  struct Info {
    io::hdf5::Dataset handle;
    std::size_t per_problem = 1;
    int rank = 0;  // of the whole dataset
  };
  void open_dataset(const std::string& name, const std::vector<hsize_t>& trailing, bool required);
  void read_units();

  std::string path_;
  io::hdf5::File file_;
  std::vector<unsigned long long> leading_;
  std::size_t problems_ = 0;
  int n_ = 0;
  std::vector<std::string> names_, units_;
  std::string units_source_;
  std::map<std::string, Info> datasets_;
  std::vector<RootAttribute> attributes_;
};

}  // namespace lmbatch::app::report
