#include <cstdio>
#include <string>

#include "commands.hpp"
#include "lmbatch/io/problem_file.hpp"

namespace lmbatch::app {

Run add_info_command(CLI::App& app) {
  auto spec = std::make_shared<io::InputSpec>();
  CLI::App* info = app.add_subcommand("info", "what is in a file, and how `fit` would read it");
  info->add_option("file", spec->path, "HDF5 file")->required();
  info->add_option("--y", spec->y, "dataset of the samples")->capture_default_str();
  info->add_option("--x", spec->x, "dataset of the sample positions (or predictors: (m, d))");
  info->add_option("--sigma", spec->sigma, "dataset of the uncertainties");
  return [spec] {
    std::printf("%s\n", io::describe(spec->path).c_str());
    const io::ProblemFile file(*spec, 0);
    std::string shape;
    for (auto d : file.leading_shape()) shape += (shape.empty() ? "" : " x ") + std::to_string(d);
    auto layout = [](batch::Layout l, const char* absent) {
      return l == batch::Layout::absent   ? absent
             : l == batch::Layout::shared ? "one vector shared by every problem"
                                          : "one vector per problem";
    };
    // Several predictors per sample: say so, and name the expression variables.
    std::string x = layout(file.x_layout(), "absent (0..m-1)");
    if (const int d = file.predictors(); d > 1) {
      std::string names = "x1";
      for (int v = 2; v <= d; ++v) {
        if (d > 4 && v == 2) {
          names += "..x" + std::to_string(d);
          break;
        }
        names += ", x" + std::to_string(v);
      }
      const std::string where = file.x_layout() == batch::Layout::shared
                                    ? "shared by every problem"
                                    : "per problem";
      x = std::to_string(d) + " predictors per sample, " + names + " in expressions (one " +
          std::to_string(file.m()) + " x " + std::to_string(d) + " array " + where + ")";
    }
    std::printf(
        "\n`lmbatch fit` would read: %zu problems (%s) of %d samples from %s (%s); x: %s; "
        "sigma: %s\n",
        file.problem_count(), shape.empty() ? "one" : shape.c_str(), file.m(), spec->y.c_str(),
        file.y_type().c_str(), x.c_str(), layout(file.sigma_layout(), "absent (1)"));
    return kExitOk;
  };
}

}  // namespace lmbatch::app
