"""Bounds through lmbatch.fit and fit_file against scipy.optimize.least_squares(bounds=...) from
the same start (issue #16): x to 1e-6, the same active set as /pegged, the KKT conditions at
lmbatch's solution (zero gradient on free parameters, outward on pegged ones), bounds holding on
every problem, a given start outside them ier -6, an estimated one projected into them."""
import h5py
import numpy as np
import pytest
from scipy.optimize import least_squares

import lmbatch

X = np.linspace(-10.0, 10.0, 80)
MODEL = "gaussian+constant"  # amplitude center sigma c
X0 = np.array([1.0, 0.5, 1.5, 0.4])
LOWER = np.array([0.0, -np.inf, 0.35, 0.25])
UPPER = np.array([np.inf, np.inf, 3.0, np.inf])
TIGHT = dict(ftol=1e-12, xtol=1e-12)


def model(p, x=X):
    a, c, s, b = p
    return a * np.exp(-(x - c) ** 2 / (2 * s ** 2)) + b


def jac(p, x=X):
    a, c, s, _b = p
    e = np.exp(-(x - c) ** 2 / (2 * s ** 2))
    return np.column_stack([e, a * e * (x - c) / s ** 2, a * e * (x - c) ** 2 / s ** 3,
                            np.ones_like(x)])


@pytest.fixture
def problems(rng):
    """A baseline below its bound (c pegged at 0.25), wide peaks (sigma pegged at 3) and
    ordinary ones; the amplitude's bound (0) never binds."""
    rows = []
    for k in range(24):
        kind = k % 3
        b = 0.1 if kind == 0 else rng.uniform(0.4, 0.6)
        s = 5.0 if kind == 1 else rng.uniform(1.0, 2.0)
        rows.append(model([rng.uniform(1.0, 2.0), rng.uniform(-1, 1), s, b])
                    + rng.normal(0, 0.05, X.size))
    return np.array(rows)


def test_bounds_match_least_squares_and_satisfy_kkt(problems):
    r = lmbatch.fit(problems, MODEL, x=X, x0=X0, bounds=(LOWER, UPPER), **TIGHT)
    assert np.all(r.converged)
    pegged_seen = set()
    for k, y in enumerate(problems):
        ls = least_squares(lambda p: y - model(p), X0, jac=lambda p: -jac(p),
                           bounds=(LOWER, UPPER), method="trf", xtol=1e-15, ftol=1e-15,
                           gtol=1e-15)
        np.testing.assert_allclose(r.x[k], ls.x, rtol=1e-6, atol=1e-7)
        assert list(r.pegged[k]) == list(ls.active_mask), k
        pegged_seen.update(int(v) for v in r.pegged[k])
        # KKT at lmbatch's solution: g = d(0.5 |r|^2)/dp = J_r^T r, J_r = -J_f.
        g = -jac(r.x[k]).T @ (y - model(r.x[k]))
        scale = np.linalg.norm(jac(r.x[k]), axis=0) * np.linalg.norm(y - model(r.x[k]))
        for j in range(4):
            if r.pegged[k, j] == 0:
                assert abs(g[j]) <= 1e-5 * scale[j], (k, j)
            elif r.pegged[k, j] == -1:  # at the lower bound the cost rises inwards
                assert g[j] >= -1e-8 * scale[j] and r.x[k, j] == LOWER[j]
            else:
                assert g[j] <= 1e-8 * scale[j] and r.x[k, j] == UPPER[j]
        # Pegged parameters have no covariance; the free ones do.
        for j in range(4):
            assert np.isnan(r.stderr[k, j]) == (r.pegged[k, j] != 0)
    assert pegged_seen == {-1, 0, 1}


def test_bounds_hold_on_every_problem_and_bounds_that_never_bind_change_nothing(problems, rng):
    # Noisier copies, and peaks absent (the amplitude's bound binds).
    y = np.concatenate([problems] * 20) + rng.normal(0, 0.3, (20 * len(problems), X.size))
    y[::4] = rng.normal(0.3, 0.05, (len(y[::4]), X.size))
    for jacobian in ("analytic", "forward"):
        r = lmbatch.fit(y, MODEL, x=X, bounds=(LOWER, UPPER), jacobian=jacobian)
        assert (r.x >= LOWER).all() and (r.x <= UPPER).all()
    free = lmbatch.fit(problems[1::3], MODEL, x=X, x0=X0)
    wide = lmbatch.fit(problems[1::3], MODEL, x=X, x0=X0, bounds=(-1e6, 1e6))
    for name in ("x", "cov_x", "cost", "nfev", "njev", "ier"):
        assert np.array_equal(getattr(free, name), getattr(wide, name), equal_nan=True), name


def test_a_start_outside_the_bounds_is_ier_minus_6_and_an_estimate_is_projected(problems):
    x0 = np.tile(X0, (len(problems), 1))
    x0[2, 2] = 3.5  # problem 2's sigma starts above its bound
    r = lmbatch.fit(problems, MODEL, x=X, x0=x0, bounds="amplitude=0:,sigma=0.35:3,c=0.25:")
    assert r.ier[2] == -6 and list(r.x[2]) == list(x0[2])
    assert "outside the bounds" in r.message(-6)
    assert np.all(r.converged[np.arange(len(problems)) != 2])
    est = lmbatch.fit(problems, MODEL, x=X, bounds="sigma=0.35:0.5")  # estimates lie above 0.5
    assert (est.ier != -6).all()
    assert (est.x[:, 2] <= 0.5).all() and (est.x[:, 2] >= 0.35).all()


def test_the_bounds_by_name_per_problem_and_in_fit_file_agree(tmp_path, problems):
    by_name = lmbatch.fit(problems, MODEL, x=X, x0=X0, bounds="amplitude=0:,sigma=0.35:3,c=0.25:")
    by_dict = lmbatch.fit(problems, MODEL, x=X, x0=X0,
                          bounds={"amplitude": (0, None), "sigma": (0.35, 3), "c": (0.25, None)})
    per_problem = lmbatch.fit(problems, MODEL, x=X, x0=X0,
                              bounds=(np.tile(LOWER, (len(problems), 1)), UPPER))
    for other in (by_dict, per_problem):
        assert np.array_equal(by_name.x, other.x) and np.array_equal(by_name.pegged, other.pegged)
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["y"] = problems
        f["x"] = X
        f["x0"] = X0
        f["lo"] = np.where(np.isinf(LOWER), np.nan, LOWER)  # NaN: no bound
        f["hi"] = UPPER
    lmbatch.fit_file(path, tmp_path / "a.h5", MODEL, bounds=("/lo", "/hi"))
    lmbatch.fit_file(path, tmp_path / "b.h5", MODEL, bounds="amplitude=0:,sigma=0.35:3,c=0.25:")
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert np.array_equal(a["x"][:], by_name.x)
        assert np.array_equal(b["x"][:], by_name.x)
        assert np.array_equal(a["pegged"][:], by_name.pegged)
        assert a.attrs["lower"] == "/lo" and b.attrs["bounds"] == "amplitude=0:,sigma=0.35:3,c=0.25:"
