#include "lmbatch/io/file_fit.hpp"

#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <tuple>

#include "lmbatch/batch/constraints.hpp"
#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/io/plugin_loader.hpp"
#include "lmbatch/io/problem_source.hpp"
#include "lmbatch/io/run_description.hpp"
#include "lmbatch/io/shards.hpp"
#include "lmbatch/version.hpp"

namespace lmbatch::io {
namespace {

std::string format_mb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

// The model: the specification, with the plugins' terms known by name (the
// model may be omitted with plugins: their sum) and params naming the
// expression terms' parameters.
models::Model make_model(const FileFitOptions& o, const FitLog& log) {
  models::ParseOptions parse;
  parse.expression_parameters = o.params;
  std::string spec = o.model;
  for (const std::string& path : o.plugins) {
    // Loading runs the plugin's code: the user asked for exactly that.
    auto term = load_model_plugin(path);
    log.say("loaded model plugin " + term->spec() + " from " + path + " (" +
            std::to_string(term->parameters().size()) + " parameters)");
    for (const auto& other : parse.named_terms)
      if (other->spec() == term->spec())
        throw std::invalid_argument("two model plugins are named " + term->spec());
    if (o.model.empty()) spec += (spec.empty() ? "" : "+") + term->spec();
    parse.named_terms.push_back(std::move(term));
  }
  if (spec.empty()) throw std::invalid_argument("no model given (a model, or model plugins)");
  return models::Model::parse(spec, parse);
}

void check_options(const FileFitOptions& o, const models::Model& model) {
  const int n = model.n_params();
  if (!o.x0_values.empty() && static_cast<int>(o.x0_values.size()) != n)
    throw std::invalid_argument("x0_values has " + std::to_string(o.x0_values.size()) +
                                " values; model " + model.spec() + " has " + std::to_string(n) +
                                " parameters");
  for (std::size_t j = 0; j < o.x0_values.size(); ++j)
    if (!std::isfinite(o.x0_values[j]))
      throw std::invalid_argument("x0_values: the value of parameter " +
                                  model.parameter_names()[j] + " is not finite");
  if (!o.x0_values.empty() && !o.input.x0.empty() && o.input.x0 != kNoDataset)
    throw std::invalid_argument("x0 (a dataset) and x0_values exclude each other");
  if (o.resume && o.overwrite)
    throw std::invalid_argument("resume and overwrite exclude each other");
  o.batch.validate(n);
  // Constraints by name, against the model's names: before anything is opened.
  batch::resolve_constraints(o.batch.bounds, o.batch.fix, o.batch.tie, model.parameter_names());
}

// What the run records about itself: the result file's attributes and the
// fingerprint a resume must match.
RunDescription describe(const FitJob& job) {
  const FileFitOptions& o = job.options;
  RunDescription run;
  run.version = kVersion;
  run.input = job.input->spec();  // resolved: the datasets actually read (/x by default)
  run.x0_values = o.x0_values;
  run.model = job.model.spec();
  run.parameter_names = job.model.parameter_names();
  run.plugin_paths = o.plugins;
  run.options = o.batch;
  run.compression = o.compression;
  return run;
}

}  // namespace

FitJob prepare_fit(const FileFitOptions& options, const FitLog& log) {
  FitJob job{options, make_model(options, log), nullptr, {}, {}, 0, 0, {}};
  const models::Model& model = job.model;
  const int n = model.n_params();
  check_options(options, model);

  InputSpec spec = options.input;
  // x0_values replace the file's starting values: a default /x0 is not read.
  if (!options.x0_values.empty()) spec.x0 = kNoDataset;
  job.input = std::make_unique<ProblemFile>(std::move(spec), n);
  const ProblemFile& input = *job.input;
  if (options.x0_values.empty() && input.spec().x0.empty() && !model.can_estimate())
    throw std::invalid_argument("model term \"" + model.first_term_without_estimate() +
                                "\" has no starting-value estimate: give x0 (a dataset) or "
                                "x0_values");
  // x with several predictors per sample (x1..xd) needs a model that reads
  // them: refused before the output and the journal are created.
  model.check_predictors(input.predictors());
  // --refine neighbours reads y's two leading dimensions as an image.
  if (input.leading_shape().size() == 2)
    job.options.batch.image_width = static_cast<std::size_t>(input.leading_shape()[1]);
  log.say(options.input.path + ": " + std::to_string(input.problem_count()) + " problems of " +
          std::to_string(input.m()) + " samples (" + input.spec().y + " " + input.y_type() + "), " +
          input.inputs_text() + "; model " + model.spec() + " (" + std::to_string(n) +
          " parameters)");
  if (input.m() < n)
    log.caution("every problem has " + std::to_string(input.m()) + " samples, fewer than the " +
                std::to_string(n) + " parameters of " + model.spec() +
                ": none can be solved (each ends with ier -3)");
  if (options.batch.full_output) {
    const double bytes = static_cast<double>(input.problem_count()) *
                         (static_cast<double>(input.m()) * (n + 1) + 2.0 * n) * 8.0;
    log.caution("full output adds fvec, fjac, ipvt and qtf: about " + format_mb(bytes) +
                " more output");
  }

  const RunDescription run = describe(job);
  job.out = output_spec(run, input, options.output, options.overwrite);
  job.journal_path = Journal::path_for(options.output);
  job.fingerprint = run_fingerprint(run);
  job.part_first = 0;
  job.part_end = input.problem_count();
  if (!options.part.empty()) {
    const Part part = parse_part(options.part);
    std::tie(job.part_first, job.part_end) = part_range(input.problem_count(), part);
    job.out.string_attributes.emplace_back(kPartAttribute, part.text());
    job.out.integer_attributes.emplace_back(kPartFirstAttribute,
                                            static_cast<long long>(job.part_first));
    job.out.integer_attributes.emplace_back(kPartEndAttribute,
                                            static_cast<long long>(job.part_end));
    job.fingerprint.entries.emplace_back("part", part.text());  // a resume must be of the same part
    log.say("part " + part.text() + ": problems [" + std::to_string(job.part_first) + ", " +
            std::to_string(job.part_end) + ") of " + std::to_string(input.problem_count()));
  }
  job.options.batch.range_begin = job.part_first;
  job.options.batch.first_problem = job.part_first;
  job.options.batch.end_problem = job.part_end;
  return job;
}

std::optional<FitOutput> open_output(FitJob& job, const FitLog& log) {
  const FileFitOptions& o = job.options;
  const ProblemFile& input = *job.input;
  if (o.resume && std::filesystem::exists(o.output)) {
    // Killed after the output was complete and renamed, before the journal
    // was removed: nothing is left to do.
    if (std::filesystem::exists(job.journal_path)) std::filesystem::remove(job.journal_path);
    log.say(o.output + " is complete; nothing to resume");
    return std::nullopt;
  }
  if (!o.resume && o.overwrite) std::filesystem::remove(job.journal_path);
  OutputSpec out = job.out;
  if (o.resume) out.overwrite = true;  // the .partial is rebuilt from the journal
  ResultFile result(out);
  batch::SummaryTally whole;
  const int n = job.model.n_params();
  const bool full = o.batch.full_output;
  Journal journal = o.resume ? Journal::resume(job.journal_path, job.fingerprint, input.m(), n,
                                               full, input.problem_count(), job.part_first,
                                               [&](const batch::Chunk& c) {
                                                 result.write(c);
                                                 whole.add(c);
                                               })
                             : Journal::create(job.journal_path, job.fingerprint, input.m(), n,
                                               full, input.problem_count(), job.part_first);
  const std::size_t recovered = journal.done() - job.part_first;
  if (o.resume)
    log.say("resuming: " + std::to_string(recovered) + " of " +
            std::to_string(job.part_end - job.part_first) + " problems recovered from " +
            job.journal_path);
  job.options.batch.first_problem = journal.done();
  return FitOutput{std::move(result), std::move(journal), std::move(whole), recovered};
}

FileSink::FileSink(FitOutput& output) : output_(output) {
  if (const char* n = std::getenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER"))
    fail_after_ = std::strtol(n, nullptr, 10);
}

void FileSink::write(const batch::Chunk& chunk) {
  if (fail_after_ >= 0 && written_++ >= fail_after_)
    throw Error(output_.result.spec().path, "",
                "write failed: no space left on device (injected by "
                "LMBATCH_INJECT_WRITE_FAILURE_AFTER)");
  output_.journal.append(chunk);
  output_.result.write(chunk);
  output_.whole.add(chunk);
}

FitOutcome finish_fit(FitJob& job, FitOutput& output, const batch::BatchSummary& session) {
  FitOutcome outcome;
  outcome.model = job.model.spec();
  outcome.leading_shape = job.input->leading_shape();
  outcome.session = session;
  outcome.recovered = output.recovered;
  outcome.whole = session;
  outcome.whole.problems = output.recovered + session.problems;
  output.whole.fill(outcome.whole);
  if (session.interrupted) {
    output.journal.sync();  // what a resume starts from, durable now
    return outcome;
  }
  output.result.add_attributes(
      {{"end_time", now_iso8601()}},
      {{"seconds", session.seconds},
       {"fits_per_second",
        session.seconds > 0 ? static_cast<double>(session.problems) / session.seconds : 0.0}},
      {{"threads", session.threads}});
  output.result.finish();
  output.journal.remove();
  outcome.complete = true;
  return outcome;
}

FitOutcome run_file_fit(const FileFitOptions& options, const FitHooks& hooks) {
  FitJob job = prepare_fit(options, hooks.log);
  std::optional<FitOutput> output = open_output(job, hooks.log);
  if (!output) {
    FitOutcome done;
    done.model = job.model.spec();
    done.leading_shape = job.input->leading_shape();
    done.nothing_to_do = true;
    done.complete = true;
    return done;
  }
  return run_fit(job, *output, hooks);
}

FitOutcome run_fit(FitJob& job, FitOutput& output, const FitHooks& hooks) {
  batch::BatchOptions& run = job.options.batch;
  // A small run (or what a resume leaves) still gets work for every thread;
  // the journal and the result file do not depend on the chunk size.
  if (!job.options.chunk_size_given)
    run.chunk_size = batch::balanced_chunk_size(run.end_problem - run.first_problem, run.threads,
                                                run.chunk_size);
  FileProblemSource source(*job.input, job.options.x0_values);
  FileSink sink(output);
  run.progress = hooks.progress;
  run.stop_requested = hooks.stop_requested;
  const batch::BatchSummary session = batch::run(job.model, source, sink, run);
  return finish_fit(job, output, session);
}

}  // namespace lmbatch::io
