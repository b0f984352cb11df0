// lmbatch report OUT.h5 -o DIR: PNG maps and histograms of a result file and
// one HTML page (DIR/index.html) with the run's provenance and summary.
#include "commands.hpp"
#include "lmbatch/report/report.hpp"

namespace lmbatch::app {

Run add_report_command(CLI::App& app) {
  struct Args {
    std::string input, dir;
  };
  auto args = std::make_shared<Args>();
  CLI::App* report = app.add_subcommand(
      "report", "PNG maps, histograms and an HTML page (DIR/index.html) of a result file");
  report->add_option("result", args->input, "result HDF5 file written by `lmbatch fit`")
      ->required();
  report->add_option("-o,--output", args->dir, "directory of the report (created if needed)")
      ->required();
  return [args] { return report::write_report(args->input, args->dir); };
}

}  // namespace lmbatch::app
