// lmbatch fit IN.h5 -o OUT.h5 --model M ...: HDF5 in, batch engine, HDF5 out.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "cluster_fit.hpp"
#include "commands.hpp"
#include "fit_job.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/journal.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/problem_source.hpp"
#include "lmbatch/io/result_file.hpp"
#include "lmbatch/io/run_description.hpp"
#include "lmbatch/io/shards.hpp"
#include "plugin_loader.hpp"
#include "progress_log.hpp"
#include "lmbatch/report/report.hpp"
#include "run_control.hpp"

namespace lmbatch::app {
namespace {

// The model: --model's specification, with the plugins' terms known by
// name (--model alone may be omitted with plugins: their sum) and --params
// naming the expression terms' parameters.
models::Model make_model(const FitArgs& a) {
  models::ParseOptions parse;
  parse.expression_parameters = a.params;
  std::string spec = a.model;
  for (const std::string& path : a.plugins) {
    // Loading runs the plugin's code: the user asked for exactly that.
    auto term = load_model_plugin(path);
    spdlog::info("loaded model plugin {} from {} ({} parameters)", term->spec(), path,
                 term->parameters().size());
    for (const auto& other : parse.named_terms)
      if (other->spec() == term->spec())
        throw std::invalid_argument("two model plugins are named " + term->spec());
    if (a.model.empty()) spec += (spec.empty() ? "" : "+") + term->spec();
    parse.named_terms.push_back(std::move(term));
  }
  return models::Model::parse(spec, parse);
}

}  // namespace

FitJob prepare_fit(const FitArgs& a) {
  FitJob job{a, make_model(a), {}, a.spec, nullptr, {}, {}, 0, 0, {}};
  const models::Model& model = job.model;
  const int n = model.n_params();
  if (!a.x0_values.empty() && static_cast<int>(a.x0_values.size()) != n)
    throw std::invalid_argument("--x0-values has " + std::to_string(a.x0_values.size()) +
                                " values; model " + model.spec() + " has " + std::to_string(n) +
                                " parameters");
  for (double v : a.x0_values)
    if (!std::isfinite(v)) throw std::invalid_argument("--x0-values must be finite");

  batch::BatchOptions& options = job.options;
  options.solver.ftol = a.ftol;
  options.solver.xtol = a.xtol;
  options.solver.gtol = a.gtol;
  options.solver.maxfev = a.maxfev;
  options.solver.epsfcn = a.epsfcn;
  options.solver.factor = a.factor;
  options.solver.diag = job.args.diag;  // a span: it must refer to the job's own copy
  options.jacobian =
      a.jacobian == "forward" ? batch::JacobianMode::forward : batch::JacobianMode::analytic;
  options.full_output = a.full_output;
  options.threads = a.threads;
  options.chunk_size = a.chunk_size;
  if (!a.diag.empty() && static_cast<int>(a.diag.size()) != n)
    throw std::invalid_argument("--diag has " + std::to_string(a.diag.size()) +
                                " values; the model has " + std::to_string(n) + " parameters");
  if (const char* why = options.solver.validate(n, n)) throw std::invalid_argument(why);

  io::InputSpec& spec = job.spec;
  spec.path = a.input;
  if (a.x0_values.empty() && spec.x0.empty() && !model.can_estimate())
    throw std::invalid_argument("model term \"" + model.first_term_without_estimate() +
                                "\" has no starting-value estimate: give --x0 or --x0-values");
  job.input = std::make_unique<io::ProblemFile>(spec, n);
  const io::ProblemFile& input = *job.input;
  // x with several predictors per sample (x1..xd) needs a model that reads
  // them: refused before the output and the journal are created.
  model.check_predictors(input.predictors());
  spdlog::info("{}: {} problems of {} samples ({} {}), model {} ({} parameters)", a.input,
               input.problem_count(), input.m(), spec.y, input.y_type(), model.spec(), n);

  if (a.full_output) {
    const double bytes = static_cast<double>(input.problem_count()) *
                         (static_cast<double>(input.m()) * (n + 1) + 2.0 * n) * 8.0;
    spdlog::warn("--full-output adds fvec, fjac, ipvt and qtf: about {:.1f} MB more output",
                 bytes / 1e6);
  }

  io::RunDescription run;
  run.version = kVersion;
  run.input = spec;
  run.x0_values = a.x0_values;
  run.model = model.spec();
  run.parameter_names = model.parameter_names();
  run.plugin_paths = a.plugins;
  run.solver = options.solver;
  run.analytic_jacobian = options.jacobian == batch::JacobianMode::analytic;
  run.full_output = a.full_output;
  run.compression = io::parse_compression(a.compression);
  job.out = io::output_spec(run, input, a.output, a.overwrite);
  io::OutputSpec& out = job.out;
  job.journal_path = io::Journal::path_for(a.output);
  job.fingerprint = io::run_fingerprint(run);
  job.part_first = 0;
  job.part_end = input.problem_count();
  if (!a.part.empty()) {
    const io::Part part = io::parse_part(a.part);
    std::tie(job.part_first, job.part_end) = io::part_range(input.problem_count(), part);
    out.string_attributes.emplace_back(io::kPartAttribute, part.text());
    out.number_attributes.emplace_back(io::kPartFirstAttribute,
                                       static_cast<double>(job.part_first));
    out.number_attributes.emplace_back(io::kPartEndAttribute, static_cast<double>(job.part_end));
    job.fingerprint.entries.emplace_back("part", part.text());  // a resume must be of the same part
    spdlog::info("part {}: problems [{}, {}) of {}", part.text(), job.part_first, job.part_end,
                 input.problem_count());
  }
  options.end_problem = job.part_end;
  return job;
}

std::optional<FitOutput> open_output(FitJob& job) {
  const FitArgs& a = job.args;
  const io::ProblemFile& input = *job.input;
  if (a.resume && std::filesystem::exists(a.output)) {
    // Killed after the output was complete and renamed, before the journal
    // was removed: nothing is left to do.
    if (std::filesystem::exists(job.journal_path)) std::filesystem::remove(job.journal_path);
    spdlog::info("{} is complete; nothing to resume", a.output);
    return std::nullopt;
  }
  if (!a.resume && a.overwrite) std::filesystem::remove(job.journal_path);
  io::OutputSpec out = job.out;
  if (a.resume) out.overwrite = true;  // the .partial is rebuilt from the journal
  io::ResultFile result(out);
  const int n = job.model.n_params();
  io::Journal journal =
      a.resume ? io::Journal::resume(job.journal_path, job.fingerprint, input.m(), n,
                                     a.full_output, input.problem_count(), job.part_first,
                                     [&result](const batch::Chunk& c) { result.write(c); })
               : io::Journal::create(job.journal_path, job.fingerprint, input.m(), n,
                                     a.full_output, input.problem_count(), job.part_first);
  if (a.resume)
    spdlog::info("resuming: {} of {} problems recovered from {}", journal.done() - job.part_first,
                 job.part_end - job.part_first, job.journal_path);
  job.options.first_problem = journal.done();
  return FitOutput{std::move(result), std::move(journal)};
}

void FileSink::write(const batch::Chunk& chunk) {
  if (fail_after_ >= 0 && written_++ >= fail_after_)
    throw io::Error(output_.result.spec().path, "",
                    "write failed: no space left on device (injected by "
                    "LMBATCH_INJECT_WRITE_FAILURE_AFTER)");
  output_.journal.append(chunk);
  output_.result.write(chunk);
}

int finish_fit(FitJob& job, FitOutput& output, const batch::BatchSummary& summary,
               const char* signal_name, int signal_exit_status) {
  const FitArgs& a = job.args;
  if (summary.interrupted) {
    spdlog::warn(
        "interrupted by {}: {} of {} problems are done and saved in {}; run the same command "
        "with --resume to finish",
        signal_name, summary.next_problem - job.part_first, job.part_end - job.part_first,
        job.journal_path);
    return signal_exit_status;
  }
  output.result.add_attributes(
      {{"end_time", io::now_iso8601()}},
      {{"threads", summary.threads},
       {"seconds", summary.seconds},
       {"fits_per_second",
        summary.seconds > 0 ? static_cast<double>(summary.problems) / summary.seconds : 0.0}});
  output.result.finish();
  output.journal.remove();
  if (!a.report_dir.empty()) write_report(a.output, a.report_dir);
  log_summary(summary, job.options.solver, job.model.n_params(),
              job.options.jacobian == batch::JacobianMode::analytic);
  spdlog::info("wrote {}", a.output);
  if (!a.summary_json.empty()) {
    std::ofstream json(a.summary_json);
    json << summary_json(summary, job.model.spec(), a.input, a.output) << "\n";
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
  FitJob job = prepare_fit(a);
  std::optional<FitOutput> output = open_output(job);
  if (!output) return kExitOk;
  // A small run (or what a resume leaves) still gets work for every thread;
  // the journal and the result file do not depend on the chunk size.
  if (!a.chunk_size_given)
    job.options.chunk_size = batch::balanced_chunk_size(
        job.options.end_problem - job.options.first_problem, a.threads, a.chunk_size);
  io::FileProblemSource source(*job.input, a.x0_values);
  FileSink sink(*output);
  ProgressLog progress(a.progress_interval);
  job.options.progress = [&progress](const batch::Progress& p) { progress(p); };
  const StopOnSignals signals;
  job.options.stop_requested = &signals.flag();
  const batch::BatchSummary summary = batch::run(job.model, source, sink, job.options);
  progress.finish();
  return finish_fit(job, *output, summary, signals.signal_name(), signals.exit_status());
}

}  // namespace

Run add_fit_command(CLI::App& app) {
  auto args = std::make_shared<FitArgs>();
  CLI::App* fit = app.add_subcommand("fit", "fit every problem of an HDF5 file");
  fit->add_option("input", args->input, "input HDF5 file")->required();
  fit->add_option("-o,--output", args->output, "output HDF5 file")->required();
  fit->add_option("-m,--model", args->model,
                  "model, e.g. gaussian+linear (see `lmbatch models`), or an expression: "
                  "'expr: a*exp(-x/tau) + c', or catalogue terms then an expression");
  fit->add_option("--params", args->params,
                  "parameters of the expression terms, in order: a,tau,c "
                  "(default: the free names in order of appearance)")
      ->delimiter(',');
  fit->add_option("--model-plugin", args->plugins,
                  "load a model plugin (shared library; runs its code: trusted plugins only); "
                  "its term is then known by name in --model (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  fit->parse_complete_callback([args] {
    if (args->model.empty() && args->plugins.empty())
      throw CLI::RequiredError("--model (or --model-plugin)");
  });
  fit->add_option("--y", args->spec.y, "dataset of the samples, shape (..., m)")
      ->capture_default_str();
  fit->add_option("--x", args->spec.x,
                  "dataset of the sample positions: (m) or y's shape; or d >= 2 predictors "
                  "per sample (x1..xd in expressions): (m, d) or y's shape + (d)");
  fit->add_option("--sigma", args->spec.sigma, "dataset of the uncertainties: (m) or y's shape");
  fit->add_option("--x0", args->spec.x0, "dataset of starting values: (n) or (..., n)");
  fit->add_option("--x0-values", args->x0_values, "starting values for every problem: a,b,c")
      ->delimiter(',')
      ->excludes("--x0");
  fit->add_option("--ftol", args->ftol, "relative reduction of the sum of squares")
      ->capture_default_str();
  fit->add_option("--xtol", args->xtol, "relative change of x")->capture_default_str();
  fit->add_option("--gtol", args->gtol, "orthogonality of fvec and the Jacobian")
      ->capture_default_str();
  fit->add_option("--maxfev", args->maxfev, "maximum function calls (0: 100(n+1) or 200(n+1))")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--epsfcn", args->epsfcn, "forward-difference step parameter (0: machine eps)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--factor", args->factor, "initial step bound factor")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  fit->add_option("--diag", args->diag, "n positive scale factors: a,b,c (default: automatic)")
      ->delimiter(',');
  fit->add_option("--jacobian", args->jacobian, "analytic (lmder) or forward (lmdif)")
      ->capture_default_str()
      ->check(CLI::IsMember({"analytic", "forward"}));
  fit->add_option("-t,--threads", args->threads, "worker threads (0: every core)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  CLI::Option* chunk_size =
      fit->add_option("--chunk-size", args->chunk_size,
                      "problems per pipeline chunk (unless given: at most problems / (4 x "
                      "threads), so that a small run still uses every thread)")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);
  fit->add_flag("--full-output", args->full_output, "also write fvec, fjac, ipvt and qtf");
  fit->add_option("--compression", args->compression,
                  "gzip which result datasets: integers (nfev, ier, ...: much smaller, "
                  "next to no time), all (float64 too: 15-20 % smaller, several times "
                  "slower to write; gzip is the same) or none; see docs/format.md")
      ->capture_default_str()
      ->check(CLI::IsMember({"integers", "all", "gzip", "none"}));
  fit->add_flag("--overwrite", args->overwrite,
                "replace an existing output file (and discard an interrupted run's journal)");
  fit->add_flag("--resume", args->resume,
                "finish an interrupted run (same input, model and options) from its journal")
      ->excludes("--overwrite");
  fit->add_option("--part", args->part,
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
  return [args, chunk_size] {
    args->chunk_size_given = chunk_size->count() > 0;
    return run_fit(*args);
  };
}

}  // namespace lmbatch::app
