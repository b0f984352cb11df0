// lmbatch info FILE: the datasets and attributes of any HDF5 file, then how
// `lmbatch fit` would read it as an input, or, for a result file, what run
// wrote it and how its problems ended.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "lmbatch/batch/status.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/result_file.hpp"
#include "lmbatch/io/shards.hpp"

namespace lmbatch::app {
namespace {

namespace hdf5 = io::hdf5;

// "7 x 9", or "one" for the empty leading shape of a single problem.
std::string leading_text(const std::vector<unsigned long long>& leading) {
  std::string s;
  for (auto d : leading) s += (s.empty() ? "" : " x ") + std::to_string(d);
  return s.empty() ? "one" : s;
}

std::string joined(const std::vector<std::string>& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : ", ") + v;
  return s;
}

// A result file carries lmbatch_format = "result/..." (docs/format.md); any
// version is routed to the reader, which names a version it cannot read.
bool is_result_file(const hdf5::File& file) {
  const auto format = hdf5::read_string_attribute(file.get(), "lmbatch_format");
  return format && !format->empty() && format->front().rfind("result/", 0) == 0;
}

// How many problems ended with each ier: /ier alone, through the reader, in
// ranges of 1 Mi problems, so that neither the other datasets nor the whole
// /ier of a huge file are held.
std::map<int, std::size_t> status_counts(io::ResultFileReader& reader) {
  std::map<int, std::size_t> counts;
  std::vector<double> ier;
  constexpr std::size_t kRange = std::size_t{1} << 20;
  for (std::size_t first = 0; first < reader.problem_count(); first += kRange) {
    reader.read("/ier", first, std::min(kRange, reader.problem_count() - first), ier);
    for (double v : ier) ++counts[static_cast<int>(v)];
  }
  return counts;
}

void describe_result(const std::string& path) {
  io::ResultFileReader reader(path);
  hdf5::SilenceErrors quiet;
  const hid_t root = reader.root();
  auto text = [root](const char* name) {
    const auto v = hdf5::read_string_attribute(root, name);
    return v && !v->empty() ? v->front() : std::string();
  };
  const std::string version = text("lmbatch_version"), model = text("model");
  std::printf("\nan lmbatch result file (%s)%s\n", text("lmbatch_format").c_str(),
              version.empty() ? "" : (", written by lmbatch " + version).c_str());
  std::printf("  model: %s\n", model.empty() ? "(not recorded)" : model.c_str());
  const auto names = hdf5::read_string_attribute(root, "parameter_names");
  std::printf("  parameters (%d): %s\n", reader.n(),
              names && !names->empty() ? joined(*names).c_str() : "(names not recorded)");
  std::printf("  %zu problems (%s) of m = %d samples; full output (fvec, fjac, ipvt, qtf): %s\n",
              reader.problem_count(), leading_text(reader.leading_shape()).c_str(), reader.m(),
              reader.full_output() ? "yes" : "no");
  if (const std::string part = text(io::kPartAttribute); !part.empty()) {
    const auto first = hdf5::read_number_attribute(root, io::kPartFirstAttribute);
    const auto end = hdf5::read_number_attribute(root, io::kPartEndAttribute);
    std::printf(
        "  a --part %s shard: problems [%.0f, %.0f) of %zu; the others read as never "
        "written (ier -4) until `lmbatch merge` joins the shards\n",
        part.c_str(), first.value_or(0), end.value_or(0), reader.problem_count());
  }
  if (const auto parts = hdf5::read_number_attribute(root, "merged_parts"))
    std::printf("  merged from %.0f parts by `lmbatch merge`%s\n", *parts,
                text("virtual_merge_of").empty() ? "" : " (virtual: reads the shards)");
  const auto counts = status_counts(reader);
  std::size_t converged = 0;
  std::printf("  ier:\n");
  for (const auto& [ier, count] : counts) {
    std::printf("    %-28s %zu\n", batch::status_label(ier).c_str(), count);
    if (batch::converged(ier)) converged += count;
  }
  std::printf("  converged (ier 1..4): %zu of %zu\n", converged, reader.problem_count());
}

// What `lmbatch fit` would read from an input file (no model known: x0's
// shape is not checked).
void describe_input(const io::InputSpec& spec) {
  const io::ProblemFile file(spec, 0);
  const io::InputSpec& used = file.spec();
  const io::DefaultedInputs& by_default = file.defaulted();
  auto layout = [](batch::Layout l) {
    return l == batch::Layout::shared ? "one vector shared by every problem"
                                      : "one vector per problem";
  };
  auto named = [](const std::string& name, bool defaulted) {
    return name + (defaulted ? " (default)" : "") + ", ";
  };
  std::string x = "absent (0..m-1)";
  if (!used.x.empty()) {
    x = named(used.x, by_default.x) + layout(file.x_layout());
    // Several predictors per sample: say so, and name the expression variables.
    if (const int d = file.predictors(); d > 1) {
      std::string names = "x1";
      for (int v = 2; v <= d; ++v) {
        if (d > 4 && v == 2) {
          names += "..x" + std::to_string(d);
          break;
        }
        names += ", x" + std::to_string(v);
      }
      const std::string where =
          file.x_layout() == batch::Layout::shared ? "shared by every problem" : "per problem";
      x = named(used.x, by_default.x) + std::to_string(d) + " predictors per sample, " + names +
          " in expressions (one " + std::to_string(file.m()) + " x " + std::to_string(d) +
          " array " + where + ")";
    }
  }
  const std::string sigma = used.sigma.empty()
                                ? "absent (1)"
                                : named(used.sigma, by_default.sigma) + layout(file.sigma_layout());
  const std::string x0 = used.x0.empty() ? ""
                                         : "; x0: " + named(used.x0, by_default.x0) +
                                               "checked against the model by fit";
  std::printf(
      "\n`lmbatch fit` would read: %zu problems (%s) of %d samples from %s (%s); x: %s; "
      "sigma: %s%s\n",
      file.problem_count(), leading_text(file.leading_shape()).c_str(), file.m(), used.y.c_str(),
      file.y_type().c_str(), x.c_str(), sigma.c_str(), x0.c_str());
}

}  // namespace

Run add_info_command(CLI::App& app) {
  auto spec = std::make_shared<io::InputSpec>();
  CLI::App* info = app.add_subcommand(
      "info", "what is in a file: how `fit` would read an input, or what a result file holds");
  info->add_option("file", spec->path, "HDF5 file")->required();
  CLI::Option* y =
      info->add_option("--y", spec->y, "dataset of the samples")->capture_default_str();
  info->add_option("--x", spec->x,
                   "dataset of the sample positions (or predictors: (m, d)); default /x if the "
                   "file has it, none: 0..m-1");
  info->add_option("--sigma", spec->sigma,
                   "dataset of the uncertainties; default /sigma if the file has it, none: 1");
  return [spec, y] {
    std::printf("%s", io::describe(spec->path).c_str());
    bool result = false, has_y = false;
    {
      const hdf5::File file = hdf5::open_readonly(spec->path);
      hdf5::SilenceErrors quiet;
      result = is_result_file(file);
      has_y = H5Lexists(file.get(), spec->y.c_str(), H5P_DEFAULT) > 0;
    }
    if (result && y->count() == 0) {
      describe_result(spec->path);
    } else if (!has_y && y->count() == 0) {
      // Not an error: info did its job. Say what fit needs instead.
      std::printf(
          "\n`lmbatch fit` needs the samples, shape (..., m), and this file has no %s: name "
          "the dataset that holds them with --y (here too, to see how fit would read it)\n",
          spec->y.c_str());
    } else {
      describe_input(*spec);
    }
    return kExitOk;
  };
}

}  // namespace lmbatch::app
