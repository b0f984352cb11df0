#include "lmbatch/io/run_description.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <type_traits>

#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/batch/status.hpp"
#include "lmbatch/io/shards.hpp"

namespace lmbatch::io {
namespace {

std::string exact(double v) {  // hex float: no rounding in the comparison
  char buf[40];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

std::string exact_list(std::span<const double> values) {
  std::string s;
  for (double d : values) s += (s.empty() ? "" : ",") + exact(d);
  return s;
}

}  // namespace

std::string file_identity(const std::string& path) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(path, ec);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return absolute.string() + " (missing)";
  return absolute.string() + " (size " + std::to_string(st.st_size) + " bytes, modified " +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ")";
}

namespace {

// Calls f(info, exact text) for each option that decides the results, in the
// table's order (batch/option_fields.hpp).
template <class F>
void for_each_recorded_option(const batch::BatchOptions& options, F&& f) {
  batch::for_each_option(options, [&](const batch::OptionInfo& info, const auto& value) {
    if (!info.decides_results) return;
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (std::is_same_v<T, std::string>) {
      // Text options (the constraints) are recorded only when given, so a
      // run without them records what it recorded before they existed.
      if (!value.empty()) f(info, value, value);
    } else if constexpr (std::is_same_v<T, double>)
      f(info, value, exact(value));
    else if constexpr (std::is_same_v<T, std::vector<double>>)
      f(info, value, exact_list(value));
    else if constexpr (batch::NamedChoice<T>)
      f(info, value, std::string(batch::choice_name(value)));
    else if constexpr (std::is_same_v<T, bool>)
      f(info, value, std::string(value ? "yes" : "no"));
    else
      f(info, value, std::to_string(value));
  });
}

}  // namespace

Fingerprint run_fingerprint(const RunDescription& r) {
  Fingerprint fp;
  auto add = [&fp](std::string key, std::string value) {
    fp.entries.emplace_back(std::move(key), std::move(value));
  };
  add("lmbatch_version", r.version);
  add("input", file_identity(r.input.path));
  add("y", r.input.y);
  add("x", r.input.x);
  add("sigma", r.input.sigma);
  add("x0", r.input.x0);
  // The constraint datasets, only when given (a run without them keeps its
  // fingerprint).
  for (auto [key, name] : {std::pair{"lower", &r.input.lower}, std::pair{"upper", &r.input.upper},
                           std::pair{"fixed", &r.input.fixed}})
    if (!name->empty()) add(key, *name);
  add("x0_values", exact_list(r.x0_values));
  add("model", r.model);
  std::string plugins;
  for (const auto& path : r.plugin_paths)
    plugins += (plugins.empty() ? "" : ";") + file_identity(path);
  add("model_plugins", plugins);
  for_each_recorded_option(
      r.options, [&](const batch::OptionInfo& info, const auto&, const std::string& text) {
        add(std::string(info.name), text);
      });
  return fp;
}

OutputSpec output_spec(const RunDescription& r, const ProblemFile& input,
                       const std::string& output_path, bool overwrite) {
  const int n = static_cast<int>(r.parameter_names.size());
  const bool analytic = r.options.jacobian == batch::JacobianMode::analytic;
  // The file records the limit the run used (0 means a formula of n).
  batch::BatchOptions recorded = r.options;
  recorded.solver.maxfev = r.options.solver.effective_maxfev(n, analytic);
  OutputSpec out;
  out.path = output_path;
  out.overwrite = overwrite;
  out.full_output = r.options.full_output;
  out.compression = r.compression;
  out.leading_shape = input.leading_shape();
  out.m = input.m();
  out.n = n;
  out.parameter_names = r.parameter_names;
  const InputSpec& spec = r.input;
  out.string_attributes = {
      {"model", r.model},
      {"ier_messages", batch::status_table(recorded.solver, recorded.solver.maxfev)},
      {"lmbatch_version", r.version},
      {"input_file", spec.path},
      {"y", spec.y},
      {"x", spec.x.empty() ? "(absent: 0..m-1)" : spec.x},
      {"sigma", spec.sigma.empty() ? "(absent: 1)" : spec.sigma},
      {"x0", !r.x0_values.empty() ? "(--x0-values)"
             : spec.x0.empty()    ? "(model's estimate)"
                                  : spec.x0},
      {"start_time", now_iso8601()},
      {kFingerprintAttribute, run_fingerprint(r).text()},
  };
  // Each option that decides the results, as a value of its own type:
  // numbers, counts, scale factors diag_0.., names.
  for_each_recorded_option(
      recorded, [&](const batch::OptionInfo& info, const auto& value, const std::string& text) {
        using T = std::remove_cvref_t<decltype(value)>;
        const std::string name(info.name);
        if constexpr (std::is_same_v<T, double>)
          out.number_attributes.emplace_back(name, value);
        else if constexpr (std::is_same_v<T, int> || std::is_same_v<T, bool>)
          out.integer_attributes.emplace_back(name, static_cast<long long>(value));
        else if constexpr (std::is_same_v<T, std::vector<double>>)
          for (std::size_t j = 0; j < value.size(); ++j)
            out.number_attributes.emplace_back(name + "_" + std::to_string(j), value[j]);
        else
          out.string_attributes.emplace_back(name, text);
      });
  for (std::size_t j = 0; j < r.x0_values.size(); ++j)
    out.number_attributes.emplace_back("x0_value_" + std::to_string(j), r.x0_values[j]);
  for (auto [key, name] : {std::pair{"lower", &spec.lower}, std::pair{"upper", &spec.upper},
                           std::pair{"fixed", &spec.fixed}})
    if (!name->empty()) out.string_attributes.emplace_back(key, *name);
  return out;
}

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

}  // namespace lmbatch::io
