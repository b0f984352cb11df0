// lmbatch._core: the extension module under the `lmbatch` package (python/lmbatch/*.py holds
// the public, scipy-shaped API on top of it).
//
// Errors: std::invalid_argument (bad shapes, options, model specifications) becomes ValueError,
// io::Error (files: missing, unreadable, not HDF5, bad datasets, existing output) OSError; both
// keep the message the `lmbatch` command prints.
#include <string>
#include <type_traits>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/batch/result_fields.hpp"
#include "lmbatch/batch/status.hpp"
#include "lmbatch/io/hdf5.hpp"
#include "lmbatch/models/model.hpp"
#include "lmbatch/version.hpp"
#include "support.hpp"

namespace lmbatch::python {

batch::BatchOptions batch_options(const py::dict& given, int n) {
  batch::BatchOptions options;
  std::size_t known = 0;
  batch::for_each_option(options, [&](const batch::OptionInfo& info, auto& value) {
    const py::str key(std::string(info.name));
    if (!given.contains(key)) return;
    ++known;
    const py::handle v = given[key];
    if (v.is_none()) return;
    using T = std::remove_cvref_t<decltype(value)>;
    try {
      if constexpr (batch::NamedChoice<T>) {
        const auto name = v.cast<std::string>();
        const auto choice = batch::parse_choice<T>(name);
        if (!choice) throw std::invalid_argument(batch::choice_error<T>(info.name, name));
        value = *choice;
      } else if constexpr (std::is_same_v<T, int>) {
        // An integer, not a float that happens to be whole, nor a bool.
        if (py::isinstance<py::bool_>(v) ||
            !py::isinstance(v, py::module_::import("numbers").attr("Integral")))
          throw std::invalid_argument(std::string(info.name) + " must be an integer, not " +
                                      py::repr(v).cast<std::string>());
        value = v.cast<int>();
      } else {
        value = v.cast<T>();
      }
    } catch (const py::cast_error&) {
      throw std::invalid_argument(std::string(info.name) + ": cannot use " +
                                  py::repr(v).cast<std::string>() + " (" + std::string(info.help) +
                                  ")");
    }
  });
  if (known != given.size()) {
    std::string names;
    batch::for_each_option(options, [&](const batch::OptionInfo& info, const auto&) {
      names += (names.empty() ? "" : ", ") + std::string(info.name);
    });
    for (const auto& item : given) {
      bool listed = false;
      batch::for_each_option(options, [&](const batch::OptionInfo& info, const auto&) {
        listed = listed || item.first.cast<std::string>() == info.name;
      });
      if (!listed)
        throw py::type_error("unexpected keyword argument '" + item.first.cast<std::string>() +
                             "' (options: " + names + ")");
    }
  }
  // n 0: the model is not known yet (fit_file): diag's length is checked later.
  options.validate(n > 0 ? n : options.diag.empty() ? 1 : static_cast<int>(options.diag.size()));
  return options;
}

py::dict options_dict(const batch::BatchOptions& options) {
  py::dict d;
  batch::for_each_option(options, [&](const batch::OptionInfo& info, const auto& value) {
    using T = std::remove_cvref_t<decltype(value)>;
    if constexpr (batch::NamedChoice<T>)
      d[py::str(std::string(info.name))] = std::string(batch::choice_name(value));
    else
      d[py::str(std::string(info.name))] = value;
  });
  return d;
}

py::dict summary_dict(const batch::BatchSummary& s) {
  py::dict d;
  d["problems"] = s.problems;
  d["seconds"] = s.seconds;
  d["threads"] = s.threads;
  d["median_nfev"] = s.median_nfev;
  d["lane_problems"] = s.lane_problems;
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

// The result table (batch/result_fields.hpp): [(name, trailing dims as "", "n", "nn", "m",
// "nm", full_output_only, description)], for FitResult's attributes.
py::list result_fields() {
  py::list out;
  batch::for_each_result_field(true, [&](const auto& field) {
    static constexpr const char* kExtents[] = {"", "n", "nn", "m", "nm"};
    out.append(py::make_tuple(std::string(field.name),
                              std::string(kExtents[static_cast<int>(field.extent)]),
                              field.full_output_only, std::string(field.description)));
  });
  return out;
}

}  // namespace
}  // namespace lmbatch::python

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  using namespace lmbatch::python;
  m.doc() = "lmbatch's C++ core (use the lmbatch package, not this module)";
  m.attr("version") = lmbatch::kVersion;
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
  m.def(
      "option_defaults", [] { return options_dict(lmbatch::batch::BatchOptions{}); },
      "{name: default} of fit's and fit_file's options");
  m.def("result_fields", &result_fields,
        "[(name, trailing shape letters, full_output_only, description)]");
  m.def("message", &message, py::arg("ier"), py::arg("ftol"), py::arg("xtol"), py::arg("gtol"),
        py::arg("maxfev"), "scipy's mesg for an ier");
}
