// The lmbatch command: thin wiring of io (HDF5) to engine (batch), with
// CLI11 for the command line and spdlog for progress.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "commands.hpp"
#include "process_heap.hpp"

int main(int argc, char** argv) {
  using namespace lmbatch::app;
  tune_process_heap();
  CLI::App app{
      "lmbatch: many nonlinear least-squares fits at once, MINPACK's LM as scipy's leastsq"};
  app.set_version_flag("--version", std::string("lmbatch ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();  // --quiet and --log-level also after the subcommand
  std::string log_level = "info";
  bool quiet = false;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_flag("-q,--quiet", quiet, "only warnings and errors");

  const Run fit = add_fit_command(app);
  const Run generate = add_generate_command(app);
  const Run info = add_info_command(app);
  const Run models = add_models_command(app);
  const Run example = add_example_command(app);
  const Run report = add_report_command(app);
  const Run merge = add_merge_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(quiet ? spdlog::level::warn : spdlog::level::from_str(log_level));

  try {
    for (CLI::App* sub : app.get_subcommands()) {
      const std::string name = sub->get_name();
      if (name == "fit") return fit();
      if (name == "generate") return generate();
      if (name == "info") return info();
      if (name == "models") return models();
      if (name == "example") return example();
      if (name == "report") return report();
      if (name == "merge") return merge();
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitInputOutputError;
  }
  return kExitUsage;
}
