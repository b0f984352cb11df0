#include "result_data.hpp"

#include <cstdio>
#include <filesystem>

#include "lmbatch/io/hdf5.hpp"

namespace lmbatch::report {
namespace h5 = io::hdf5;

namespace {

std::string number_text(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

RootAttribute shown(const io::ResultFileReader::Attribute& a) {
  RootAttribute out{a.name, {}, {}};
  for (std::size_t k = 0; k < a.strings.size(); ++k) out.text += (k ? ", " : "") + a.strings[k];
  for (std::size_t k = 0; k < a.numbers.size(); ++k)
    out.text += (k ? ", " : "") + number_text(a.numbers[k]);
  if (a.numbers.size() == 1) out.number = a.numbers[0];
  if (a.type != "string" && a.numbers.empty()) out.text = "(" + a.type + ")";
  return out;
}

}  // namespace

ResultData::ResultData(const std::string& path) : reader_(path) {
  for (const auto& a : reader_.root_attributes()) attributes_.push_back(shown(a));
  const int n = reader_.n();
  if (auto names = h5::read_string_attribute(reader_.root(), "parameter_names");
      names && static_cast<int>(names->size()) == n)
    names_ = *names;
  else
    for (int j = 0; j < n; ++j) names_.push_back("p" + std::to_string(j));
  read_units();
}

void ResultData::read_units() {
  const int n = reader_.n();
  units_.assign(static_cast<std::size_t>(n), "");
  auto take = [&](const std::optional<std::vector<std::string>>& u, const std::string& source) {
    if (!u) return false;
    if (static_cast<int>(u->size()) == n)
      units_ = *u;
    else if (u->size() == 1)
      units_.assign(static_cast<std::size_t>(n), u->front());
    else
      return false;
    units_source_ = source;
    return true;
  };
  if (take(h5::read_string_attribute(reader_.root(), "parameter_units"),
           "the result file's parameter_units attribute"))
    return;
  if (take(h5::read_string_attribute(reader_.dataset("/x"), "units"), "the units attribute of /x"))
    return;
  // The fit's input file, if it is still where the run found it.
  const RootAttribute* input = attribute("input_file");
  if (!input || input->text.empty()) return;
  std::filesystem::path in(input->text);
  if (in.is_relative() && !std::filesystem::exists(in))
    in = std::filesystem::path(path()).parent_path() / in;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(in, ec)) return;
  try {
    const h5::File f = h5::open_readonly(in.string());
    take(h5::read_string_attribute(f.get(), "parameter_units"),
         "the parameter_units attribute of the input file " + in.string());
  } catch (const io::Error&) {
    // Units are a courtesy: an input file that cannot be read has none.
  }
}

const RootAttribute* ResultData::attribute(const std::string& name) const {
  for (const auto& a : attributes_)
    if (a.name == name) return &a;
  return nullptr;
}

}  // namespace lmbatch::report
