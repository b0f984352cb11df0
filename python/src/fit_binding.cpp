// _core.fit: batch::fit (the engine `lmbatch fit` runs) on numpy arrays. lmbatch/_fit.py shapes
// the arrays (any leading shape -> (count, m) rows) and makes them float64 and C-contiguous;
// here they are only read, through spans: no copy of the caller's data is made.
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/models/model.hpp"
#include "support.hpp"

namespace lmbatch::python {
namespace {

using Rows = py::array_t<double, py::array::c_style>;  // passed with noconvert(): never copied

std::span<const double> span_of(const std::optional<Rows>& a) {
  if (!a) return {};
  return {a->data(), static_cast<std::size_t>(a->size())};
}

// Standard errors, where the engine computes them (ArrayResult::std_error).
template <class Result>
void add_std_error(py::dict& out, Result& r, py::ssize_t count, py::ssize_t n) {
  if constexpr (requires { r.std_error; }) out["std_error"] = adopt(std::move(r.std_error), {count, n});
}

py::dict fit(const Rows& y, const std::string& model_spec, const std::optional<Rows>& x,
             const std::optional<Rows>& sigma, const std::optional<Rows>& x0, double ftol,
             double xtol, double gtol, int maxfev, double epsfcn, double factor,
             const std::optional<std::vector<double>>& diag, const std::string& jacobian,
             int threads, int chunk_size, bool full_output, const py::object& progress,
             int predictors) {
  if (y.ndim() != 2) throw py::value_error("y must be (count, m)");
  const models::Model model = models::Model::parse(model_spec);
  const int n = model.n_params();

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

  batch::ArrayInput in;
  in.y = span_of(y);
  in.count = static_cast<std::size_t>(y.shape(0));
  in.m = static_cast<int>(y.shape(1));
  in.x = span_of(x);
  in.predictors = predictors;
  in.sigma = span_of(sigma);
  in.x0 = span_of(x0);

  batch::ArrayResult r = run_without_gil(
      [&](const batch::ProgressCallback& callback) {
        batch::BatchOptions with_progress = options;
        with_progress.progress = callback;
        return batch::fit(model, in, with_progress);
      },
      progress);

  const auto count = static_cast<py::ssize_t>(in.count);
  const auto nn = static_cast<py::ssize_t>(n), mm = static_cast<py::ssize_t>(in.m);
  py::dict out;
  out["x"] = adopt(std::move(r.x), {count, nn});
  out["cov_x"] = adopt(std::move(r.cov_x), {count, nn, nn});
  out["cost"] = adopt(std::move(r.cost), {count});
  out["nfev"] = adopt(std::move(r.nfev), {count});
  out["njev"] = adopt(std::move(r.njev), {count});
  out["ier"] = adopt(std::move(r.ier), {count});
  out["m_valid"] = adopt(std::move(r.m_valid), {count});
  add_std_error(out, r, count, nn);
  if (full_output) {
    out["fvec"] = adopt(std::move(r.fvec), {count, mm});
    out["fjac"] = adopt(std::move(r.fjac), {count, nn, mm});
    out["ipvt"] = adopt(std::move(r.ipvt), {count, nn});
    out["qtf"] = adopt(std::move(r.qtf), {count, nn});
  }
  out["summary"] = summary_dict(r.summary);
  out["model"] = model.spec();
  out["parameter_names"] = model.parameter_names();
  return out;
}

}  // namespace

void bind_fit(py::module_& m) {
  m.def("fit", &fit, py::arg("y").noconvert(), py::arg("model"), py::arg("x").noconvert().none(true),
        py::arg("sigma").noconvert().none(true), py::arg("x0").noconvert().none(true),
        py::arg("ftol"), py::arg("xtol"), py::arg("gtol"), py::arg("maxfev"), py::arg("epsfcn"),
        py::arg("factor"), py::arg("diag").none(true), py::arg("jacobian"), py::arg("threads"),
        py::arg("chunk_size"), py::arg("full_output"), py::arg("progress").none(true),
        py::arg("predictors"), "batch::fit on float64 C-contiguous (count, m) rows; see lmbatch.fit.");
}

}  // namespace lmbatch::python
