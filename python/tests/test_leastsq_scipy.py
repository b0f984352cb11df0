"""lmbatch.leastsq against scipy.optimize.leastsq, called live on identical Python functions.

MINPACK-1 (18 More-Garbow-Hillstrom problems, the 106 runs of tests/data/minpack/cases.json:
53 lmder with Dfun, 53 lmdif without), the same 53 lmder runs with col_deriv=True, NIST StRD
(27 datasets x 2 starts x {lmdif, lmder} = 108 runs) and scipy's docstring example. Both solvers
see the same numbers, so they must take the same steps: same ier, nfev, njev and mesg, x within
1e-12 relative, the infodict arrays alike, cov_x present where scipy's is.
"""
import json

import numpy as np
import pytest
from scipy.optimize import leastsq as scipy_leastsq

import lmbatch
import minpack_problems as P
import nist_problems as N
from helpers import DATA, max_rel_diff

X_RTOL = 1e-12


def run_both(func, x0, **kw):
    with np.errstate(all="ignore"):
        ours = lmbatch.leastsq(func, np.array(x0, dtype=float), full_output=True, **kw)
        theirs = scipy_leastsq(func, np.array(x0, dtype=float), full_output=True, **kw)
    return ours, theirs


def assert_same_run(ours, theirs, cov_rtol=1e-6):
    x, cov_x, info, mesg, ier = ours
    sx, scov_x, sinfo, smesg, sier = theirs
    assert (ier, info["nfev"], info.get("njev")) == (sier, sinfo["nfev"], sinfo.get("njev"))
    assert mesg == smesg
    assert list(info) == list(sinfo)  # same keys, in scipy's order
    assert x.dtype == sx.dtype and x.shape == sx.shape
    assert max_rel_diff(x, sx) <= X_RTOL
    # The arrays at the solution: identical steps give identical (or last-bit) values.
    scale = max(1.0, float(np.max(np.abs(sinfo["fvec"]))))
    np.testing.assert_allclose(info["fvec"], sinfo["fvec"], rtol=1e-10, atol=1e-12 * scale)
    assert info["fjac"].shape == sinfo["fjac"].shape
    assert info["ipvt"].dtype == sinfo["ipvt"].dtype
    np.testing.assert_array_equal(info["ipvt"], sinfo["ipvt"])
    assert info["qtf"].shape == sinfo["qtf"].shape
    assert (cov_x is None) == (scov_x is None)
    if cov_x is not None and np.linalg.cond(scov_x) * np.finfo(float).eps < cov_rtol:
        # Only where R's conditioning determines cov_x to that accuracy (docs/conformance.md).
        np.testing.assert_allclose(cov_x, scov_x, rtol=cov_rtol,
                                   atol=cov_rtol * float(np.max(np.abs(scov_x))))


# ---- MINPACK-1 -------------------------------------------------------------------------------

with open(DATA / "minpack" / "cases.json") as f:
    MINPACK_CASES = json.load(f)["cases"]


@pytest.mark.parametrize("case", MINPACK_CASES, ids=[c["id"] for c in MINPACK_CASES])
def test_minpack1(case):
    nprob, n, m, tol = case["nprob"], case["n"], case["m"], case["tol"]
    func = lambda x: P.fcn(nprob, m, n, x)  # noqa: E731
    kw = dict(ftol=tol, xtol=tol, gtol=0.0)
    if case["minpack_routine"] == "lmder":
        kw["Dfun"] = lambda x: P.jac(nprob, m, n, x)
    assert_same_run(*run_both(func, case["x0"], **kw))


LMDER_CASES = [c for c in MINPACK_CASES if c["minpack_routine"] == "lmder"]


@pytest.mark.parametrize("case", LMDER_CASES, ids=[c["id"] for c in LMDER_CASES])
def test_minpack1_col_deriv(case):
    nprob, n, m, tol = case["nprob"], case["n"], case["m"], case["tol"]
    func = lambda x: P.fcn(nprob, m, n, x)  # noqa: E731
    dfun = lambda x: np.ascontiguousarray(P.jac(nprob, m, n, x).T)  # noqa: E731
    assert_same_run(*run_both(func, case["x0"], Dfun=dfun, col_deriv=True, ftol=tol, xtol=tol))


# ---- NIST StRD -------------------------------------------------------------------------------

NIST_NAMES = [d["name"] for d in N.load(DATA / "nist" / "index.json")]
NIST_RUNS = [(name, start, method) for name in NIST_NAMES for start in ("start1", "start2")
             for method in ("fd", "an")]
_nist_cache = {}


def nist_problem(name):
    if name not in _nist_cache:
        d = N.load(DATA / "nist" / f"{name}.json")
        _nist_cache[name] = (d, *N.make_problem(d))
    return _nist_cache[name]


@pytest.mark.parametrize("name,start,method", NIST_RUNS,
                         ids=[f"{a}_{b}_{c}" for a, b, c in NIST_RUNS])
def test_nist(name, start, method):
    d, fun, dfun = nist_problem(name)
    kw = {"Dfun": dfun} if method == "an" else {}
    assert_same_run(*run_both(fun, d[start], **kw))


def test_nist_covers_108_runs():
    assert len(NIST_RUNS) == 108 and len(MINPACK_CASES) == 106


# ---- scipy's docstring example ---------------------------------------------------------------

def example(x):
    return 2 * (x - 3) ** 2 + 1


def test_seed_example():
    x, ier = lmbatch.leastsq(example, 0)
    sx, sier = scipy_leastsq(example, 0)
    assert ier == sier == 1
    assert x.shape == sx.shape == (1,)
    assert x[0] == sx[0]
    assert repr(x) == repr(sx) == "array([2.99999999])"
    # The same number the `lmbatch example` command prints (tests/CMakeLists.txt).
    assert repr(float(x[0])).startswith("2.99999999307631")
    assert_same_run(lmbatch.leastsq(example, 0, full_output=True),
                    scipy_leastsq(example, 0, full_output=True))


def test_seed_example_with_dfun():
    dfun = lambda x: np.array([[4.0 * (x[0] - 3.0)]])  # noqa: E731
    assert_same_run(*run_both(example, [0.0], Dfun=dfun))


# ---- options -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [
    dict(ftol=1e-4), dict(xtol=1e-3), dict(gtol=1e-2), dict(maxfev=7), dict(epsfcn=1e-6),
    dict(factor=0.1), dict(factor=1000.0), dict(diag=[1.0, 10.0, 0.5, 2.0, 1.0]),
], ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
@pytest.mark.parametrize("analytic", [False, True], ids=["lmdif", "lmder"])
def test_options_on_osborne1(kw, analytic):
    n, m = 5, 33
    func = lambda x: P.fcn(17, m, n, x)  # noqa: E731
    if analytic:
        kw = dict(kw, Dfun=lambda x: P.jac(17, m, n, x))
    assert_same_run(*run_both(func, P.start(17, n), **kw))


def test_args_are_passed_through():
    t = np.linspace(0, 4, 30)
    y = 2.5 * np.exp(-1.3 * t) + 0.2

    def resid(p, t, y):
        return y - (p[0] * np.exp(-p[1] * t) + p[2])

    def jac(p, t, y):
        e = np.exp(-p[1] * t)
        return np.column_stack([-e, p[0] * t * e, -np.ones_like(t)])

    assert_same_run(*run_both(resid, [1.0, 1.0, 0.0], args=(t, y)))
    assert_same_run(*run_both(resid, [1.0, 1.0, 0.0], args=(t, y), Dfun=jac))
