// _core.fit_file: `lmbatch fit IN -o OUT --model M ...` (io::run_file_fit, the run the command
// makes): the same checks, output, journal, --resume, --part and plugins; the summary is
// returned as a dict instead of logged.
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/io/file_fit.hpp"
#include "support.hpp"

namespace lmbatch::python {
namespace {

py::dict fit_file(const std::string& input_path, const std::string& output_path,
                  const std::string& model_spec, const py::dict& datasets,
                  const std::vector<double>& x0_values, const py::dict& option_values,
                  bool chunk_size_given, const std::string& compression, bool overwrite,
                  bool resume, const std::string& part, const std::vector<std::string>& plugins,
                  const std::vector<std::string>& params, const py::object& progress) {
  io::FileFitOptions o;
  o.input.path = input_path;
  for (auto [name, field] :
       {std::pair{"y", &io::InputSpec::y}, std::pair{"x", &io::InputSpec::x},
        std::pair{"sigma", &io::InputSpec::sigma}, std::pair{"x0", &io::InputSpec::x0},
        std::pair{"lower", &io::InputSpec::lower}, std::pair{"upper", &io::InputSpec::upper},
        std::pair{"fixed", &io::InputSpec::fixed}})
    if (datasets.contains(name) && !datasets[name].is_none())
      o.input.*field = datasets[name].cast<std::string>();
  o.output = output_path;
  o.model = model_spec;
  o.params = params;
  o.plugins = plugins;
  o.x0_values = x0_values;
  // diag's length is checked against the model when the run is prepared.
  o.batch = batch_options(option_values, 0);
  o.chunk_size_given = chunk_size_given;
  o.compression = io::parse_compression(compression);  // before anything is opened
  o.overwrite = overwrite;
  o.resume = resume;
  o.part = part;

  const io::FitOutcome outcome = run_without_gil(
      [&](const batch::ProgressCallback& callback) {
        io::FitHooks hooks;
        hooks.progress = callback;
        return io::run_file_fit(o, hooks);
      },
      progress);
  py::dict out = summary_dict(outcome.whole);
  out["seconds"] = outcome.session.seconds;  // this run's time and threads
  out["threads"] = outcome.session.threads;
  out["fits_per_second"] =
      outcome.session.seconds > 0
          ? static_cast<double>(outcome.session.problems) / outcome.session.seconds
          : 0.0;
  out["recovered"] = outcome.recovered;
  out["complete"] = outcome.complete;
  out["model"] = outcome.model;
  out["leading_shape"] = outcome.leading_shape;
  out["input"] = input_path;
  out["output"] = output_path;
  return out;
}

}  // namespace

void bind_fit_file(py::module_& m) {
  m.def("fit_file", &fit_file, py::arg("input"), py::arg("output"), py::arg("model"),
        py::arg("datasets"), py::arg("x0_values"), py::arg("options"), py::arg("chunk_size_given"),
        py::arg("compression"), py::arg("overwrite"), py::arg("resume"), py::arg("part"),
        py::arg("plugins"), py::arg("params"), py::arg("progress").none(true),
        "`lmbatch fit` on HDF5 files; see lmbatch.fit_file.");
}

}  // namespace lmbatch::python
