#!/usr/bin/env python3
"""Reference results for tests/leastsq/test_bounds.cpp: bound-constrained least
squares solved by an independent method, scipy.optimize.least_squares
(method='trf', analytic Jacobian, x_scale='jac', ftol = xtol = gtol = 1e-15),
from the same start and with the same bounds as lmbatch's MPFIT-style core.

Problems: MINPACK-1 test problems (residuals and Jacobians from
shared/data/tools/minpack_problems.py, the Python transcription the
conformance references were made with) with bounds chosen so that at least one
binds, and Gaussian peaks on synthetic data (amplitude >= 0 where the peak is
absent, a width or amplitude upper bound that binds, MPFIT's testgaussfix data
with a width limit). Each case records scipy's x, its active_mask (-1 on the
lower bound, +1 on the upper) and which parameters the data determine
("compare": a peak of amplitude 0 leaves its centre and width free).

Run from the repository root:
  /usr/bin/python3 tests/data/bounds/make_bounds_reference.py [path/to/shared/data/tools]
writes tests/data/bounds/bounds_reference.json (unbounded entries are null).
"""
import json
import math
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy.optimize import least_squares

HERE = Path(__file__).resolve().parent
TOOLS = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[3] / "shared" / "data" / "tools"
sys.path.insert(0, str(TOOLS))
import minpack_problems as mp  # noqa: E402

INF = math.inf

# (nprob, n, m, lower, upper): standard start (factor 1), bounds that bind.
# Not here: Helical valley with x1 <= 0.8 (lmdif and trf stop at different
# stationary points) and Box 3-D with x3 >= 5 (x2 is left undetermined where
# exp(-t x2) underflows).
MINPACK = [
    (1, 5, 10, [-0.5] * 5, [INF] * 5),
    (4, 2, 2, [-INF, -INF], [0.5, INF]),
    (6, 4, 4, [0.5, -INF, -INF, -INF], [INF] * 4),
    (8, 3, 15, [-INF] * 3, [INF, INF, 2.0]),
    (9, 4, 11, [0.2, -INF, -INF, -INF], [INF] * 4),
    (13, 2, 10, [0.28, -INF], [INF, INF]),
    (14, 4, 20, [-10.0, -INF, -INF, -INF], [INF] * 4),
    (17, 5, 33, [-INF] * 5, [INF, 1.8, INF, INF, INF]),
]


def gauss_residuals(p, t, y, ey):
    # MPFIT's testgaussfix model: p = [constant, peak, centre, sigma].
    xc = t - p[2]
    return (y - (p[1] * np.exp(-0.5 * xc * xc / (p[3] * p[3])) + p[0])) / ey


def gauss_jacobian(p, t, y, ey):
    xc = t - p[2]
    s2 = p[3] * p[3]
    e = np.exp(-0.5 * xc * xc / s2)
    J = np.empty((t.size, 4))
    J[:, 0] = -1.0
    J[:, 1] = -e
    J[:, 2] = -p[1] * e * xc / s2
    J[:, 3] = -p[1] * e * xc * xc / (s2 * p[3])
    return J / ey


def solve(fun, jac, x0, lower, upper):
    r = least_squares(fun, np.array(x0, float), jac=jac, bounds=(lower, upper), method="trf",
                      x_scale="jac", ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=100000)
    assert r.status > 0, r.message
    return r


def finite_or_null(v):
    return [float(a) if math.isfinite(a) else None for a in v]


def record(case, r, lower, upper):
    case.update(lower=finite_or_null(lower), upper=finite_or_null(upper),
                x=[float(v) for v in r.x], active=[int(a) for a in r.active_mask],
                cost=float(r.cost), scipy_status=int(r.status))
    assert any(case["active"]), case["id"] + ": no bound binds"
    return case


def main():
    cases = []
    for nprob, n, m, lower, upper in MINPACK:
        x0 = mp.start(nprob, n)
        r = solve(lambda x: np.array(mp.fcn(nprob, m, n, x)),
                  lambda x: np.array(mp.jac(nprob, m, n, x)), x0, lower, upper)
        cases.append(record({"id": f"minpack_p{nprob:02d}_{mp.NAMES[nprob]}", "kind": "minpack",
                             "nprob": nprob, "n": n, "m": m, "x0": list(map(float, x0)),
                             "compare": [1] * n}, r, lower, upper))

    rng = np.random.default_rng(20261206)
    t = np.linspace(0.0, 10.0, 41)
    noise = rng.standard_normal(t.size)

    def peak(b, a, c, s):
        return a * np.exp(-0.5 * (t - c) ** 2 / s**2) + b

    gauss = [
        # A pixel without the peak: amplitude >= 0 pegs at 0 (centre, width free).
        ("gauss_absent_amplitude_ge_0", t, 0.5 + 0.005 * noise - 0.05 * np.exp(-0.5 * (t - 5) ** 2 / 2.25),
         0.005, [0.4, 1.0, 5.0, 1.0], [-INF, 0.0, 4.0, 0.5], [INF, INF, 6.0, 2.0], [1, 1, 0, 0]),
        # A width above its upper bound.
        ("gauss_width_le_1", t, peak(0.1, 2.0, 4.6, 1.5) + 0.02 * noise, 0.02,
         [0.0, 1.5, 5.0, 0.8], [-INF, 0.0, 0.0, 0.35], [INF, INF, 10.0, 1.0], [1, 1, 1, 1]),
        # An amplitude above its upper bound, and the baseline's lower bound.
        ("gauss_amplitude_le_1.5_baseline_ge_0.3", t, peak(0.2, 2.0, 5.3, 1.1) + 0.02 * noise,
         0.02, [0.5, 1.0, 5.0, 1.0], [0.3, 0.0, 0.0, 0.35], [INF, 1.5, 10.0, 3.0], [1, 1, 1, 1]),
        # A width below its lower bound.
        ("gauss_width_ge_1.2", t, peak(0.1, 1.0, 5.0, 0.8) + 0.02 * noise, 0.02,
         [0.0, 0.8, 5.2, 2.0], [-INF, 0.0, 0.0, 1.2], [INF, INF, 10.0, 3.0], [1, 1, 1, 1]),
    ]
    # MPFIT's testgaussfix data (testmpfit.c, ey = 0.5), sigma limited to <= 0.3
    # (the unconstrained fit has sigma = 0.397).
    xm = np.array([-1.7237128E+00, 1.8712276E+00, -9.6608055E-01, -2.8394297E-01, 1.3416969E+00,
                   1.3757038E+00, -1.3703436E+00, 4.2581975E-02, -1.4970151E-01, 8.2065094E-01])
    ym = np.array([-4.4494256E-02, 8.7324673E-01, 7.4443483E-01, 4.7631559E+00, 1.7187297E-01,
                   1.1639182E-01, 1.5646480E+00, 5.2322268E+00, 4.2543168E+00, 6.2792623E-01])
    gauss.append(("mpfit_testgauss_sigma_le_0.3", xm, ym, 0.5, [0.0, 1.0, 0.0, 0.25],
                  [-INF, -INF, -INF, -INF], [INF, INF, INF, 0.3], [1, 1, 1, 1]))
    for name, tt, yy, ey, x0, lower, upper, compare in gauss:
        r = solve(lambda p: gauss_residuals(p, tt, yy, ey),
                  lambda p: gauss_jacobian(p, tt, yy, ey), x0, lower, upper)
        cases.append(record({"id": name, "kind": "gauss", "n": 4, "m": int(tt.size),
                             "t": tt.tolist(), "y": [float(v) for v in yy], "ey": ey,
                             "x0": x0, "compare": compare}, r, lower, upper))

    out = {
        "description": "scipy.optimize.least_squares(method='trf', x_scale='jac', "
                       "ftol=xtol=gtol=1e-15, analytic Jacobian) on bound-constrained problems; "
                       "made by make_bounds_reference.py",
        "scipy_version": scipy.__version__, "numpy_version": np.__version__,
        "cases": cases,
    }
    (HERE / "bounds_reference.json").write_text(json.dumps(out, indent=1) + "\n")
    for c in cases:
        print(c["id"], np.round(c["x"], 6), c["active"])


if __name__ == "__main__":
    main()
