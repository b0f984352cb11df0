"""Robust losses (loss=, f_scale=) against scipy.optimize.least_squares (method="trf").

lmbatch minimises sum r_i^2 with r_i = sign(f_i) C sqrt(rho((f_i/C)^2)) through MINPACK's LM;
least_squares minimises 0.5 C^2 sum rho with its TRF. Different algorithms, one objective: from
the same start both must land on the same optimum (to 1e-6; numpy's exp may differ from glibc's
in the last bit, so optima, not bits, are compared)."""
import numpy as np
import pytest
from scipy.optimize import least_squares

import lmbatch

M = 64
COUNT = 200
ROBUST = ["soft_l1", "huber", "cauchy", "arctan"]
# Spikes of 0.5..3 over noise 0.02: outliers at u = |f|/C >= 2.5. A smaller scale makes arctan
# (bounded rho: a far sample costs pi/2 C^2 whatever its size) markedly non-convex: at 0.05,
# 14 % of the problems have LM and TRF stop at different local minima from the same start
# (LM's the lower cost in 18 of those 22 cases); the other losses still agree on all 200.
F_SCALE = 0.2


def model(p, x):
    a, c, s, b = p
    return a * np.exp(-0.5 * ((x - c) / s) ** 2) + b


def jac(p, x):
    a, c, s, b = p
    d = (x - c) / s
    e = np.exp(-0.5 * d * d)
    # of the residual model - y
    return np.stack([e, a * e * d / s, a * e * d * d / s, np.ones_like(x)], axis=1)


def spectra(seed=20240611):
    rng = np.random.default_rng(seed)
    x = np.arange(M, dtype=float)
    truth = np.column_stack([1 + rng.random(COUNT), 20 + 20 * rng.random(COUNT),
                             3 + 3 * rng.random(COUNT), 0.1 * rng.random(COUNT)])
    y = np.array([model(p, x) for p in truth]) + rng.normal(0, 0.02, (COUNT, M))
    for k in range(COUNT):  # a few spikes per spectrum
        y[k, rng.choice(M, 4, replace=False)] += rng.uniform(0.5, 3.0, 4)
    x0 = truth * rng.uniform(0.9, 1.1, truth.shape)
    x0[:, 3] = 0.05
    return x, y, truth, x0


def same(a, b, tol=1e-6):
    """Relative 1e-6, absolute near 0; sigma and -sigma are the same gaussian."""
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    a[..., 2], b[..., 2] = np.abs(a[..., 2]), np.abs(b[..., 2])
    return np.all(np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b)), axis=-1)


def positive_sigma(x):
    """sigma and -sigma are the same gaussian: compare |sigma| with the truth's."""
    x = np.array(x)
    x[:, 2] = np.abs(x[:, 2])
    return x


@pytest.fixture(scope="module")
def data():
    return spectra()


@pytest.mark.parametrize("loss", ROBUST)
def test_same_optimum_as_scipy_least_squares(data, loss):
    x, y, truth, x0 = data
    got = lmbatch.fit(y, "gaussian+constant", x=x, x0=x0, loss=loss, f_scale=F_SCALE,
                      ftol=1e-14, xtol=1e-14, threads=1)
    agree = 0
    for k in range(COUNT):
        ref = least_squares(lambda p: model(p, x) - y[k], x0[k], jac=lambda p: jac(p, x),
                            method="trf", loss=loss, f_scale=F_SCALE, x_scale=1.0,
                            ftol=1e-15, xtol=1e-15, gtol=1e-15)
        if same(got.x[k], ref.x):
            agree += 1
            # cost: lmbatch's is sum r^2 = C^2 sum rho = twice scipy's.
            assert got.cost[k] == pytest.approx(2 * ref.cost, rel=1e-9, abs=1e-14)
    share = agree / COUNT
    print(f"{loss}: same optimum as least_squares on {100 * share:.1f} % of {COUNT}")
    assert share >= 0.99


def test_robust_fits_land_closer_to_the_truth_than_linear(data):
    x, y, truth, x0 = data
    names = ["amplitude", "center", "sigma", "constant"]
    linear = lmbatch.fit(y, "gaussian+constant", x=x, x0=x0, threads=1)
    lin_err = np.median(np.abs(positive_sigma(linear.x) - truth), axis=0)
    print("median |x - truth|  " + "  ".join(f"{n:>10}" for n in names))
    print(f"{'linear':>19}  " + "  ".join(f"{e:10.2e}" for e in lin_err))
    for loss in ROBUST:
        r = lmbatch.fit(y, "gaussian+constant", x=x, x0=x0, loss=loss, f_scale=F_SCALE,
                        threads=1)
        err = np.median(np.abs(positive_sigma(r.x) - truth), axis=0)
        print(f"{loss:>19}  " + "  ".join(f"{e:10.2e}" for e in err))
        assert np.all(err < lin_err), loss


def test_linear_is_the_default_to_the_bit(data):
    x, y, truth, x0 = data
    a = lmbatch.fit(y, "gaussian+constant", x=x, x0=x0)
    b = lmbatch.fit(y, "gaussian+constant", x=x, x0=x0, loss="linear", f_scale=3.0)
    assert a.x.tobytes() == b.x.tobytes() and a.cost.tobytes() == b.cost.tobytes()


def test_options_are_checked_and_reported(data):
    x, y, truth, x0 = data
    with pytest.raises(ValueError, match="loss must be 'linear', 'soft_l1', 'huber', 'cauchy', "
                                         "'arctan' or 'poisson', not 'nope'"):
        lmbatch.fit(y, "gaussian+constant", loss="nope")
    with pytest.raises(ValueError, match="f_scale must be a finite number > 0"):
        lmbatch.fit(y, "gaussian+constant", loss="huber", f_scale=0.0)
    r = lmbatch.fit(y[:3], "gaussian+constant", loss="cauchy", f_scale=0.5)
    assert r.options["loss"] == "cauchy" and r.options["f_scale"] == 0.5
