"""lmbatch.fit (the batch engine on numpy arrays) and lmbatch.fit_file (`lmbatch fit`)."""
import json
import math
import os
import warnings

import numpy as np

from . import _core

__all__ = ["fit", "fit_file", "FitResult"]

def _options(options, threads, full_output):
    """The solver and engine options as the core takes them ({name: value}); the core walks
    its one list of options (names, defaults, checks: batch/option_fields.hpp), so an unknown
    name is its TypeError and a bad value its ValueError, in the command's words."""
    o = dict(options)
    o["threads"] = 0 if threads is None else threads
    o["full_output"] = bool(full_output)
    if o.get("diag") is not None:
        diag = np.asarray(o["diag"], dtype=np.float64)
        if diag.ndim != 1:
            raise ValueError(f"diag must be one scale factor per parameter, not shape {diag.shape}")
        o["diag"] = [float(v) for v in diag]
    return o


def _real_array(name, a):
    a = np.asarray(a)
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer)
                                   or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{name} must be a real numeric array, not dtype {a.dtype}")
    return a


def _float64(a):
    """a as an aligned, C-contiguous, native float64 array: `a` itself when it already is one
    (no copy), otherwise one converted copy."""
    return np.require(a, dtype=np.float64, requirements=["C", "A"])


class FitResult:
    """What lmbatch.fit returns: one entry per problem, in arrays with y's leading shape.

    Attributes (numpy arrays; ``...`` is ``y.shape[:-1]``):

    ``x`` (..., n)
        the solution: the last iterate; NaN where a problem was not solved (``ier == -3``), and
        with ``ier == -2`` the point where NaN/Inf was met (``x0``, or an iterate that is itself
        NaN when MINPACK took a NaN step to it)
    ``cov_x`` (..., n, n)
        scipy's ``cov_x``, NaN where scipy returns None (singular Jacobian, or not converged)
    ``stderr`` (..., n)
        standard errors ``sqrt(diag(cov_x) * cost / (m_valid - n))``, NaN where cov_x is
        (``std_error`` is its deprecated name)
    ``cost`` (...)
        sum of squared (weighted) residuals at the solution
    ``nfev``, ``njev``, ``m_valid`` (...) int32, ``ier`` (...) int16
        scipy's counts and status (1..4 converged), samples used
    ``pegged`` (..., n) int8
        -1 at its lower bound, +1 at its upper, 0 free, 2 fixed or tied (bounds, fixed, tied)
    ``fvec`` (..., m), ``fjac`` (..., n, m), ``ipvt`` (..., n), ``qtf`` (..., n)
        scipy's infodict arrays, with ``full_output=True`` (None otherwise)

    and ``model`` (its canonical specification), ``parameter_names``, ``options`` (every solver
    and engine option the fit used, by name), ``shape`` (the leading
    shape), ``m``, ``n``, ``seconds``, ``threads``, ``median_nfev``, ``lane_problems`` (how
    many were solved side by side in SIMD lanes, ``simd="auto"``), ``ier_counts`` ({ier: count}), ``first_failures`` (indices of up to 10 problems that did not converge).
    ``result["center"]`` is the parameter map ``x[..., k]`` of that parameter.
    """

    def __init__(self, raw, shape, m):
        self.model = raw["model"]
        self.parameter_names = list(raw["parameter_names"])
        self.shape = tuple(shape)
        self.m = m
        self.n = len(self.parameter_names)
        self.options = dict(raw["options"])
        sizes = {"n": self.n, "m": m}
        # Every field of the engine's result table (batch/result_fields.hpp), by its name.
        for name, tail, _full_only, _doc in _core.result_fields():
            a = raw.get(name)
            setattr(self, name, None if a is None else
                    a.reshape(self.shape + tuple(sizes[c] for c in tail)))
        s = raw["summary"]
        self.seconds = s["seconds"]
        self.threads = s["threads"]
        self.median_nfev = s["median_nfev"]
        self.lane_problems = s["lane_problems"]
        self.ier_counts = dict(s["ier_counts"])
        self.first_failures = [_index(k, self.shape) for k in s["first_failures"]]

    @property
    def std_error(self):
        """Deprecated name of ``stderr`` (the result file's dataset name)."""
        warnings.warn("FitResult.std_error is now FitResult.stderr", DeprecationWarning,
                      stacklevel=2)
        return self.stderr

    @property
    def converged(self):
        """Boolean array: ier in 1..4 (scipy's success)."""
        return (self.ier >= 1) & (self.ier <= 4)

    @property
    def problems(self):
        return math.prod(self.shape)

    def __getitem__(self, name):
        try:
            k = self.parameter_names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not a parameter of {self.model} "
                           f"({', '.join(self.parameter_names)})") from None
        return self.x[..., k]

    def message(self, ier):
        """The sentence for a status code (-6..8), with this fit's tolerances and maxfev."""
        o = self.options
        n = self.n
        maxfev = o["maxfev"] or (100 if o["jacobian"] == "analytic" else 200) * (n + 1)
        return _core.message(int(ier), o["ftol"], o["xtol"], o["gtol"], maxfev)

    def __repr__(self):
        counts = ", ".join(f"ier {k}: {v}" for k, v in sorted(self.ier_counts.items()))
        rate = self.problems / self.seconds if self.seconds > 0 else 0.0
        return (f"<lmbatch.FitResult {self.model}: {self.problems} problems of shape "
                f"{self.shape}, {self.m} samples, {self.n} parameters; {counts or 'none'}; "
                f"{self.seconds:.3f} s ({rate:.0f} fits/s on {self.threads} "
                f"thread{'' if self.threads == 1 else 's'})>")


def _index(flat, shape):
    if len(shape) == 1:
        return int(flat)
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _per_sample(name, a, y_shape):
    """x or sigma: None, shared (m,), or y's shape; returned flat for the engine."""
    if a is None:
        return None
    a = _real_array(name, a)
    m = y_shape[-1]
    if a.shape != (m,) and a.shape != y_shape:
        raise ValueError(f"{name} has shape {a.shape}; expected ({m},) (shared by every "
                         f"problem) or y's shape {y_shape}")
    return _float64(a).reshape(-1)


def _sample_positions(x, y_shape):
    """x: None, shared (m,) or (m, d), per problem y's shape or y's shape + (d,); returned
    flat for the engine with d, the predictors per sample (x1..xd)."""
    if x is None:
        return None, 1
    x = _real_array("x", x)
    m = y_shape[-1]
    if x.shape == (m,) or x.shape == y_shape:
        d = 1
    elif x.shape[:-1] == y_shape and x.shape[-1] >= 1:
        d = x.shape[-1]  # per problem, d predictors
    elif x.ndim == 2 and x.shape[0] == m and x.shape[1] >= 1:
        d = x.shape[1]  # shared, d predictors
    else:
        raise ValueError(f"x has shape {x.shape}; expected ({m},) or ({m}, d) (shared by every "
                         f"problem), or y's shape {y_shape} or {y_shape + ('d',)} (one per "
                         f"problem), d the predictors per sample (x1..xd)")
    return _float64(x).reshape(-1), d


def _number_text(v):
    """A float as the engine reads it back exactly (repr round-trips), inf as 'inf'."""
    v = float(v)
    if math.isnan(v):
        raise ValueError("a constraint value is NaN")
    return repr(v)


def _by_name(kind, value):
    """The by-name text of a constraint given as a str or a dict (the command's --bounds,
    --fix, --tie); None where it is an array (or not given)."""
    if value is None or isinstance(value, str):
        return value
    if kind == "fix" and isinstance(value, (list, tuple)) and value \
            and all(isinstance(v, str) for v in value):
        return ",".join(value)  # names held at their starting values
    if not isinstance(value, dict):
        return None
    items = []
    for name, v in value.items():
        if kind == "bounds":
            lo, hi = v
            items.append(f"{name}={'' if lo is None else _number_text(lo)}:"
                         f"{'' if hi is None else _number_text(hi)}")
        elif kind == "fix":
            items.append(name if v is None else f"{name}={_number_text(v)}")
        else:
            items.append(f"{name}={v}")
    return ",".join(items)


def _per_parameter(name, a, lead, n, spec, names, dtype=np.float64):
    """A bound or mask: a scalar (every parameter), (n,) shared, or leading shape + (n,);
    returned flat."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        a = a.astype(np.float64)
    a = _real_array(name, a)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,) and a.shape != lead + (n,):
        raise ValueError(f"{name} has shape {a.shape}; expected a scalar, ({n},) (shared) or "
                         f"{lead + (n,)} (one row per problem) for model {spec} with {n} "
                         f"parameters ({', '.join(names)})")
    return _float64(a).reshape(-1)


def _put_tied(o, tied):
    """Ties are by name only (the command's --tie), for fit and fit_file alike."""
    if tied is None:
        return
    text = _by_name("tie", tied)
    if text is None:
        raise ValueError("tied must be a dict {name: expression} or a str "
                         "'name=expression,...'")
    o["tie"] = text


def _constraints(o, bounds, fixed, tied, lead, n, spec, names):
    """Puts the by-name forms into the options; returns the arrays (lower, upper, fixed)."""
    lower = upper = mask = None
    text = _by_name("bounds", bounds)
    if text is not None:
        o["bounds"] = text
    elif bounds is not None:
        try:
            lo, hi = bounds
        except (TypeError, ValueError):
            raise ValueError("bounds must be (lower, upper) (scipy's convention: arrays or "
                             "scalars, -np.inf/np.inf for none), a dict {name: (lower, upper)} "
                             "or a str 'name=lower:upper,...'") from None
        lower = _per_parameter("bounds' lower", lo, lead, n, spec, names)
        upper = _per_parameter("bounds' upper", hi, lead, n, spec, names)
    text = _by_name("fix", fixed)
    if text is not None:
        o["fix"] = text
    elif fixed is not None:
        mask = _per_parameter("fixed", fixed, lead, n, spec, names)
    _put_tied(o, tied)
    return lower, upper, mask


def fit(y, model, x=None, x0=None, sigma=None, threads=None, full_output=False, progress=None,
        bounds=None, fixed=None, tied=None, **options):
    """Fit every problem of ``y`` with the batch engine (the one ``lmbatch fit`` runs).

    Parameters
    ----------
    y : array (..., m)
        the samples: the last axis holds one problem's ``m`` samples, the leading axes (none,
        ``N``, ``H x W``, any number) number the problems; NaN (or ±Inf) marks a missing sample.
        float64 C-contiguous input is read in place (no copy); float32 (and any other real
        dtype or layout) is converted to one float64 copy first.
    model : str
        a catalogue model such as ``"gaussian+constant"`` or ``"gaussian*3+linear"`` (see
        ``lmbatch.models()``), or an expression model where the engine has them.
    x : array (m,) or y's shape, optional
        sample positions (default ``0, 1, ..., m-1``); NaN (or ±Inf) marks a missing sample. With a
        trailing axis of d >= 2, ``(m, d)`` shared or ``(..., m, d)`` per problem: d predictors
        per sample, read by expression models as ``x1 .. xd``.
    x0 : array (n,) or (..., n), optional
        starting values, shared or per problem (default: the model's estimate from the data).
    sigma : array (m,) or y's shape, optional
        standard deviations; the residuals are ``(y - f(x)) / sigma``.
    threads : int, optional
        worker threads (default: every core). Results do not depend on it.
    full_output : bool
        also return scipy's infodict arrays ``fvec``, ``fjac``, ``ipvt``, ``qtf``.
    progress : callable ``progress(done, total)``, optional
        called from this thread a few times a second while the fit runs.
    bounds : (lower, upper), dict or str, optional
        scipy.optimize.least_squares' convention: each a scalar, ``(n,)`` or ``(..., n)``,
        ``-np.inf``/``np.inf`` (or NaN) for no bound; or by name, ``{"sigma": (0, np.inf)}`` or
        ``"amplitude=0:inf,sigma=0.35:3"`` (a term's base name names every repeat). A given
        ``x0`` outside them is ``ier == -6``; an estimated start is projected into them.
    fixed : array, dict, list or str, optional
        parameters held: a mask shaped like x0 (true: held at its starting value), names
        (``["c"]``), ``{"sigma": 1.5, "c": None}`` or ``"sigma=1.5,c"`` (None / no value: its
        starting value).
    tied : dict or str, optional
        parameters computed from others: ``{"sigma_2": "sigma_1", "center_2": "center_1 + 21.3"}``
        or ``"sigma_2=sigma_1,center_2=center_1+21.3"``, with exact derivatives.
        ``FitResult.pegged`` says per parameter: -1 at its lower bound, +1 at its upper, 0 free,
        2 fixed or tied; cov_x and stderr are NaN for those (docs/python.md).
    **options
        ``ftol``, ``xtol``, ``gtol``, ``maxfev``, ``epsfcn``, ``factor``, ``diag`` (scipy's
        meanings and defaults), ``jacobian`` (``"analytic"``: MINPACK lmder with the model's
        derivatives, the default; ``"forward"``: lmdif, forward differences as scipy without
        ``Dfun``), ``loss`` (``"linear"``, the default, or scipy.optimize.least_squares'
        robust ``"soft_l1"``, ``"huber"``, ``"cauchy"``, ``"arctan"``) with ``f_scale``
        (the residual scale C, 1.0; docs/leastsq.md), or ``"poisson"`` (maximum likelihood
        for counts ``y >= 0``: the deviance; stderr from the Fisher information),
        ``chunk_size`` (problems per pipeline chunk, 1024), ``starts`` (starts per problem, 1: the estimate or x0 and ``starts - 1``
        seeded perturbations of it, the lowest cost kept), ``x0_from`` (``"none"``, or
        ``"mean"``, ``"sum"``, ``"median"``: fit that aggregate of every problem first and
        start each problem from it, amplitudes scaled to the problem's intensity; the result's
        ``start`` says where each solution started, docs/format.md), ``refine``
        (``"neighbours"``, for y of two leading dimensions: refit each pixel from its 8
        neighbours' solutions of lower cost per sample, keeping the lower cost) with
        ``refine_passes`` (at most, 3; docs/starting-values.md). The one list of these options is the core's
        (``lmbatch._core.option_defaults()``); ``FitResult.options`` holds what a fit used.

    Returns a :class:`FitResult`. The GIL is released while the engine runs (Ctrl-C stops
    it). Raises ValueError for bad shapes, options or model specifications.
    """
    o = _options(options, threads, full_output)
    spec, names = _core.describe_model(model) if isinstance(model, str) else (None, None)
    if spec is None:
        raise ValueError(f"model must be a string such as 'gaussian+constant', not {model!r}")
    n = len(names)

    y = _real_array("y", y)
    if y.ndim == 0:
        raise ValueError("y must have at least one dimension: (..., m), m samples per problem")
    lead, m = y.shape[:-1], y.shape[-1]
    if m == 0:
        raise ValueError(f"y has shape {y.shape}: no samples (the last axis holds the samples)")
    count = math.prod(lead)
    rows = _float64(y).reshape(count, m)  # a view of y when y is float64 C-contiguous

    lower, upper, mask = _constraints(o, bounds, fixed, tied, lead, n, spec, names)
    xs, predictors = _sample_positions(x, y.shape)
    sg = _per_sample("sigma", sigma, y.shape)
    p0 = None
    if x0 is not None:
        p0 = _real_array("x0", x0)
        if p0.shape != (n,) and p0.shape != lead + (n,):
            raise ValueError(f"x0 has shape {p0.shape}; expected ({n},) (shared) or "
                             f"{lead + (n,)} (one row per problem) for model {spec} with "
                             f"{n} parameters ({', '.join(names)})")
        p0 = _float64(p0).reshape(-1)
    try:
        raw = _core.fit(rows, spec, xs, sg, p0, o, progress, predictors, lower, upper, mask,
                        lead[1] if len(lead) == 2 else 0)
    except ValueError as e:
        raise ValueError(_problem_index_text(str(e), lead)) from None
    return FitResult(raw, lead, m)


def _problem_index_text(message, lead):
    """The engine names a problem by its flat index ("problem 1234: ..."); add the index into
    y's leading axes when there are several."""
    if len(lead) < 2 or not message.startswith("problem "):
        return message
    head, _, rest = message.partition(":")
    try:
        flat = int(head.split()[1])
    except (IndexError, ValueError):
        return message
    return f"problem {flat} (y index {_index(flat, lead)}):{rest}"


def _dataset_path(name, value):
    """A dataset path keyword of fit_file: None (the default dataset if the file has it), a str,
    or "none" (do not use one)."""
    if value is None or isinstance(value, str):
        return value
    what = f"an array of shape {value.shape}" if hasattr(value, "shape") else type(value).__name__
    raise ValueError(f"{name} must be a dataset path in the input file (a str), not {what}; "
                     f"to fit arrays use lmbatch.fit")


def _file_constraints(o, bounds, fixed, tied):
    """fit_file's constraints: by name into the options (--bounds, --fix, --tie); dataset
    paths (a str starting with '/') as the datasets {lower, upper, fixed}."""
    datasets = {}
    if isinstance(bounds, (tuple, list)) and len(bounds) == 2 \
            and all(b is None or isinstance(b, str) for b in bounds):
        datasets["lower"], datasets["upper"] = bounds
    elif bounds is not None:
        text = _by_name("bounds", bounds)
        if text is None:
            raise ValueError("fit_file's bounds are by name ('sigma=0:inf' or {'sigma': (0, "
                             "inf)}) or dataset paths (lower, upper) in the input file")
        o["bounds"] = text
    if isinstance(fixed, str) and fixed.startswith("/"):
        datasets["fixed"] = fixed
    elif fixed is not None:
        text = _by_name("fix", fixed)
        if text is None:
            raise ValueError("fit_file's fixed is by name ('sigma=1.5,c', ['c'] or {'c': None}) "
                             "or a mask dataset path ('/fixed') in the input file")
        o["fix"] = text
    _put_tied(o, tied)
    return datasets


def fit_file(input, output, model=None, *, y=None, x=None, sigma=None, x0=None, x0_values=None,
             threads=None, full_output=False, overwrite=False, resume=False, part=None,
             model_plugins=(), params=(), summary_json=None, progress=None,
             compression="integers", bounds=None, fixed=None, tied=None, **options):
    """``lmbatch fit INPUT -o OUTPUT --model MODEL ...`` from Python: the same run (io's file
    run: checks, output file with its datasets and attributes (docs/format.md), journal,
    ``--resume``, ``--part``, plugins) and the same summary.

    ``y``, ``x``, ``sigma``, ``x0`` are dataset paths in ``input`` (``--y``, ``--x``, ...); as
    with the command, ``y`` left at ``None`` reads ``/y``, and ``x``, ``sigma``, ``x0`` read
    ``/x``, ``/sigma``, ``/x0`` where the file has them; ``"none"`` leaves one out (``x``:
    ``0..m-1``, ``sigma``: 1, ``x0``: the model's estimate);
    ``x0_values`` a sequence of starting values for every problem (``--x0-values``; a default
    ``/x0`` is then not read);
    ``**options`` as in :func:`fit` (``ftol``, ``xtol``, ``gtol``, ``maxfev``, ``epsfcn``,
    ``factor``, ``diag``, ``jacobian``, ``chunk_size``, ``starts``, ``x0_from``, ``refine``, ``refine_passes``; without ``chunk_size``, chunks of at most
    problems / (4 x threads), as ``lmbatch fit``); ``overwrite`` replaces an existing output
    (``--overwrite``); ``resume`` finishes an interrupted run from its journal (``--resume``);
    ``part="i/N"`` solves one shard (``--part``); ``model_plugins`` are plugin libraries
    (``--model-plugin``: loading one runs its code) whose terms ``model`` may name (or, without
    ``model``, their sum); ``params`` names the expression terms' parameters (``--params``);
    ``summary_json`` also writes the summary to that file (``--summary-json``);
    ``bounds``, ``fixed``, ``tied`` as in :func:`fit` by name (``--bounds``, ``--fix``,
    ``--tie``), or dataset paths in ``input``: ``bounds=("/lower", "/upper")`` (``--lower``,
    ``--upper``; either may be None), ``fixed="/mask"`` (``--fixed``);
    ``compression`` is ``--compression``: ``"integers"`` (gzip the integer datasets only),
    ``"all"`` (``"gzip"``) or ``"none"``. The output is written as ``OUTPUT.partial`` and
    renamed when complete. The GIL is released while the fit runs; do not use h5py on the same
    HDF5 library from another thread meanwhile (Debian's HDF5 is not thread-safe).

    Returns the summary dict ``--summary-json`` writes: model, input, output, problems (in the
    output, a resume's recovered ones included), recovered, seconds, threads, fits_per_second
    (this run's), median_nfev, ier_counts ({ier: count}), first_failures (indices into the
    leading shape, as :class:`FitResult`'s), complete. Raises OSError for file errors (missing,
    unreadable, not HDF5, bad datasets, existing output), ValueError for bad options.
    """
    o = _options(options, threads, full_output)
    values = []
    if x0_values is not None:
        values = [float(v) for v in np.asarray(x0_values, dtype=np.float64).reshape(-1)]
    datasets = {name: _dataset_path(name, value)
                for name, value in (("y", y), ("x", x), ("sigma", sigma), ("x0", x0))}
    datasets.update(_file_constraints(o, bounds, fixed, tied))
    if isinstance(model_plugins, (str, os.PathLike)):
        model_plugins = [model_plugins]
    if isinstance(params, str):
        params = params.split(",")
    if model is None and not model_plugins:
        raise ValueError("fit_file needs a model (or model_plugins)")
    raw = _core.fit_file(os.fspath(input), os.fspath(output), "" if model is None else str(model),
                         datasets, values, o, "chunk_size" in options, str(compression),
                         bool(overwrite), bool(resume), "" if part is None else str(part),
                         [os.fspath(p) for p in model_plugins], [str(p) for p in params],
                         progress)
    lead = tuple(raw["leading_shape"])
    summary = {key: raw[key] for key in ("model", "input", "output", "problems", "recovered",
                                         "seconds", "threads", "fits_per_second", "median_nfev",
                                         "ier_counts", "first_failures", "complete")}
    summary["ier_counts"] = dict(summary["ier_counts"])
    summary["first_failures"] = [_index(k, lead) for k in summary["first_failures"]]
    if summary_json is not None:
        try:
            with open(summary_json, "w") as f:
                # As the command writes it: flat problem indices.
                json.dump(dict(summary, ier_counts={str(k): v for k, v in
                                                    summary["ier_counts"].items()},
                               first_failures=list(raw["first_failures"])),
                          f, indent=1, sort_keys=True)
                f.write("\n")
        except OSError as e:
            raise OSError(f"cannot write the summary file {summary_json}: {e}") from e
    return summary
