// _core.fit: batch::fit (the engine `lmbatch fit` runs) on numpy arrays. lmbatch/_fit.py shapes
// the arrays (any leading shape -> (count, m) rows) and makes them float64 and C-contiguous;
// here they are only read, through spans: no copy of the caller's data is made.
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/batch/result_fields.hpp"
#include "lmbatch/models/model.hpp"
#include "support.hpp"

namespace lmbatch::python {
namespace {

using Rows = py::array_t<double, py::array::c_style>;  // passed with noconvert(): never copied

std::span<const double> span_of(const std::optional<Rows>& a) {
  if (!a) return {};
  return {a->data(), static_cast<std::size_t>(a->size())};
}

py::dict fit(const Rows& y, const std::string& model_spec, const std::optional<Rows>& x,
             const std::optional<Rows>& sigma, const std::optional<Rows>& x0,
             const py::dict& option_values, const py::object& progress, int predictors,
             const std::optional<Rows>& lower, const std::optional<Rows>& upper,
             const std::optional<Rows>& fixed, std::size_t image_width) {
  if (y.ndim() != 2) throw py::value_error("y must be (count, m)");
  const models::Model model = models::Model::parse(model_spec);
  const int n = model.n_params();
  const batch::BatchOptions options = batch_options(option_values, n);

  batch::ArrayInput in;
  in.y = span_of(y);
  in.count = static_cast<std::size_t>(y.shape(0));
  in.m = static_cast<int>(y.shape(1));
  in.x = span_of(x);
  in.predictors = predictors;
  in.image_width = image_width;
  in.sigma = span_of(sigma);
  in.x0 = span_of(x0);
  in.lower = span_of(lower);
  in.upper = span_of(upper);
  in.fixed = span_of(fixed);

  batch::ArrayResult r = run_without_gil(
      [&](const batch::ProgressCallback& callback) {
        batch::BatchOptions with_progress = options;
        with_progress.progress = callback;
        return batch::fit(model, in, with_progress);
      },
      progress);

  // Every field of the result table, (count, trailing...) with m and n.
  const auto count = static_cast<py::ssize_t>(in.count);
  py::dict out;
  batch::for_each_result_field(options.full_output, [&](const auto& field) {
    std::vector<py::ssize_t> shape{count};
    for (std::size_t d : batch::trailing_dims(field.extent, in.m, n))
      shape.push_back(static_cast<py::ssize_t>(d));
    out[py::str(std::string(field.name))] = adopt(std::move(r.*field.in_array), std::move(shape));
  });
  out["summary"] = summary_dict(r.summary);
  out["model"] = model.spec();
  out["parameter_names"] = model.parameter_names();
  out["options"] = options_dict(options);
  return out;
}

}  // namespace

void bind_fit(py::module_& m) {
  m.def("fit", &fit, py::arg("y").noconvert(), py::arg("model"),
        py::arg("x").noconvert().none(true), py::arg("sigma").noconvert().none(true),
        py::arg("x0").noconvert().none(true), py::arg("options"), py::arg("progress").none(true),
        py::arg("predictors"), py::arg("lower").noconvert().none(true),
        py::arg("upper").noconvert().none(true), py::arg("fixed").noconvert().none(true),
        py::arg("image_width") = 0,
        "batch::fit on float64 C-contiguous (count, m) rows; see lmbatch.fit.");
}

}  // namespace lmbatch::python
