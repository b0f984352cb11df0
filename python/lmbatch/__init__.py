"""lmbatch: many nonlinear least-squares fits at once, with MINPACK's Levenberg-Marquardt exactly
as scipy.optimize.leastsq runs it.

- ``leastsq(func, x0, ...)``: a drop-in for ``scipy.optimize.leastsq`` (same arguments, return
  tuple, exceptions and iterates) on lmbatch's core.
- ``fit(y, model, ...)``: the batch engine on numpy arrays of any leading shape; returns a
  :class:`FitResult` of numpy arrays (parameter maps for an image cube).
- ``fit_file(input, output, model, ...)``: what the ``lmbatch fit`` command does with HDF5 files.
- ``models()``: the model catalogue.

See docs/python.md.
"""
from . import _core
from ._fit import FitResult, fit, fit_file
from ._leastsq import LEASTSQ_FAILURE, LEASTSQ_SUCCESS, leastsq

__version__ = _core.version
__all__ = ["leastsq", "fit", "fit_file", "FitResult", "models", "parameter_names",
           "LEASTSQ_SUCCESS", "LEASTSQ_FAILURE", "__version__"]


def models():
    """The catalogue: a list of dicts with name, formula, parameters and baseline (whether the
    term is estimated first, as a baseline)."""
    return [{"name": name, "formula": formula, "parameters": list(params), "baseline": baseline}
            for name, formula, params, baseline in _core.catalogue()]


def parameter_names(model):
    """The parameter names of a model specification, in the order of ``FitResult.x``'s last
    axis (repeated terms get suffixes: ``"gaussian*2"`` gives amplitude_1, center_1, sigma_1,
    amplitude_2, ...). Raises ValueError for a specification that does not parse."""
    return list(_core.describe_model(model)[1])
