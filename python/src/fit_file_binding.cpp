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

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char buf[32];
  std::tm utc{};
  gmtime_r(&t, &utc);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

std::string ier_message_table(const leastsq::Options& o, int maxfev) {
  std::string table;
  for (int s = -3; s <= 8; ++s) {
    std::string words = s == -3 ? "Fewer valid samples than parameters: not solved."
                                : leastsq::message(static_cast<leastsq::Status>(s), o, maxfev);
    table += std::to_string(s) + ": " + words + "\n";
  }
  return table;
}

py::dict fit_file(const std::string& input_path, const std::string& output_path,
                  const std::string& model_spec, const std::string& y, const std::string& x,
                  const std::string& sigma, const std::string& x0,
                  const std::vector<double>& x0_values, double ftol, double xtol, double gtol,
                  int maxfev, double epsfcn, double factor,
                  const std::optional<std::vector<double>>& diag, const std::string& jacobian,
                  int threads, int chunk_size, bool full_output, bool overwrite,
                  const py::object& progress) {
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
  o.chunk_size = chunk_size;
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

        io::OutputSpec out_spec;
        out_spec.path = output_path;
        out_spec.overwrite = overwrite;
        out_spec.full_output = full_output;
        out_spec.leading_shape = input.leading_shape();
        out_spec.m = input.m();
        out_spec.n = n;
        out_spec.parameter_names = model.parameter_names();
        out_spec.string_attributes = {
            {"model", model.spec()},
            {"ier_messages",
             ier_message_table(options.solver, options.solver.effective_maxfev(n, analytic))},
            {"lmbatch_version", LMBATCH_APP_VERSION},
            {"input_file", input_path},
            {"y", spec.y},
            {"x", spec.x.empty() ? "(absent: 0..m-1)" : spec.x},
            {"sigma", spec.sigma.empty() ? "(absent: 1)" : spec.sigma},
            {"x0", !x0_values.empty() ? "(--x0-values)"
                   : spec.x0.empty()  ? "(model's estimate)"
                                      : spec.x0},
            {"jacobian", jacobian},
            {"start_time", now_iso8601()},
        };
        out_spec.number_attributes = {
            {"ftol", ftol},     {"xtol", xtol},
            {"gtol", gtol},     {"maxfev", options.solver.effective_maxfev(n, analytic)},
            {"epsfcn", epsfcn}, {"factor", factor},
        };
        if (!x0_values.empty())
          for (int j = 0; j < n; ++j)
            out_spec.number_attributes.emplace_back("x0_value_" + std::to_string(j), x0_values[j]);
        if (!o.diag.empty())
          for (int j = 0; j < n; ++j)
            out_spec.number_attributes.emplace_back("diag_" + std::to_string(j), o.diag[j]);
        io::ResultFile result(out_spec);

        io::FileProblemSource source(input, x0_values);
        FileSink sink(result);
        batch::BatchOptions with_progress = options;
        with_progress.progress = callback;
        const batch::BatchSummary summary = batch::run(model, source, sink, with_progress);
        result.add_attributes(
            {{"end_time", now_iso8601()}},
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
        py::arg("progress").none(true), "`lmbatch fit` on HDF5 files; see lmbatch.fit_file.");
}

}  // namespace lmbatch::python
