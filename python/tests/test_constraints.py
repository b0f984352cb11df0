"""Fixed and tied parameters (and, with the core's bounds, bounded ones): lmbatch.fit and
fit_file against scipy.optimize.leastsq on the reduced model (issue #16).

A fixed parameter is the model with that parameter removed and its value written in; a tie
sigma_2 = sigma_1 is a model with one sigma. scipy fits those reduced models from the same start,
so its solution is an independent reference for the free parameters (to 1e-6)."""
import h5py
import numpy as np
import pytest
from scipy.optimize import leastsq

import lmbatch

X = np.linspace(0.0, 100.0, 120)
MODEL = "gaussian*2+constant"  # amplitude_1 center_1 sigma_1 amplitude_2 center_2 sigma_2 c
X0 = np.array([2.5, 29.0, 3.5, 1.8, 52.0, 3.5, 0.4])


def gauss(x, a, c, s):
    return a * np.exp(-(x - c) ** 2 / (2 * s ** 2))


@pytest.fixture
def spectra(rng):
    n = 6
    a1 = rng.uniform(2.5, 3.5, n)
    c1 = rng.uniform(28, 32, n)
    s = rng.uniform(3.5, 4.5, n)
    a2 = rng.uniform(1.5, 2.5, n)
    return np.array([gauss(X, a1[k], c1[k], s[k]) + gauss(X, a2[k], c1[k] + 21.3, s[k]) + 0.5
                     + rng.normal(0, 0.05, X.size) for k in range(n)])


def scipy_fit(residual, q0, y):
    q, cov, _info, _mesg, ier = leastsq(residual, q0, args=(y,), full_output=True)
    assert ier in (1, 2, 3, 4)
    dof = y.size - len(q)
    stderr = np.sqrt(np.diag(cov) * np.sum(residual(q, y) ** 2) / dof)
    return q, stderr


def test_tied_matches_scipy_on_the_reduced_model(spectra):
    r = lmbatch.fit(spectra, MODEL, x=X, x0=X0,
                    tied={"sigma_2": "sigma_1", "center_2": "center_1 + 21.3"})
    assert np.all(r.converged)
    assert r.pegged.dtype == np.int8
    assert (r.pegged == [0, 0, 0, 0, 2, 2, 0]).all()

    def residual(q, y):
        a1, c1, s1, a2, c = q
        return y - (gauss(X, a1, c1, s1) + gauss(X, a2, c1 + 21.3, s1) + c)

    for k, y in enumerate(spectra):
        q, stderr = scipy_fit(residual, X0[[0, 1, 2, 3, 6]], y)
        free = [0, 1, 2, 3, 6]
        np.testing.assert_allclose(r.x[k, free], q, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(r.stderr[k, free], stderr, rtol=1e-5)
        # The tied ones are computed exactly from the free ones.
        assert r.x[k, 5] == r.x[k, 2]
        assert r.x[k, 4] == r.x[k, 1] + 21.3
        assert np.isnan(r.stderr[k, [4, 5]]).all()
        assert np.isnan(r.cov_x[k, 4]).all() and np.isnan(r.cov_x[k, :, 5]).all()


def test_fixed_matches_scipy_on_the_reduced_model(spectra):
    r = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed="sigma=4,c")
    assert (r.pegged == [0, 0, 2, 0, 0, 2, 2]).all()
    assert (r.x[:, [2, 5]] == 4.0).all() and (r.x[:, 6] == X0[6]).all()

    def residual(q, y):
        a1, c1, a2, c2 = q
        return y - (gauss(X, a1, c1, 4.0) + gauss(X, a2, c2, 4.0) + X0[6])

    for k, y in enumerate(spectra):
        q, stderr = scipy_fit(residual, X0[[0, 1, 3, 4]], y)
        np.testing.assert_allclose(r.x[k, [0, 1, 3, 4]], q, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(r.stderr[k, [0, 1, 3, 4]], stderr, rtol=1e-5)
        assert np.isnan(r.stderr[k, [2, 5, 6]]).all()


def test_the_forms_of_fixed_agree(spectra):
    by_text = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed="c")
    by_list = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed=["c"])
    by_dict = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed={"c": None})
    mask = np.zeros(7, bool)
    mask[6] = True
    by_mask = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed=mask)
    per_problem = lmbatch.fit(spectra, MODEL, x=X, x0=X0,
                              fixed=np.tile(mask, (len(spectra), 1)))
    for other in (by_list, by_dict, by_mask, per_problem):
        assert np.array_equal(by_text.x, other.x)
        assert np.array_equal(by_text.pegged, other.pegged)
    assert (by_text.x[:, 6] == X0[6]).all()


def test_a_mask_per_problem_holds_only_its_problems(spectra):
    mask = np.zeros((len(spectra), 7))
    mask[0, 6] = 1  # problem 0 holds c
    r = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed=mask)
    free = lmbatch.fit(spectra, MODEL, x=X, x0=X0)
    assert r.x[0, 6] == X0[6] and r.pegged[0, 6] == 2
    assert (r.pegged[1:] == 0).all()
    # The other problems take the constrained path with nothing held: the same bits.
    assert np.array_equal(r.x[1:], free.x[1:])
    assert np.array_equal(r.cov_x[1:], free.cov_x[1:], equal_nan=True)


@pytest.mark.parametrize("loss", ["linear", "soft_l1", "poisson"])
@pytest.mark.parametrize("jacobian", ["analytic", "forward"])
def test_nothing_held_is_the_unconstrained_solve_bit_for_bit(spectra, loss, jacobian):
    y = np.abs(spectra) * 50 if loss == "poisson" else spectra
    a = lmbatch.fit(y, MODEL, x=X, x0=X0, loss=loss, jacobian=jacobian)
    b = lmbatch.fit(y, MODEL, x=X, x0=X0, loss=loss, jacobian=jacobian, fixed=np.zeros(7))
    for name in ("x", "cov_x", "stderr", "cost", "nfev", "njev", "ier"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


def test_fixed_with_the_poisson_loss_holds_and_has_its_covariance(spectra):
    y = np.abs(spectra) * 50
    r = lmbatch.fit(y, MODEL, x=X, x0=X0 * [50, 1, 1, 50, 1, 1, 50], loss="poisson",
                    fixed="c", tied="sigma_2=sigma_1")
    assert np.all(r.converged)
    assert (r.x[:, 6] == X0[6] * 50).all()
    assert np.isfinite(r.stderr[:, [0, 1, 2, 3, 4]]).all()
    assert np.isnan(r.stderr[:, [5, 6]]).all()


def test_no_constraints_gives_pegged_zero_and_the_same_bits(spectra):
    a = lmbatch.fit(spectra, MODEL, x=X, x0=X0)
    b = lmbatch.fit(spectra, MODEL, x=X, x0=X0, fixed="", tied="")
    assert (a.pegged == 0).all()
    assert np.array_equal(a.x, b.x) and np.array_equal(a.cov_x, b.cov_x, equal_nan=True)


@pytest.mark.parametrize("kwargs, words", [
    (dict(fixed="width"), "'width' is not a parameter"),
    (dict(tied={"sigma_2": "sigma_2 * 2"}), "sigma_2 = sigma_2 * 2 refers to itself"),
    (dict(tied={"sigma_2": "sigma_9"}), "'sigma_9' is not a parameter"),
    (dict(tied={"sigma_2": "sigma_1", "sigma_1": "c"}), "which is tied too"),
    (dict(fixed="sigma_2", tied={"sigma_2": "sigma_1"}), "sigma_2 is fixed and tied"),
    (dict(bounds="sigma=3:1"), "sigma_1: the lower bound 3 must be below the upper bound 1"),
    (dict(bounds="center_3=0:1"), "'center_3' is not a parameter"),
    (dict(fixed=np.zeros(6)), "fixed has shape (6,)"),
])
def test_bad_constraints_name_the_parameter(spectra, kwargs, words):
    with pytest.raises(ValueError, match=None) as e:
        lmbatch.fit(spectra, MODEL, x=X, x0=X0, **kwargs)
    assert words in str(e.value)


def test_ties_are_by_name_in_fit_and_fit_file(tmp_path, spectra):
    # An array is no tie: both entries refuse it in the same words, before any work.
    with pytest.raises(ValueError, match="tied must be a dict"):
        lmbatch.fit(spectra, MODEL, x=X, x0=X0, tied=np.zeros(7))
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["y"] = spectra
        f["x"] = X
        f["x0"] = X0
    out = tmp_path / "out.h5"
    with pytest.raises(ValueError, match="tied must be a dict"):
        lmbatch.fit_file(path, out, MODEL, tied=["sigma_2"])
    assert not out.exists()


def test_fit_file_with_fixed_and_tied_is_the_fit(tmp_path, spectra):
    path = tmp_path / "in.h5"
    mask = np.zeros((len(spectra), 7), np.int8)
    mask[:, 0] = 1
    with h5py.File(path, "w") as f:
        f["y"] = spectra
        f["x"] = X
        f["x0"] = X0
        f["mask"] = mask
    out = tmp_path / "out.h5"
    lmbatch.fit_file(path, out, MODEL, tied="sigma_2=sigma_1", fixed="/mask", threads=2)
    r = lmbatch.fit(spectra, MODEL, x=X, x0=X0, tied="sigma_2=sigma_1", fixed=mask, threads=1)
    with h5py.File(out) as f:
        assert np.array_equal(f["x"][:], r.x)
        assert np.array_equal(f["pegged"][:], r.pegged)
        assert f.attrs["tie"] == "sigma_2=sigma_1"
        assert f.attrs["fixed"] == "/mask"
    with pytest.raises(OSError, match="short.*shape"):
        with h5py.File(path, "a") as f:
            f["short"] = np.zeros(6)
        lmbatch.fit_file(path, tmp_path / "o2.h5", MODEL, fixed="/short")
