"""What fit_file shares with `lmbatch fit` through io's one file run (resume, parts, plugins,
the whole-output summary), and the names, rules and records that are declared once."""
import os

import h5py
import numpy as np
import pytest

import lmbatch

M = 48
X = np.linspace(-4.0, 4.0, M)
DATASETS = ("x", "cov_x", "cost", "stderr", "nfev", "njev", "ier", "m_valid")


def gaussians(rng, shape):
    a = rng.uniform(1, 4, shape)
    c = rng.uniform(-1, 1, shape)
    s = rng.uniform(0.6, 1.4, shape)
    return (a[..., None] * np.exp(-(X - c[..., None]) ** 2 / (2 * s[..., None] ** 2))
            + rng.normal(0, 0.05, shape + (M,)))


@pytest.fixture
def cube(tmp_path, rng):
    y = gaussians(rng, (20, 30))
    y[3, 4] = np.nan  # no data: ier -3, a first failure at (3, 4)
    path = tmp_path / "cube.h5"
    with h5py.File(path, "w") as f:
        f["y"] = y
        f["x"] = X
    return path


def results(path):
    with h5py.File(path, "r") as f:
        return {name: f[name][()] for name in DATASETS}, dict(f.attrs)


def assert_same(a, b):
    for name in DATASETS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def fit_cube(cube, out, **kw):
    return lmbatch.fit_file(cube, out, "gaussian", x="/x", threads=2, **kw)


def test_resume_finishes_an_interrupted_run_to_the_same_bits(cube, tmp_path, monkeypatch):
    whole = fit_cube(cube, tmp_path / "whole.h5")
    out = tmp_path / "out.h5"
    # A full disk after 3 chunks of 50 problems (the fault injection the command's tests use).
    monkeypatch.setenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER", "3")
    with pytest.raises(OSError, match="no space left on device"):
        fit_cube(cube, out, chunk_size=50)
    monkeypatch.delenv("LMBATCH_INJECT_WRITE_FAILURE_AFTER")
    assert os.path.exists(str(out) + ".journal") and not out.exists()
    summary = fit_cube(cube, out, chunk_size=50, resume=True)
    assert summary["recovered"] == 150 and summary["problems"] == 600
    assert summary["complete"]
    # The whole output's statuses, as an uninterrupted run reports them.
    assert summary["ier_counts"] == whole["ier_counts"]
    assert summary["first_failures"] == whole["first_failures"]
    assert_same(results(out)[0], results(tmp_path / "whole.h5")[0])
    assert not os.path.exists(str(out) + ".journal")
    # Nothing left to do: said, not redone.
    again = fit_cube(cube, out, chunk_size=50, resume=True)
    assert again["complete"] and again["problems"] == 0


def test_parts_tile_the_whole_run(cube, tmp_path):
    fit_cube(cube, tmp_path / "whole.h5")
    whole, _ = results(tmp_path / "whole.h5")
    for i in range(3):
        shard = tmp_path / f"part{i}.h5"
        fit_cube(cube, shard, part=f"{i}/3")
        data, attrs = results(shard)
        first, end = int(attrs["part_first"]), int(attrs["part_end"])
        assert attrs["part"] == f"{i}/3"
        for name in DATASETS:
            flat = data[name].reshape((600,) + data[name].shape[2:])
            ref = whole[name].reshape((600,) + whole[name].shape[2:])
            np.testing.assert_array_equal(flat[first:end], ref[first:end], err_msg=name)
        # The other parts' problems read as never written.
        assert (data["ier"].reshape(-1)[:first] == -4).all()
    with pytest.raises(ValueError, match="i must be in 0..2"):
        fit_cube(cube, tmp_path / "bad.h5", part="3/3")


def test_a_model_plugin_fits_from_python(tmp_path):
    plugin = os.environ["LMBATCH_EXAMPLE_PLUGIN"]
    x = np.linspace(-5, 5, 40)
    truth = np.array([[2.0, 0.5, 0.8], [1.0, -1.0, 1.5]])
    y = truth[:, :1] / (1 + np.exp(-(x - truth[:, 1:2]) / truth[:, 2:3]))
    path = tmp_path / "steps.h5"
    with h5py.File(path, "w") as f:
        f["y"] = y
        f["x"] = x
    out = tmp_path / "out.h5"
    summary = lmbatch.fit_file(path, out, model_plugins=[plugin], x="/x")
    assert summary["model"] == "logistic_step"
    data, attrs = results(out)
    np.testing.assert_allclose(data["x"], truth, rtol=1e-6)
    assert list(attrs["parameter_names"]) == ["height", "mid", "width"]


def test_first_failures_are_indices_into_the_leading_shape_in_fit_and_fit_file(cube, tmp_path):
    summary = fit_cube(cube, tmp_path / "out.h5")
    with h5py.File(cube, "r") as f:
        y = f["y"][()]
    r = lmbatch.fit(y, "gaussian", x=X, threads=2)
    assert (3, 4) in summary["first_failures"]
    assert summary["first_failures"] == r.first_failures


def test_records_are_typed_and_versioned(cube, tmp_path):
    fit_cube(cube, tmp_path / "out.h5", maxfev=300)
    _, attrs = results(tmp_path / "out.h5")
    for name in ("samples", "maxfev", "threads"):
        assert np.issubdtype(np.asarray(attrs[name]).dtype, np.integer), name
    assert attrs["maxfev"] == 300 and attrs["samples"] == M
    assert attrs["lmbatch_version"] == lmbatch.__version__
    assert lmbatch.__version__ == os.environ["LMBATCH_PROJECT_VERSION"]
    assert "ftol = 1.49012e-08" in attrs["ier_messages"]


def test_one_rule_for_threads_and_one_name_per_option(rng):
    y = gaussians(rng, (4,))
    with pytest.raises(ValueError, match=r"threads must be >= 1 \(or 0 for every core\)"):
        lmbatch.fit(y, "gaussian", x=X, threads=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'ftoll'.*ftol"):
        lmbatch.fit(y, "gaussian", x=X, ftoll=1e-6)
    r = lmbatch.fit(y, "gaussian", x=X, threads=0, ftol=1e-6)
    assert r.options["ftol"] == 1e-6 and r.options["jacobian"] == "analytic"
    assert r.options["threads"] == 0
    assert r.stderr.shape == (4, 3)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(r.std_error, r.stderr)
    assert "thread" in repr(r)


def test_an_array_for_a_dataset_path_is_a_short_clear_error(cube, tmp_path):
    big = np.zeros((1000, 1000))
    with pytest.raises(ValueError) as e:
        lmbatch.fit_file(cube, tmp_path / "out.h5", "gaussian", x=big)
    text = str(e.value)
    assert "x must be a dataset path" in text and "(1000, 1000)" in text
    assert len(text) < 200  # the array itself is not printed


def test_sigma_is_checked_only_where_the_sample_is_present_in_fit_and_fit_file(tmp_path, rng):
    y = gaussians(rng, (3,))
    sigma = np.full(y.shape, 0.05)
    y[1, 7] = np.nan
    y[2, 9] = np.inf
    sigma[1, 7] = 0.0  # at missing samples: never used
    sigma[2, 9] = np.nan
    r = lmbatch.fit(y, "gaussian", x=X, sigma=sigma)
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        f["y"], f["x"], f["sigma"] = y, X, sigma
    lmbatch.fit_file(path, tmp_path / "out.h5", "gaussian")
    data, _ = results(tmp_path / "out.h5")
    np.testing.assert_array_equal(data["x"], r.x)
    assert list(r.m_valid) == [M, M - 1, M - 1]
    sigma[0, 3] = 0.0  # at a present sample: an error in both
    with pytest.raises(ValueError, match="problem 0: sigma must be finite and > 0"):
        lmbatch.fit(y, "gaussian", x=X, sigma=sigma)
