"""loss="poisson" against an independent maximiser of the Poisson log-likelihood.

lmbatch minimises the deviance through MINPACK's LM on signed deviance residuals; the reference
minimises the negative log-likelihood sum(f - y log f) with scipy.optimize.minimize (BFGS with the
analytic gradient, tight tolerances) from the truth. Different algorithms, one objective: both
must find the same optimum (x to 1e-6 relative) on >= 99 % of the problems. The standard errors
are checked against the inverse Fisher information computed here with numpy."""
import numpy as np
import pytest
from scipy.optimize import minimize

import lmbatch

TIGHT = dict(ftol=1e-15, xtol=1e-15, threads=1)


def agree(a, b, tol=1e-6):
    """Relative 1e-6; absolute 1e-6 for parameters below 1 (a baseline near 0)."""
    return np.all(np.abs(a - b) <= tol * np.maximum(np.abs(b), 1.0), axis=-1)


def maximise_likelihood(f_and_grad, y, start):
    """argmin sum(f - y log f): BFGS from start, then damped Fisher scoring (Newton's method with
    the expected Hessian, whose fixed point is where the gradient vanishes) to pin down the flat
    directions that BFGS's stopping rule leaves at 1e-5, and to go on where BFGS stalls."""

    def nll(p):
        with np.errstate(all="ignore"):
            f, df = f_and_grad(p)
            if not (np.all(f > 0) and np.all(np.isfinite(df))):  # the model must be positive
                return np.inf, np.zeros_like(p)
            return np.sum(f - y * np.log(f)), df.T @ (1.0 - y / f)

    p = minimize(nll, start, jac=True, method="BFGS", options=dict(gtol=1e-11, maxiter=5000)).x
    for _ in range(200):  # damped scoring: halve the step until the likelihood grows
        f, df = f_and_grad(p)
        try:
            step = np.linalg.solve(df.T @ (df / f[:, None]), df.T @ (y / f - 1.0))
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        here, t = nll(p)[0], 1.0
        while t > 1e-12 and not nll(p + t * step)[0] <= here:
            t /= 2
        if t <= 1e-12:
            break
        p = p + t * step
        if np.all(np.abs(t * step) <= 1e-14 * np.maximum(np.abs(p), 1.0)):
            break
    return p


def neg_log_likelihood(f_and_grad, y, p):
    f = f_and_grad(p)[0]
    return np.sum(f - y * np.log(f))


def tally(f_and_grad, y, got, truth):
    """(same, higher): problems where lmbatch's x is the reference's to 1e-6, and where it differs
    but lmbatch's likelihood is the higher (the reference stopped short, or sits in another
    local maximum). Checks cost and stderr where they agree."""
    same = higher = 0
    for k in range(len(y)):
        ref = maximise_likelihood(f_and_grad, y[k], truth[k])
        if agree(got.x[k], ref):
            same += 1
            f, df = f_and_grad(got.x[k])
            # cost is the deviance; stderr the inverse Fisher information's diagonal.
            with np.errstate(divide="ignore", invalid="ignore"):
                ylogy = np.where(y[k] > 0, y[k] * np.log(y[k] / f), 0.0)
            assert got.cost[k] == pytest.approx(2 * np.sum(f - y[k] + ylogy), rel=1e-10)
            np.testing.assert_allclose(got.stderr[k], fisher_stderr(f, df), rtol=1e-6)
        else:
            a = neg_log_likelihood(f_and_grad, y[k], got.x[k])
            b = neg_log_likelihood(f_and_grad, y[k], ref)
            higher += bool(a < b - 1e-9 * abs(b))
    return same, higher


def fisher_stderr(f, df):
    return np.sqrt(np.diag(np.linalg.inv(df.T @ (df / f[:, None]))))


# ---- bi-exponential decays: a few to a few hundred counts per bin ----

M_DECAY = 128
T = np.arange(M_DECAY, dtype=float)


def decay(p, t=T):
    a1, t1, a2, t2, c = p
    e1, e2 = np.exp(-t / t1), np.exp(-t / t2)
    f = a1 * e1 + a2 * e2 + c
    df = np.stack([e1, a1 * e1 * t / t1**2, e2, a2 * e2 * t / t2**2, np.ones_like(t)], axis=1)
    return f, df


@pytest.fixture(scope="module")
def decays():
    rng = np.random.default_rng(7)
    count = 150
    # The slow decay ends well inside the window (tau2 <= 25 of 128 bins): a slower one would
    # trade off against the constant, the likelihood's maximum then running off to infinity.
    truth = np.column_stack([rng.uniform(20, 300, count), rng.uniform(2, 5, count),
                             rng.uniform(10, 60, count), rng.uniform(12, 25, count),
                             rng.uniform(0.5, 3, count)])
    y = rng.poisson([decay(p)[0] for p in truth]).astype(float)
    return truth, y


def test_decays_reach_the_likelihood_maximum(decays):
    truth, y = decays
    got = lmbatch.fit(y, "exponential*2+constant", x=T, x0=truth, loss="poisson", **TIGHT)
    same, higher = tally(decay, y, got, truth)
    # Measured: 149 of 150 the same; 1 at a higher likelihood (a fast decay collapsing onto an
    # upward first bin).
    assert same >= 0.97 * len(y), f"{same} of {len(y)} at the reference's maximum"
    assert same + higher >= 0.99 * len(y), f"{same} + {higher} higher, of {len(y)}"


def fast_first(p):
    """The two decays in order of lifetime: (a1, t1, a2, t2, c) and (a2, t2, a1, t1, c) are one
    model."""
    p = np.array(p, dtype=float)
    return p[[2, 3, 0, 1, 4]] if p[3] < p[1] else p


def test_decays_from_the_estimate(decays):
    """No x0: the estimate's start. Never non-finite at the start; the likelihood maximum on
    most problems (measured 148 of 150 with the joint estimator, 143 with the per-term one; the
    rest are other local maxima, a matter of starting values)."""
    truth, y = decays
    got = lmbatch.fit(y, "exponential*2+constant", x=T, loss="poisson", **TIGHT)
    assert np.all(got.ier != -2)
    same = sum(agree(fast_first(got.x[k]), fast_first(maximise_likelihood(decay, y[k], truth[k])))
               for k in range(len(y)))
    assert same >= 0.9 * len(y), f"{same} of {len(y)} at the likelihood maximum"


# ---- 2-D gaussian spots of 100-1000 photons on 11 x 11 pixels ----

SIDE = 11
GRID = np.stack(np.meshgrid(np.arange(SIDE, dtype=float), np.arange(SIDE, dtype=float),
                            indexing="ij"), axis=-1).reshape(-1, 2)
SPOT = "expr(a, u, v, s, b): a*exp(-((x1-u)^2 + (x2-v)^2)/(2*s^2)) + b"


def spot(p, xy=GRID):
    a, u, v, s, b = p
    du, dv = xy[:, 0] - u, xy[:, 1] - v
    r2 = du * du + dv * dv
    e = np.exp(-r2 / (2 * s * s))
    f = a * e + b
    df = np.stack([e, a * e * du / s**2, a * e * dv / s**2, a * e * r2 / s**3,
                   np.ones_like(du)], axis=1)
    return f, df


@pytest.fixture(scope="module")
def spots():
    rng = np.random.default_rng(11)
    count = 120
    photons = rng.uniform(100, 1000, count)
    s = rng.uniform(1.0, 1.6, count)
    truth = np.column_stack([photons / (2 * np.pi * s * s), rng.uniform(4, 6, count),
                             rng.uniform(4, 6, count), s, rng.uniform(0.5, 2, count)])
    y = rng.poisson([spot(p)[0] for p in truth]).astype(float)
    return truth, y


def test_spots_reach_the_likelihood_maximum(spots):
    truth, y = spots
    got = lmbatch.fit(y, SPOT, x=GRID, x0=truth, loss="poisson", **TIGHT)
    same, higher = tally(spot, y, got, truth)
    assert same >= 0.99 * len(y), f"{same} of {len(y)} at the reference's maximum"


def test_poisson_input_rules():
    y = np.array([[3.0, 1.0, 0.0, 2.0, 5.0], [3.0, -1.0, 0.0, 2.0, 5.0]])
    got = lmbatch.fit(y, "constant", loss="poisson", x0=[1.0])
    assert got.ier[0] in (1, 2, 3, 4)
    assert got.x[0][0] == pytest.approx(np.mean(y[0]), rel=1e-4)  # ftol 1.49e-8: x to ~1e-5
    assert got.ier[1] == -5 and np.isnan(got.x[1][0])
    assert "negative" in got.message(-5)
    with pytest.raises(ValueError, match="poisson"):
        lmbatch.fit(y, "constant", loss="poison")


def test_every_start_keeps_the_fisher_errors(decays):
    """--starts: the kept start's stderr is the Fisher information's too."""
    truth, y = decays
    got = lmbatch.fit(y[:40], "exponential*2+constant", x=T, x0=truth[:40], loss="poisson",
                      starts=3, threads=1)
    checked = 0
    for k in range(40):
        if got.ier[k] in (1, 2, 3, 4) and np.all(np.isfinite(got.stderr[k])):
            np.testing.assert_allclose(got.stderr[k], fisher_stderr(*decay(got.x[k])), rtol=1e-6)
            checked += 1
    assert checked >= 35


def test_seeding_does_not_combine_with_constraints():
    y = np.ones((2, 8))
    with pytest.raises(ValueError, match="do not combine"):
        lmbatch.fit(y, "constant", loss="poisson", starts=2, bounds=(0.0, np.inf))
