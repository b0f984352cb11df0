#include "lmbatch/io/run_description.hpp"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

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
  add("x0_values", exact_list(r.x0_values));
  add("model", r.model);
  std::string plugins;
  for (const auto& path : r.plugin_paths)
    plugins += (plugins.empty() ? "" : ";") + file_identity(path);
  add("model_plugins", plugins);
  add("ftol", exact(r.solver.ftol));
  add("xtol", exact(r.solver.xtol));
  add("gtol", exact(r.solver.gtol));
  add("maxfev", std::to_string(r.solver.maxfev));
  add("epsfcn", exact(r.solver.epsfcn));
  add("factor", exact(r.solver.factor));
  add("diag", exact_list(r.solver.diag));
  add("jacobian", r.analytic_jacobian ? "analytic" : "forward");
  add("full_output", r.full_output ? "yes" : "no");
  return fp;
}

OutputSpec output_spec(const RunDescription& r, const ProblemFile& input,
                       const std::string& output_path, bool overwrite) {
  const int n = static_cast<int>(r.parameter_names.size());
  const int maxfev = r.solver.effective_maxfev(n, r.analytic_jacobian);
  OutputSpec out;
  out.path = output_path;
  out.overwrite = overwrite;
  out.full_output = r.full_output;
  out.compression = r.compression;
  out.leading_shape = input.leading_shape();
  out.m = input.m();
  out.n = n;
  out.parameter_names = r.parameter_names;
  const InputSpec& spec = r.input;
  out.string_attributes = {
      {"model", r.model},
      {"ier_messages", batch::status_table(r.solver, maxfev)},
      {"lmbatch_version", r.version},
      {"input_file", spec.path},
      {"y", spec.y},
      {"x", spec.x.empty() ? "(absent: 0..m-1)" : spec.x},
      {"sigma", spec.sigma.empty() ? "(absent: 1)" : spec.sigma},
      {"x0", !r.x0_values.empty() ? "(--x0-values)"
             : spec.x0.empty()    ? "(model's estimate)"
                                  : spec.x0},
      {"jacobian", r.analytic_jacobian ? "analytic" : "forward"},
      {"start_time", now_iso8601()},
      {kFingerprintAttribute, run_fingerprint(r).text()},
  };
  out.number_attributes = {
      {"ftol", r.solver.ftol},     {"xtol", r.solver.xtol},   {"gtol", r.solver.gtol},
      {"maxfev", maxfev},          {"epsfcn", r.solver.epsfcn}, {"factor", r.solver.factor},
  };
  for (std::size_t j = 0; j < r.x0_values.size(); ++j)
    out.number_attributes.emplace_back("x0_value_" + std::to_string(j), r.x0_values[j]);
  for (std::size_t j = 0; j < r.solver.diag.size(); ++j)
    out.number_attributes.emplace_back("diag_" + std::to_string(j), r.solver.diag[j]);
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
