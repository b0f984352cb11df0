#!/usr/bin/python3
"""Reference results for the option property tests (tests/leastsq/test_leastsq_contract.cpp).

Runs scipy.optimize.leastsq (Debian python3-scipy, Fortran MINPACK) on small problems whose
residuals the C++ test evaluates with the same IEEE operations in the same order (Python floats
and the math module, never numpy's vectorised exp), under options that change MINPACK's path:
factor, diag (mode 2), epsfcn, maxfev, gtol, xtol, ftol, col_deriv.

Run: /usr/bin/python3 tests/support/gen_property_refs.py > tests/data/properties/scipy_options.json
"""
import json
import math

import numpy as np
import scipy
from scipy.optimize import leastsq

T = [0.1 * i for i in range(30)]
Y = [3.0 * math.exp(-0.7 * t) + 0.5 + 0.01 * math.sin(i) for i, t in enumerate(T)]


def decay(p):
    a, b, c = p
    return np.array([Y[i] - (a * math.exp(-b * T[i]) + c) for i in range(len(T))])


def decay_jac(p):
    a, b, c = p
    return np.array([[-math.exp(-b * t), a * t * math.exp(-b * t), -1.0] for t in T])


def rosenbrock(p):
    return np.array([10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]])


def rosenbrock_jac(p):
    return np.array([[-20.0 * p[0], 10.0], [-1.0, 0.0]])


PROBLEMS = {
    "decay": (decay, decay_jac, [1.0, 1.0, 0.0]),
    "rosenbrock": (rosenbrock, rosenbrock_jac, [-1.2, 1.0]),
}

VARIANTS = [
    {},
    {"factor": 1.0},
    {"factor": 0.1},
    {"diag": "ramp"},
    {"diag": "ramp", "factor": 1.0},
    {"epsfcn": 1e-6},
    {"maxfev": 7},
    {"gtol": 1e-3},
    {"xtol": 1e-3},
    {"ftol": 1e-3},
    {"ftol": 0.0, "xtol": 0.0},
]

runs = []
for pname, (f, jac, x0) in PROBLEMS.items():
    n = len(x0)
    for method in ("fd", "an", "an_col"):
        for variant in VARIANTS:
            if method != "fd" and "epsfcn" in variant:
                continue
            kw = dict(variant)
            if kw.get("diag") == "ramp":
                kw["diag"] = [10.0 ** j for j in range(n)]
            if method == "an":
                kw["Dfun"] = jac
            elif method == "an_col":
                kw["Dfun"] = lambda p, jac=jac: jac(p).T.copy()
                kw["col_deriv"] = 1
            x, cov, info, mesg, ier = leastsq(f, x0, full_output=True, **kw)
            runs.append({
                "problem": pname,
                "method": method,
                "options": {k: v for k, v in kw.items() if k != "Dfun"},
                "x0": x0,
                "x": list(map(float, x)),
                "nfev": int(info["nfev"]),
                "njev": int(info.get("njev", 0)),
                "ier": int(ier),
                "mesg": mesg,
                "cov_x": None if cov is None else [list(map(float, r)) for r in cov],
            })

print(json.dumps({"generator": "tests/support/gen_property_refs.py",
                  "scipy": scipy.__version__, "runs": runs}, indent=1))
