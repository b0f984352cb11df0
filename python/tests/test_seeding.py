"""Where problems start: starts= (seeded perturbations, the lowest cost kept) and x0_from=
(the aggregate spectrum's fit, scaled to each problem); result field ``start``."""
import h5py
import numpy as np
import pytest
import scipy.optimize

import lmbatch

M = 64
X = np.arange(M, dtype=float)


def gaussian_constant(p, x):
    return p[0] * np.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2)) + p[3]


def noisy_cube(rng, count, noise):
    """Same peak shape everywhere, intensities vary, heavy noise: each problem's own
    estimate is poor, the mean spectrum is clear."""
    a = rng.uniform(1.0, 2.0, count)
    truth = np.stack([a, np.full(count, 30.0), np.full(count, 3.0), 0.1 * a], axis=-1)
    y = np.stack([gaussian_constant(t, X) for t in truth]) + rng.normal(0, noise, (count, M))
    return y, truth


def scipy_cost_from_truth(y, truth):
    """The cost scipy's leastsq reaches from the truth: the optimum to reach."""
    cost = []
    for row, t in zip(y, truth):
        p, _ = scipy.optimize.leastsq(lambda p: row - gaussian_constant(p, X), t)
        cost.append(np.sum((row - gaussian_constant(p, X)) ** 2))
    return np.array(cost)


def test_x0_from_mean_reaches_the_optimum_where_the_estimate_does_not(rng):
    y, truth = noisy_cube(rng, 200, 0.6)
    best = scipy_cost_from_truth(y, truth)
    own = lmbatch.fit(y, "gaussian+constant", x=X)
    seeded = lmbatch.fit(y, "gaussian+constant", x=X, x0_from="mean")
    before = np.mean(own.cost <= best * (1 + 1e-6))
    after = np.mean(seeded.cost <= best * (1 + 1e-6))
    assert before < 0.95
    assert after >= 0.99
    assert np.all(own.start == 0)
    assert np.all(np.isin(seeded.start, [0, 2])) and np.mean(seeded.start == 2) > 0.5
    assert not np.any(seeded.cost > own.cost)  # the own estimate is tried last
    assert seeded.options["x0_from"] == "mean"


def test_starts_never_raise_the_cost_and_one_start_is_the_plain_fit(rng):
    y, truth = noisy_cube(rng, 60, 0.05)
    bad = np.array([1.0, 12.0, 1.5, 0.0])
    plain = lmbatch.fit(y, "gaussian+constant", x=X, x0=bad)
    one = lmbatch.fit(y, "gaussian+constant", x=X, x0=bad, starts=1)
    assert plain.x.tobytes() == one.x.tobytes() and np.all(one.start == 1)
    many = lmbatch.fit(y, "gaussian+constant", x=X, x0=bad, starts=8, threads=2, chunk_size=7)
    assert np.all(many.cost <= plain.cost)
    assert np.any(many.start >= 11) and np.all((many.start == 1) | (many.start >= 11))
    again = lmbatch.fit(y, "gaussian+constant", x=X, x0=bad, starts=8, threads=1)
    assert again.x.tobytes() == many.x.tobytes()


def test_fit_file_seeds_as_fit_does(tmp_path, rng):
    y, _ = noisy_cube(rng, 48, 0.3)
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["y"] = y.reshape(6, 8, M)
        f["x"] = X
    out = tmp_path / "out.h5"
    lmbatch.fit_file(path, out, "gaussian+constant", x0_from="median", starts=2)
    direct = lmbatch.fit(y.reshape(6, 8, M), "gaussian+constant", x=X, x0_from="median", starts=2)
    with h5py.File(out, "r") as f:
        assert f["x"][()].tobytes() == direct.x.tobytes()
        assert np.array_equal(f["start"][()], direct.start)
        assert f.attrs["x0_from"] == "median"


def test_bad_seeding_options_are_valueerrors(rng):
    y, _ = noisy_cube(rng, 4, 0.1)
    with pytest.raises(ValueError, match="starts"):
        lmbatch.fit(y, "gaussian+constant", starts=0)
    with pytest.raises(ValueError, match="x0_from"):
        lmbatch.fit(y, "gaussian+constant", x0_from="mode")
    with pytest.raises(ValueError, match="x0_from mean and x0"):
        lmbatch.fit(y, "gaussian+constant", x0_from="mean", x0=[1.0, 30.0, 3.0, 0.0])


def test_refine_neighbours_on_an_image(rng):
    """Two overlapping bands everywhere: the estimate often puts both gaussians on one;
    refinement from the neighbours finds the two (scipy from the truth says where)."""
    h, w, m = 12, 10, 96
    x = np.arange(m, dtype=float)
    a1 = rng.uniform(0.5, 1.5, (h, w))
    truth = np.stack([a1, 40 + rng.uniform(0, 1, (h, w)), np.full((h, w), 5.0),
                      a1 * rng.uniform(0.2, 1.0, (h, w)), 52 + rng.uniform(0, 1, (h, w)),
                      np.full((h, w), 6.0), np.full((h, w), 0.1)], axis=-1)

    def f(p, x):
        return (p[0] * np.exp(-(x - p[1]) ** 2 / (2 * p[2] ** 2))
                + p[3] * np.exp(-(x - p[4]) ** 2 / (2 * p[5] ** 2)) + p[6])

    y = np.stack([f(t, x) for t in truth.reshape(-1, 7)]).reshape(h, w, m)
    y += rng.normal(0, 0.08, y.shape)
    best = []
    for row, t in zip(y.reshape(-1, m), truth.reshape(-1, 7)):
        p, _ = scipy.optimize.leastsq(lambda p: row - f(p, x), t)
        best.append(np.sum((row - f(p, x)) ** 2))
    best = np.array(best).reshape(h, w)
    plain = lmbatch.fit(y, "gaussian*2+constant", x=x)
    refined = lmbatch.fit(y, "gaussian*2+constant", x=x, refine="neighbours", refine_passes=3)
    before = np.mean(plain.cost <= best * (1 + 1e-6))
    after = np.mean(refined.cost <= best * (1 + 1e-6))
    assert after > before
    assert not np.any(refined.cost > plain.cost)
    assert np.any(refined.start == 3) and np.all(np.isin(refined.start, [0, 3]))
    with pytest.raises(ValueError, match="refine neighbours"):
        lmbatch.fit(y.reshape(-1, m), "gaussian*2+constant", x=x, refine="neighbours")
