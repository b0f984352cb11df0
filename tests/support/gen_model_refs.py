#!/usr/bin/python3
"""Reference results for the model catalogue (tests/models/test_scipy_agreement.cpp).

For every catalogue model and a few composites, a handful of seeded noisy synthetic
problems (x, y and the starting point x0 are stored as numbers, so the C++ test reads
exactly what scipy saw), fitted by scipy.optimize.leastsq (Debian python3-scipy 1.10,
Fortran MINPACK) twice: with Dfun (the analytic Jacobian, col_deriv=1, i.e. Dfun returns
the n x m transposed Jacobian = MINPACK's column-major m x n) and without (forward
differences).

The C++ test compares ier and nfev exactly and x to 1e-10, which only holds when every
residual and Jacobian value is bit-identical to the C++ evaluation. So the model is
evaluated here like engine/models/*.cpp: one sample at a time with Python floats and
lmbatch's own exp (lmbatch_exp.py, a port of engine/simd/exp.cpp: the catalogue terms call
lmbatch::simd::exp, not std::exp, issue #19; never numpy's vectorised exp), in the same
operation order (see each term below and its .cpp file), the terms summed as
f = ((0.0 + t1) + t2) + ..., the residual r = y - f (sigma = 1) and the Jacobian of the
residual -df/dp. The C++ is built with -ffp-contract=off, so neither side fuses a
multiply-add.

Run: /usr/bin/python3 tests/support/gen_model_refs.py > tests/data/models/scipy_models.json
"""
import json
import math
import os
import sys

import numpy as np
import scipy
from scipy.optimize import leastsq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lmbatch_exp  # noqa: E402

FOUR_LN2 = 2.772588722239781  # 4.0 * std::numbers::ln2, exactly
assert FOUR_LN2 == 4.0 * math.log(2.0)


# ---- terms: value(p, x) is what accumulate adds for one sample; jac(p, x) the
# derivatives of that value with respect to p, one per parameter ----

def gaussian_value(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    return amplitude * lmbatch_exp.exp(-0.5 * (u * u))


def gaussian_jac(p, x):
    amplitude, center, sigma = p
    u = (x - center) / sigma
    e = lmbatch_exp.exp(-0.5 * (u * u))
    slope = ((amplitude * e) * u) / sigma
    return [e, slope, slope * u]


def lorentzian_value(p, x):
    amplitude, center, gamma = p
    gamma2 = gamma * gamma
    d = x - center
    shape = gamma2 / (d * d + gamma2)
    return amplitude * shape


def lorentzian_jac(p, x):
    amplitude, center, gamma = p
    gamma2 = gamma * gamma
    d = x - center
    denominator = d * d + gamma2
    shape = gamma2 / denominator
    two_a_over_den = (2.0 * amplitude) / denominator
    return [shape, (two_a_over_den * shape) * d, ((two_a_over_den * gamma) * (d * d)) / denominator]


def pseudo_voigt_value(p, x):
    amplitude, center, fwhm, eta = p
    t = (x - center) / fwhm
    t2 = t * t
    gauss = lmbatch_exp.exp(-FOUR_LN2 * t2)
    lorentz = 1.0 / (1.0 + 4.0 * t2)
    return amplitude * (eta * lorentz + (1.0 - eta) * gauss)


def pseudo_voigt_jac(p, x):
    amplitude, center, fwhm, eta = p
    t = (x - center) / fwhm
    t2 = t * t
    gauss = lmbatch_exp.exp(-FOUR_LN2 * t2)
    lorentz = 1.0 / (1.0 + 4.0 * t2)
    s = (8.0 * eta) * (lorentz * lorentz) + ((2.0 * FOUR_LN2) * (1.0 - eta)) * gauss
    a_t_s = (amplitude * t) * s
    return [eta * lorentz + (1.0 - eta) * gauss, a_t_s / fwhm, (a_t_s * t) / fwhm,
            amplitude * (lorentz - gauss)]


def exponential_value(p, x):
    amplitude, tau = p
    return amplitude * lmbatch_exp.exp(-(x / tau))


def exponential_jac(p, x):
    amplitude, tau = p
    u = x / tau
    e = lmbatch_exp.exp(-u)
    return [e, ((amplitude * e) * u) / tau]


def constant_value(p, x):
    return p[0]


def constant_jac(p, x):
    return [1.0]


def linear_value(p, x):
    intercept, slope = p
    return intercept + slope * x


def linear_jac(p, x):
    return [1.0, x]


def poly_value(p, x):  # Horner, highest coefficient first
    value = p[-1]
    for k in range(len(p) - 2, -1, -1):
        value = value * x + p[k]
    return value


def poly_jac(p, x):
    power = 1.0
    cols = [power]
    for _ in range(1, len(p)):
        power = power * x
        cols.append(power)
    return cols


TERMS = {
    "gaussian": (3, gaussian_value, gaussian_jac),
    "lorentzian": (3, lorentzian_value, lorentzian_jac),
    "pseudo_voigt": (4, pseudo_voigt_value, pseudo_voigt_jac),
    "exponential": (2, exponential_value, exponential_jac),
    "constant": (1, constant_value, constant_jac),
    "linear": (2, linear_value, linear_jac),
    "poly2": (3, poly_value, poly_jac),
    "poly3": (4, poly_value, poly_jac),
    "poly4": (5, poly_value, poly_jac),
    "poly5": (6, poly_value, poly_jac),
}


def parse(spec):
    """[(term name, offset)] for 'a*k+b' (no spaces), as Model::parse."""
    uses, offset = [], 0
    for part in spec.split("+"):
        name, _, count = part.partition("*")
        for _ in range(int(count) if count else 1):
            uses.append((name, offset))
            offset += TERMS[name][0]
    return uses, offset


class Model:
    def __init__(self, spec):
        self.uses, self.n = parse(spec)

    def value(self, p, x):
        f = 0.0
        for name, offset in self.uses:
            k, value, _ = TERMS[name]
            f += value(p[offset:offset + k], x)
        return f

    def jacobian_row(self, p, x):
        row = []
        for name, offset in self.uses:
            k, _, jac = TERMS[name]
            row.extend(jac(p[offset:offset + k], x))
        return row


# ---- problems ----
# model: (x grid (start, step, count), truth, noise standard deviation)
PROBLEMS = {
    "gaussian": ((0.0, 0.25, 41), [3.0, 4.5, 1.2], 0.03),
    "lorentzian": ((-5.0, 0.25, 41), [2.0, 0.3, 0.8], 0.02),
    "pseudo_voigt": ((0.0, 0.5, 41), [5.0, 9.0, 3.0, 0.4], 0.05),
    "exponential": ((0.0, 0.125, 41), [4.0, 1.3], 0.04),
    "constant": ((0.0, 0.5, 21), [2.5], 0.05),
    "linear": ((-2.0, 0.25, 21), [1.5, -0.7], 0.05),
    "poly2": ((-2.0, 0.125, 33), [1.0, -0.5, 0.75], 0.05),
    "poly3": ((-2.0, 0.125, 33), [0.5, 1.25, -0.4, 0.3], 0.05),
    "poly4": ((-2.0, 0.125, 33), [-1.0, 0.5, 0.8, -0.2, 0.1], 0.05),
    "poly5": ((-2.0, 0.125, 33), [0.3, -1.2, 0.5, 0.6, -0.15, 0.04], 0.05),
    "gaussian+constant": ((0.0, 0.25, 41), [3.0, 5.0, 0.8, 0.7], 0.03),
    "gaussian*3+linear": ((0.0, 0.125, 81), [3.0, 2.5, 0.4, 2.0, 5.0, 0.6, 1.5, 7.5, 0.5, 0.5, 0.1],
                          0.03),
    "exponential*2+constant": ((0.0, 0.2, 61), [2.0, 0.4, 1.0, 2.5, 0.3], 0.01),
    "lorentzian+linear": ((0.0, 0.5, 41), [2.0, 10.0, 1.0, 0.2, 0.05], 0.02),
    "pseudo_voigt+constant": ((0.0, 0.25, 41), [4.0, 5.0, 2.0, 0.6, 1.0], 0.04),
}
# Per problem of a model: relative perturbation of x0 from the truth, and whether x is a
# shuffled grid (the C++ must not assume sorted samples).
VARIANTS = [(0.05, False), (0.15, True), (0.35, False)]


def make_problem(spec, index, grid, truth, noise):
    start, step, count = grid
    seed = 1000 * (list(PROBLEMS).index(spec) + 1) + index
    rng = np.random.RandomState(seed)
    relative, shuffled = VARIANTS[index]
    x = [start + step * i for i in range(count)]
    if shuffled:
        x = [x[i] for i in rng.permutation(count)]
    model = Model(spec)
    y = [model.value(truth, xi) + float(e) for xi, e in zip(x, rng.normal(0.0, noise, count))]
    x0 = [float(t * (1.0 + relative * u)) for t, u in zip(truth, rng.uniform(-1.0, 1.0, len(truth)))]
    return {"id": f"{spec}/{index}", "model": spec, "truth": truth, "x": x, "y": y, "x0": x0}


def fit(problem, analytic):
    model = Model(problem["model"])
    x, y = problem["x"], problem["y"]

    def residuals(p):
        p = [float(v) for v in p]
        return np.array([y[i] - model.value(p, x[i]) for i in range(len(x))])

    def jacobian_columns(p):  # col_deriv=1: n x m, row k = d r / d p_k
        p = [float(v) for v in p]
        rows = [model.jacobian_row(p, xi) for xi in x]
        return np.array([[-rows[i][k] for i in range(len(x))] for k in range(model.n)])

    kw = {"Dfun": jacobian_columns, "col_deriv": 1} if analytic else {}
    sol, cov, info, mesg, ier = leastsq(residuals, problem["x0"], full_output=True, **kw)
    out = {
        "x": [float(v) for v in sol],
        "nfev": int(info["nfev"]),
        "ier": int(ier),
        "mesg": mesg,
        "cov_x": None if cov is None else [[float(v) for v in row] for row in cov],
    }
    if analytic:
        out["njev"] = int(info["njev"])
    return out


def main():
    problems = []
    for spec, (grid, truth, noise) in PROBLEMS.items():
        for index in range(len(VARIANTS)):
            problem = make_problem(spec, index, grid, truth, noise)
            problem["lmder"] = fit(problem, True)
            problem["lmdif"] = fit(problem, False)
            problems.append(problem)
    print(json.dumps({"generator": "tests/support/gen_model_refs.py", "scipy": scipy.__version__,
                      "problems": problems}, separators=(",", ":")))


if __name__ == "__main__":
    main()
