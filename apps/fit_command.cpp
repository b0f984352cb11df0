// lmbatch fit IN.h5 -o OUT.h5 --model M ...: HDF5 in, batch engine, HDF5 out.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "cluster_fit.hpp"
#include "commands.hpp"
#include "fit_job.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/io/file_fit.hpp"
#include "lmbatch/io/shards.hpp"
#include "lmbatch/report/report.hpp"
#include "progress_log.hpp"
#include "run_control.hpp"

namespace lmbatch::app {

io::FitLog spdlog_fit_log() {
  return {[](const std::string& text) { spdlog::info("{}", text); },
          [](const std::string& text) { spdlog::warn("{}", text); }};
}

int report_outcome(const FitArgs& a, const io::FitJob& job, const io::FitOutcome& outcome,
                   const char* signal_name, int signal_exit_status) {
  const batch::BatchSummary& session = outcome.session;
  if (session.interrupted) {
    spdlog::warn(
        "interrupted by {}: {} of {} problems are done and saved in {}; run the same command "
        "with --resume to finish",
        signal_name, session.next_problem - job.part_first, job.part_end - job.part_first,
        job.journal_path);
    return signal_exit_status;
  }
  const std::string& output = a.run.output;
  if (!a.report_dir.empty()) report::write_report(output, a.report_dir);
  log_summary(outcome, job.options.batch.solver, job.model.n_params(),
              job.options.batch.jacobian == batch::JacobianMode::analytic);
  spdlog::info("wrote {}", output);
  if (!a.summary_json.empty()) {
    std::ofstream json(a.summary_json);
    json << summary_json(outcome, job.model.spec(), a.run.input.path, output) << "\n";
    if (!json) throw std::runtime_error("cannot write the summary file " + a.summary_json);
  }
  return kExitOk;
}

namespace {

int run_fit(const FitArgs& a) {
#ifdef LMBATCH_MPI
  if (launched_by_mpi()) return run_fit_cluster(a);
#else
  if (launched_by_mpi() && mpi_world_size_from_environment() > 1)
    throw std::invalid_argument(
        "started by mpirun with several ranks, but this lmbatch was built without MPI "
        "(configure with -DLMBATCH_MPI=ON): every rank would fit every problem");
#endif
  const io::FitLog log = spdlog_fit_log();
  io::FitJob job = io::prepare_fit(a.run, log);
  std::optional<io::FitOutput> output = io::open_output(job, log);
  if (!output) return kExitOk;
  ProgressLog progress(a.progress_interval);
  const StopOnSignals signals;
  io::FitHooks hooks;
  hooks.log = log;
  hooks.progress = [&progress](const batch::Progress& p) { progress(p); };
  hooks.stop_requested = &signals.flag();
  const io::FitOutcome outcome = io::run_fit(job, *output, hooks);
  progress.finish();
  return report_outcome(a, job, outcome, signals.signal_name(), signals.exit_status());
}

// --name for an option of the table: "chunk_size" -> "--chunk-size".
std::string flag_of(std::string_view name) {
  std::string flag = "--" + std::string(name);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

// The solver and engine options, from the one list (batch/option_fields.hpp).
// Their values are checked by BatchOptions::validate when the run starts, with
// the same words as Python's.
void add_batch_options(CLI::App* fit, batch::BatchOptions& options, CLI::Option*& chunk_size) {
  batch::for_each_option(options, [&](const batch::OptionInfo& info, auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    const std::string flag = (info.name == "threads" ? "-t," : "") + flag_of(info.name);
    const std::string help(info.help);
    if constexpr (std::is_same_v<T, bool>) {
      fit->add_flag(flag, value, help);
    } else if constexpr (batch::NamedChoice<T>) {
      // One of a few names (batch::ChoiceNames): a bad one is a bad command
      // line, in the words Python uses.
      fit->add_option_function<std::string>(
             flag, [&value](const std::string& name) { value = *batch::parse_choice<T>(name); },
             help)
          ->check([name = info.name](const std::string& given) {
            return batch::parse_choice<T>(given) ? std::string()
                                                 : batch::choice_error<T>(name, given);
          })
          ->default_str(std::string(batch::choice_name(value)));
    } else if constexpr (std::is_same_v<T, std::vector<double>>) {
      fit->add_option(flag, value, help)->delimiter(',');
    } else {
      CLI::Option* option = fit->add_option(flag, value, help)->capture_default_str();
      if (info.name == "chunk_size") chunk_size = option;
    }
  });
}

}  // namespace

Run add_fit_command(CLI::App& app) {
  auto args = std::make_shared<FitArgs>();
  io::FileFitOptions& run = args->run;
  CLI::App* fit = app.add_subcommand("fit", "fit every problem of an HDF5 file");
  fit->add_option("input", run.input.path, "input HDF5 file")->required();
  fit->add_option("-o,--output", run.output, "output HDF5 file")->required();
  fit->add_option("-m,--model", run.model,
                  "model, e.g. gaussian+linear (see `lmbatch models`), or an expression: "
                  "'expr: a*exp(-x/tau) + c', or catalogue terms then an expression");
  fit->add_option("--params", run.params,
                  "parameters of the expression terms, in order: a,tau,c "
                  "(default: the free names in order of appearance)")
      ->delimiter(',');
  fit->add_option("--model-plugin", run.plugins,
                  "load a model plugin (shared library; runs its code: trusted plugins only); "
                  "its term is then known by name in --model (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  fit->add_option("--y", run.input.y, "dataset of the samples, shape (..., m)")
      ->capture_default_str();
  fit->add_option("--x", run.input.x,
                  "dataset of the sample positions: (m) or y's shape; or d >= 2 predictors "
                  "per sample (x1..xd in expressions): (m, d) or y's shape + (d) "
                  "(default: /x if the file has it, else 0..m-1; none: 0..m-1)");
  fit->add_option("--sigma", run.input.sigma,
                  "dataset of the uncertainties: (m) or y's shape (default: /sigma if the file "
                  "has it, else 1; none: 1)");
  fit->add_option("--x0", run.input.x0,
                  "dataset of starting values: (n) or (..., n) (default: /x0 if the file has "
                  "it, else the model's estimate; none: the estimate)");
  fit->add_option("--x0-values", run.x0_values, "starting values for every problem: a,b,c")
      ->delimiter(',')
      ->excludes("--x0");
  fit->add_option("--lower", run.input.lower,
                  "dataset of lower bounds, shaped like x0: (n) or (..., n); NaN or -inf: none");
  fit->add_option("--upper", run.input.upper,
                  "dataset of upper bounds, shaped like x0: (n) or (..., n); NaN or inf: none");
  fit->add_option("--fixed", run.input.fixed,
                  "dataset of a mask shaped like x0: non-zero holds the parameter at its "
                  "starting value");
  CLI::Option* chunk_size = nullptr;
  add_batch_options(fit, run.batch, chunk_size);
  fit->add_option("--compression", args->compression,
                  "gzip which result datasets: integers (nfev, ier, ...: much smaller, "
                  "next to no time), all (float64 too: 15-20 % smaller, several times "
                  "slower to write; gzip is the same) or none; see docs/format.md")
      ->capture_default_str()
      ->check(CLI::IsMember({"integers", "all", "gzip", "none"}));
  fit->add_flag("--overwrite", run.overwrite,
                "replace an existing output file (and discard an interrupted run's journal)");
  fit->add_flag("--resume", run.resume,
                "finish an interrupted run (same input, model and options) from its journal")
      ->excludes("--overwrite");
  fit->add_option("--part", run.part,
                  "solve only part i of N (0 <= i < N) into a shard; `lmbatch merge` joins the "
                  "N shards (SLURM arrays: --part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)")
      ->check([](const std::string& text) {
        try {
          io::parse_part(text);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  fit->add_option("--summary-json", args->summary_json, "write the run's summary as JSON");
  fit->add_option("--report", args->report_dir,
                  "also write maps, histograms and index.html into this folder (lmbatch report)");
  fit->add_option("--progress-interval", args->progress_interval, "seconds between progress lines")
      ->capture_default_str();
  fit->parse_complete_callback([args, chunk_size] {
    io::FileFitOptions& o = args->run;
    if (o.model.empty() && o.plugins.empty())
      throw CLI::RequiredError("--model (or --model-plugin)");
    // A bad value is a bad command line (exit 2), in BatchOptions::validate's
    // words; diag's length is checked against the model later.
    try {
      o.batch.validate(o.batch.diag.empty() ? 1 : static_cast<int>(o.batch.diag.size()));
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(e.what());
    }
    o.chunk_size_given = chunk_size->count() > 0;
    o.compression = io::parse_compression(args->compression);
  });
  return [args] { return run_fit(*args); };
}

}  // namespace lmbatch::app
