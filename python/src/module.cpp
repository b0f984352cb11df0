// lmbatch._core: the extension module under the `lmbatch` package (python/lmbatch/*.py holds
// the public, scipy-shaped API on top of it).
//
// Errors: std::invalid_argument (bad shapes, options, model specifications) becomes ValueError,
// io::Error (files: missing, unreadable, not HDF5, bad datasets, existing output) OSError; both
// keep the message the `lmbatch` command prints.
#include <string>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/batch/status.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/models/model.hpp"
#include "support.hpp"

namespace lmbatch::python {

batch::BatchOptions PyOptions::batch_options(int n) const {
  batch::BatchOptions options;
  options.solver.ftol = ftol;
  options.solver.xtol = xtol;
  options.solver.gtol = gtol;
  options.solver.maxfev = maxfev;
  options.solver.epsfcn = epsfcn;
  options.solver.factor = factor;
  options.solver.diag = diag;
  if (jacobian == "analytic")
    options.jacobian = batch::JacobianMode::analytic;
  else if (jacobian == "forward")
    options.jacobian = batch::JacobianMode::forward;
  else
    throw std::invalid_argument("jacobian must be 'analytic' or 'forward', not '" + jacobian +
                                "'");
  options.full_output = full_output;
  options.threads = threads;
  options.chunk_size = chunk_size;
  if (threads < 0) throw std::invalid_argument("threads must be >= 1 (or None for every core)");
  if (chunk_size < 1) throw std::invalid_argument("chunk_size must be >= 1");
  if (!diag.empty() && static_cast<int>(diag.size()) != n)
    throw std::invalid_argument("diag has " + std::to_string(diag.size()) +
                                " values; the model has " + std::to_string(n) + " parameters");
  if (const char* why = options.solver.validate(n, n)) throw std::invalid_argument(why);
  return options;
}

py::dict summary_dict(const batch::BatchSummary& s) {
  py::dict d;
  d["problems"] = s.problems;
  d["seconds"] = s.seconds;
  d["threads"] = s.threads;
  d["median_nfev"] = s.median_nfev;
  py::dict counts;
  for (int st = batch::kMinStatus; st <= batch::kMaxStatus; ++st)
    if (s.count(st)) counts[py::int_(st)] = s.count(st);
  d["ier_counts"] = counts;
  d["first_failures"] = s.first_failures;
  return d;
}

std::string shape_text(const std::vector<py::ssize_t>& shape) {
  std::string t = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) t += (i ? ", " : "") + std::to_string(shape[i]);
  return t + (shape.size() == 1 ? ",)" : ")");
}

namespace {

// The catalogue: [(name, formula, [parameter names], is_baseline)].
py::list catalogue() {
  py::list out;
  for (const models::Term& t : models::catalogue()) {
    std::vector<std::string> names(t.parameters.begin(), t.parameters.end());
    out.append(py::make_tuple(std::string(t.name), std::string(t.formula), names, t.is_baseline));
  }
  return out;
}

// (canonical spec, parameter names) of a model specification; ValueError if it does not parse.
py::tuple describe_model(const std::string& spec) {
  const models::Model model = models::Model::parse(spec);
  return py::make_tuple(model.spec(), model.parameter_names());
}

// The sentence for an ier (-4..8), with the tolerances as given (batch::status_text).
std::string message(int ier, double ftol, double xtol, double gtol, int maxfev) {
  leastsq::Options o;
  o.ftol = ftol;
  o.xtol = xtol;
  o.gtol = gtol;
  return batch::status_text(ier, o, maxfev);
}

}  // namespace
}  // namespace lmbatch::python

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  using namespace lmbatch::python;
  m.doc() = "lmbatch's C++ core (use the lmbatch package, not this module)";
  m.attr("version") = LMBATCH_APP_VERSION;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const lmbatch::io::Error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });
  bind_leastsq(m);
  bind_fit(m);
  bind_fit_file(m);
  m.def("catalogue", &catalogue, "[(name, formula, parameter names, is_baseline)]");
  m.def("describe_model", &describe_model, py::arg("spec"),
        "(canonical specification, parameter names)");
  m.def("message", &message, py::arg("ier"), py::arg("ftol"), py::arg("xtol"), py::arg("gtol"),
        py::arg("maxfev"), "scipy's mesg for an ier");
}
