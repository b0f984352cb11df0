"""lmbatch.leastsq: scipy.optimize.leastsq's contract on lmbatch's MINPACK core.

The argument handling below follows scipy 1.10's ``scipy/optimize/_minpack_py.py`` line by line
(the same checks, messages, exceptions and warnings); the solve itself is lmbatch's C++ port of
MINPACK ``lmdif``/``lmder`` (``_core.leastsq``), which takes the same steps as scipy's Fortran.
"""
import warnings

import numpy as np

from . import _core

__all__ = ["leastsq", "LEASTSQ_SUCCESS", "LEASTSQ_FAILURE"]

LEASTSQ_SUCCESS = [1, 2, 3, 4]
LEASTSQ_FAILURE = [5, 6, 7, 8]
# lmbatch's own status: NaN/Inf residuals at x0, or a NaN/Inf Jacobian (scipy would go on with
# NaNs until maxfev). Reported like a failure.
NON_FINITE = -2


def _check_func(checker, argname, thefunc, x0, args, numinputs, output_shape=None):
    """scipy's _check_func: one call at x0 to learn the output's shape and dtype.

    Returns (shape, dtype, result); raises TypeError where scipy does.
    """
    res = np.atleast_1d(thefunc(*((x0[:numinputs],) + args)))
    if (output_shape is not None) and (np.shape(res) != output_shape):
        if output_shape[0] != 1:
            if len(output_shape) > 1:
                if output_shape[1] == 1:
                    return np.shape(res), None, res
            msg = ("%s: there is a mismatch between the input and output "
                   "shape of the '%s' argument" % (checker, argname))
            func_name = getattr(thefunc, '__name__', None)
            if func_name:
                msg += " '%s'." % func_name
            else:
                msg += "."
            msg += 'Shape should be %s but it is %s.' % (output_shape, np.shape(res))
            raise TypeError(msg)
    if np.issubdtype(res.dtype, np.inexact):
        dt = res.dtype
    else:
        dt = np.dtype(float)
    return np.shape(res), dt, res


def leastsq(func, x0, args=(), Dfun=None, full_output=False, col_deriv=False,
            ftol=1.49012e-08, xtol=1.49012e-08, gtol=0.0, maxfev=0, epsfcn=None,
            factor=100, diag=None):
    """Minimize the sum of squares of a set of equations: ``scipy.optimize.leastsq``.

    A drop-in replacement: same arguments, same defaults, same return values, same
    exceptions and warnings, and the same iterates (MINPACK's ``lmdif`` without ``Dfun``,
    ``lmder`` with it), so the same ``x``, ``nfev`` and ``ier`` as scipy's Fortran MINPACK.

    Parameters
    ----------
    func : callable ``func(x, *args)`` returning the ``M`` residuals (``M >= N``).
    x0 : ndarray, the starting estimate (flattened; a scalar gives ``N = 1``).
    args : tuple, extra arguments to ``func`` and ``Dfun`` (a non-tuple is wrapped).
    Dfun : callable ``Dfun(x, *args)`` returning the Jacobian of ``func``: ``(M, N)``, or
        ``(N, M)`` with ``col_deriv``. None: forward differences.
    full_output : bool, also return ``cov_x``, ``infodict`` and ``mesg``.
    col_deriv : bool, ``Dfun`` returns derivatives down the columns (``(N, M)``).
    ftol, xtol, gtol : MINPACK's tolerances.
    maxfev : int, the maximum number of calls to ``func``; 0 gives ``200*(N+1)`` without
        ``Dfun`` and ``100*(N+1)`` with it.
    epsfcn : float, step of the forward differences; None: the machine precision of the
        dtype ``func`` returns.
    factor : float, initial step bound (``factor * ||diag * x0||``).
    diag : sequence of ``N`` positive scale factors; None: automatic scaling.

    Returns
    -------
    ``(x, ier)``, or with ``full_output`` ``(x, cov_x, infodict, mesg, ier)``, where
    ``infodict`` has ``fvec``, ``nfev``, ``njev`` (with ``Dfun`` only), ``fjac``, ``ipvt`` and
    ``qtf``, exactly as scipy's.

    Raises and warns as scipy: ``TypeError`` for ``N > M`` and (without ``full_output``) for
    improper input (``ier`` 0); a ``RuntimeWarning`` with ``mesg`` for ``ier`` 5..8 without
    ``full_output``; an exception raised by ``func`` or ``Dfun`` propagates unchanged.

    Where lmbatch differs from scipy (documented in docs/python.md): ``func`` is called once at
    ``x0`` before the solve to learn ``M`` (scipy calls it twice); ``x`` handed to ``func`` is a
    fresh array each call (scipy passes a view of MINPACK's work array); NaN/Inf residuals at
    ``x0`` or a NaN/Inf Jacobian end the solve with ``ier = -2`` (scipy iterates on NaNs until
    ``maxfev``); a ``diag`` whose length is not ``N`` raises ``ValueError`` (scipy reads ``N``
    values regardless); NaN or infinite options are improper input (``ier`` 0).
    """
    x0 = np.asarray(x0).flatten()
    n = len(x0)
    if not isinstance(args, tuple):
        args = (args,)
    shape, dtype, f0 = _check_func('leastsq', 'func', func, x0, args, n)
    m = shape[0]

    if n > m:
        raise TypeError(f"Improper input: func input vector length N={n} must"
                        f" not exceed func output vector length M={m}")
    if f0.ndim > 1:  # scipy's C wrapper refuses it on its own first call
        raise ValueError("Result from function call is not a proper array of floats.")

    if epsfcn is None:
        epsfcn = np.finfo(dtype).eps

    if Dfun is None:
        if maxfev == 0:
            maxfev = 200 * (n + 1)
    else:
        if col_deriv:
            _check_func('leastsq', 'Dfun', Dfun, x0, args, n, (n, m))
        else:
            _check_func('leastsq', 'Dfun', Dfun, x0, args, n, (m, n))
        if maxfev == 0:
            maxfev = 100 * (n + 1)

    if diag is not None:
        diag = np.ascontiguousarray(diag, dtype=np.float64)
        if diag.ndim != 1 or diag.size != n:
            raise ValueError(f"diag has shape {diag.shape}; expected ({n},): one scale factor "
                             f"per parameter")

    r = _core.leastsq(func, Dfun, np.ascontiguousarray(x0, dtype=np.float64), m, args,
                      bool(col_deriv), float(ftol), float(xtol), float(gtol), int(maxfev),
                      int(maxfev), float(epsfcn), float(factor), diag)
    info = r['info']
    mesg = r['mesg']

    if info == 0:
        # MINPACK returns before evaluating anything; scipy's infodict then holds the residuals
        # from its own size check in fvec and unset arrays elsewhere (zeros here).
        x = np.array(x0, dtype=np.float64)
        infodict = {'fvec': np.array(f0, dtype=np.float64).reshape(-1), 'nfev': 0}
        if Dfun is not None:
            infodict['njev'] = 0
        infodict['fjac'] = np.zeros((n, m))
        infodict['ipvt'] = np.zeros(n, dtype=np.int32)
        infodict['qtf'] = np.zeros(n)
        cov_x = None
    else:
        x = r['x']
        infodict = {'fvec': r['fvec'], 'nfev': r['nfev']}
        if Dfun is not None:
            infodict['njev'] = r['njev']
        infodict['fjac'] = r['fjac']
        infodict['ipvt'] = r['ipvt']
        infodict['qtf'] = r['qtf']
        cov_x = r['cov_x']

    if full_output:
        return (x, cov_x, infodict, mesg, info)
    if info in LEASTSQ_FAILURE or info == NON_FINITE:
        warnings.warn(mesg, RuntimeWarning, stacklevel=2)
    elif info == 0:
        error = TypeError(mesg)
        if 'reason' in r and hasattr(error, 'add_note'):
            error.add_note(f"lmbatch: {r['reason']}")
        raise error
    return x, info
