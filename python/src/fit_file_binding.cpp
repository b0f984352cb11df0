// _core.fit_file: what `lmbatch fit IN -o OUT --model M ...` does (apps/fit_command.cpp), with
// io::ProblemFile, io::ResultFile and batch::run: same checks, same output datasets and root
// attributes, same summary (returned as a dict instead of logged).
#include <chrono>
#include <cmath>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/io/problem_file.hpp"
#include "lmbatch/io/problem_source.hpp"
#include "lmbatch/io/result_file.hpp"
#include "lmbatch/io/run_description.hpp"
#include "lmbatch/models/model.hpp"
#include "support.hpp"

namespace lmbatch::python {
namespace {

class FileSink final : public batch::ResultSink {
 public:
  explicit FileSink(io::ResultFile& file) : file_(file) {}
  void write(const batch::Chunk& chunk) override { file_.write(chunk); }

 private:
  io::ResultFile& file_;
};

py::dict fit_file(const std::string& input_path, const std::string& output_path,
                  const std::string& model_spec, const std::string& y, const std::string& x,
                  const std::string& sigma, const std::string& x0,
                  const std::vector<double>& x0_values, double ftol, double xtol, double gtol,
                  int maxfev, double epsfcn, double factor,
                  const std::optional<std::vector<double>>& diag, const std::string& jacobian,
                  int threads, int chunk_size, bool full_output, bool overwrite,
                  const std::string& compression, const py::object& progress) {
  const models::Model model = models::Model::parse(model_spec);
  const int n = model.n_params();
  if (!x0_values.empty() && static_cast<int>(x0_values.size()) != n)
    throw std::invalid_argument("x0_values has " + std::to_string(x0_values.size()) +
                                " values; model " + model.spec() + " has " + std::to_string(n) +
                                " parameters");
  for (double v : x0_values)
    if (!std::isfinite(v)) throw std::invalid_argument("x0_values must be finite");
  if (!x0_values.empty() && !x0.empty())
    throw std::invalid_argument("x0 (a dataset) and x0_values exclude each other");
  const io::Compression output_compression = io::parse_compression(compression);

  PyOptions o;
  o.ftol = ftol;
  o.xtol = xtol;
  o.gtol = gtol;
  o.maxfev = maxfev;
  o.epsfcn = epsfcn;
  o.factor = factor;
  if (diag) o.diag = *diag;
  o.jacobian = jacobian;
  o.threads = threads;
  // 0: balanced below, as lmbatch fit does without --chunk-size.
  o.chunk_size = chunk_size > 0 ? chunk_size : batch::BatchOptions{}.chunk_size;
  o.full_output = full_output;
  const batch::BatchOptions options = o.batch_options(n);
  const bool analytic = options.jacobian == batch::JacobianMode::analytic;

  const auto [summary, leading_shape] = run_without_gil(
      [&](const batch::ProgressCallback& callback) {
        io::InputSpec spec;
        spec.path = input_path;
        spec.y = y;
        spec.x = x;
        spec.sigma = sigma;
        spec.x0 = x0;
        io::ProblemFile input(spec, n);
        // x with several predictors per sample (x1..xd) needs a model that
        // reads them: refused here, before the output is created.
        model.check_predictors(input.predictors());

        io::RunDescription run;
        run.version = LMBATCH_APP_VERSION;
        run.input = spec;
        run.x0_values = x0_values;
        run.model = model.spec();
        run.parameter_names = model.parameter_names();
        run.solver = options.solver;
        run.analytic_jacobian = analytic;
        run.full_output = full_output;
        run.compression = output_compression;
        const io::OutputSpec out_spec = io::output_spec(run, input, output_path, overwrite);
        io::ResultFile result(out_spec);

        io::FileProblemSource source(input, x0_values);
        FileSink sink(result);
        batch::BatchOptions with_progress = options;
        with_progress.progress = callback;
        if (chunk_size <= 0)
          with_progress.chunk_size =
              batch::balanced_chunk_size(input.problem_count(), threads, options.chunk_size);
        const batch::BatchSummary summary = batch::run(model, source, sink, with_progress);
        result.add_attributes(
            {{"end_time", io::now_iso8601()}},
            {{"threads", summary.threads},
             {"seconds", summary.seconds},
             {"fits_per_second", summary.seconds > 0
                                     ? static_cast<double>(summary.problems) / summary.seconds
                                     : 0.0}});
        result.finish();
        return std::make_pair(summary, input.leading_shape());
      },
      progress);

  py::dict out = summary_dict(summary);
  out["model"] = model.spec();
  out["input"] = input_path;
  out["output"] = output_path;
  out["fits_per_second"] =
      summary.seconds > 0 ? static_cast<double>(summary.problems) / summary.seconds : 0.0;
  out["leading_shape"] = leading_shape;
  return out;
}

}  // namespace

void bind_fit_file(py::module_& m) {
  m.def("fit_file", &fit_file, py::arg("input"), py::arg("output"), py::arg("model"), py::arg("y"),
        py::arg("x"), py::arg("sigma"), py::arg("x0"), py::arg("x0_values"), py::arg("ftol"),
        py::arg("xtol"), py::arg("gtol"), py::arg("maxfev"), py::arg("epsfcn"), py::arg("factor"),
        py::arg("diag").none(true), py::arg("jacobian"), py::arg("threads"),
        py::arg("chunk_size"), py::arg("full_output"), py::arg("overwrite"),
        py::arg("compression"), py::arg("progress").none(true), "`lmbatch fit` on HDF5 files; see lmbatch.fit_file.");
}

}  // namespace lmbatch::python
