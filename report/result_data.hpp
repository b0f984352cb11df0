// What the report shows of a result file, read through io::ResultFileReader:
// the parameters' names and units, and the root attributes as text. The
// datasets themselves are read block by block through reader().
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lmbatch/io/result_file.hpp"

namespace lmbatch::report {

// One root attribute: text is its value as shown in the report (numbers in
// %.6g, several values joined by ", "); number is set for numeric scalars.
struct RootAttribute {
  std::string name;
  std::string text;
  std::optional<double> number;
};

class ResultData {
 public:
  // Opens the result file (io::ResultFileReader: checks its layout). Throws
  // io::Error naming the file and dataset.
  explicit ResultData(const std::string& path);

  io::ResultFileReader& reader() { return reader_; }
  const io::ResultFileReader& reader() const { return reader_; }
  const std::string& path() const { return reader_.path(); }
  int n() const { return reader_.n(); }

  // The parameter names (the parameter_names attribute, else "p0", "p1", ...).
  const std::vector<std::string>& parameter_names() const { return names_; }
  // Units per parameter ("" where unknown): the root attribute
  // parameter_units (n strings, or one for all), else the attribute units of
  // /x (the same), else parameter_units in the input file named by the
  // input_file attribute when that file can be opened.
  const std::vector<std::string>& parameter_units() const { return units_; }
  // Where the units came from ("" when none).
  const std::string& units_source() const { return units_source_; }

  const std::vector<RootAttribute>& attributes() const { return attributes_; }
  const RootAttribute* attribute(const std::string& name) const;

 private:
  void read_units();

  io::ResultFileReader reader_;
  std::vector<std::string> names_, units_;
  std::string units_source_;
  std::vector<RootAttribute> attributes_;
};

}  // namespace lmbatch::report
