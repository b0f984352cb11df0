// _core.leastsq: MINPACK lmdif/lmder from lmbatch's core on Python callables. The scipy
// contract around it (argument handling, the return tuple, warnings) is lmbatch/_leastsq.py;
// this is the part scipy has in C (scipy/optimize/__minpack.h): calling func and Dfun,
// converting their results, and stopping the solve when they raise.
#include <algorithm>
#include <exception>
#include <optional>
#include <span>
#include <vector>

#include "bindings.hpp"
#include "lmbatch/leastsq/leastsq.hpp"
#include "support.hpp"

namespace lmbatch::python {
namespace {

namespace lsq = lmbatch::leastsq;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

constexpr const char* kNotFloats = "Result from function call is not a proper array of floats.";

// PyArray_FromAny(obj, float64, 0, 0, C-contiguous | aligned | ensure-array): a new reference,
// or nullptr with the Python error set.
PyObject* as_float64_array(PyObject* obj) {
  auto& api = py::detail::npy_api::get();
  return api.PyArray_FromAny_(obj, py::dtype::of<double>().release().ptr(), 0, 0,
                              py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_ |
                                  py::detail::npy_api::NPY_ARRAY_ALIGNED_ |
                                  py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_,
                              nullptr);
}

// func(x, *args) and Dfun(x, *args) as the core's functors. A Python exception (or a result of
// the wrong shape) is kept and the solve is asked to stop (functor returns false); leastsq()
// raises it once the core has returned.
class PythonFunctions {
 public:
  PythonFunctions(py::object func, py::object dfun, py::tuple args)
      : func_(std::move(func)), dfun_(std::move(dfun)), args_(std::move(args)) {}

  bool residuals(std::span<const double> x, std::span<double> out) {
    return call(func_, x, out, 1);
  }
  bool jacobian(std::span<const double> x, std::span<double> out) { return call(dfun_, x, out, 2); }
  void raise_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  bool call(const py::object& f, std::span<const double> x, std::span<double> out, int max_ndim) {
    if (error_) return false;
    try {
      // A fresh array per call (scipy hands out a view of MINPACK's own x, which a function
      // that keeps or modifies its argument would see change).
      py::array_t<double> xa(static_cast<py::ssize_t>(x.size()));
      std::copy(x.begin(), x.end(), xa.mutable_data());
      const py::object r = f(xa, *args_);
      // numpy's conversion, as scipy's PyArray_ContiguousFromObject(result, NPY_DOUBLE, ...):
      // safe casts only for arrays (a complex or object array is refused), value conversion
      // for lists and scalars (complex values lose their imaginary part with a ComplexWarning).
      // Refused: ValueError with scipy's words, numpy's reason as its cause.
      PyObject* converted = as_float64_array(r.ptr());
      if (!converted) {
        py::error_already_set cause;
        py::raise_from(cause, PyExc_ValueError, kNotFloats);
        throw py::error_already_set();
      }
      const auto a = py::reinterpret_steal<py::array>(converted);
      if (a.ndim() > max_ndim) throw py::value_error(kNotFloats);
      if (static_cast<std::size_t>(a.size()) != out.size())
        throw py::value_error("The array returned by a function changed size between calls");
      std::copy_n(static_cast<const double*>(a.data()), out.size(), out.begin());
      return true;
    } catch (...) {
      error_ = std::current_exception();
      return false;
    }
  }

  py::object func_, dfun_;
  py::tuple args_;
  std::exception_ptr error_;
};

template <class T>
py::array_t<T> vector_array(std::span<const T> v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Returns a dict: info (MINPACK's info / scipy's ier, or lmbatch's -2), nfev, njev (lmder
// only), mesg, and unless info == 0: x, fvec, fjac (n x m), ipvt (int32, 1-based), qtf,
// cov_x (n x n, or None where scipy gives None).
py::dict leastsq(py::object func, py::object dfun, DoubleArray x0, int m, py::tuple args,
                 bool col_deriv, double ftol, double xtol, double gtol, int maxfev,
                 int maxfev_in_message, double epsfcn, double factor,
                 std::optional<DoubleArray> diag) {
  const int n = static_cast<int>(x0.size());
  if (m < 0) throw py::value_error("m must be >= 0");
  lsq::Options options;
  options.ftol = ftol;
  options.xtol = xtol;
  options.gtol = gtol;
  options.maxfev = maxfev;
  options.epsfcn = epsfcn;
  options.factor = factor;
  options.col_deriv = col_deriv;
  std::vector<double> diag_values;
  if (diag) {
    diag_values.assign(diag->data(), diag->data() + diag->size());
    options.diag = diag_values;
  }
  const bool analytic = !dfun.is_none();

  std::vector<double> x(x0.data(), x0.data() + n);
  lsq::Workspace ws(m, n);
  PythonFunctions functions(std::move(func), std::move(dfun), std::move(args));
  auto residuals = [&](std::span<const double> p, std::span<double> f) {
    return functions.residuals(p, f);
  };
  auto jacobian = [&](std::span<const double> p, std::span<double> j) {
    return functions.jacobian(p, j);
  };
  const lsq::Summary s = analytic
                             ? lsq::lmder(residuals, jacobian, std::span<double>(x), ws, options)
                             : lsq::lmdif(residuals, std::span<double>(x), ws, options);
  functions.raise_if_failed();

  py::dict out;
  out["info"] = lsq::ier(s.status);
  out["nfev"] = s.nfev;
  if (analytic) out["njev"] = s.njev;
  out["mesg"] = lsq::message(s, options, maxfev_in_message);
  if (s.improper_reason) out["reason"] = std::string(s.improper_reason);
  if (s.status == lsq::Status::improper_input) return out;

  lsq::LeastsqResult r;
  lsq::fill_infodict(s, ws, r);
  out["x"] = vector_array<double>(x);
  out["fvec"] = vector_array<double>(r.fvec);
  // MINPACK's column-major m x n fjac is scipy's row-major n x m infodict['fjac'].
  py::array_t<double> fjac({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(m)});
  std::copy(r.fjac.begin(), r.fjac.end(), fjac.mutable_data());
  out["fjac"] = fjac;
  py::array_t<std::int32_t> ipvt(n);
  std::copy(r.ipvt.begin(), r.ipvt.end(), ipvt.mutable_data());
  out["ipvt"] = ipvt;
  out["qtf"] = vector_array<double>(r.qtf);
  out["cov_x"] = py::none();
  if (r.cov_x) {
    py::array_t<double> cov({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(n)});
    std::copy(r.cov_x->begin(), r.cov_x->end(), cov.mutable_data());
    out["cov_x"] = cov;
  }
  return out;
}

}  // namespace

void bind_leastsq(py::module_& m) {
  m.def("leastsq", &leastsq, py::arg("func"), py::arg("dfun"), py::arg("x0"), py::arg("m"),
        py::arg("args"), py::arg("col_deriv"), py::arg("ftol"), py::arg("xtol"), py::arg("gtol"),
        py::arg("maxfev"), py::arg("maxfev_in_message"), py::arg("epsfcn"), py::arg("factor"),
        py::arg("diag").none(true),
        "MINPACK lmdif (dfun None) or lmder on Python callables; see lmbatch.leastsq.");
}

}  // namespace lmbatch::python
